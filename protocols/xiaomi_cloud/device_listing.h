// Every device of every home (own and shared) in each requested region, with BLE bind keys
// (docs/xiaomi_cloud.md §4). One region failing is reported in its outcome, not fatal: the caller
// decides (the CLI fails only when every region failed).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "protocols/https/https_client.h"
#include "protocols/xiaomi_cloud/api_messages.h"
#include "protocols/xiaomi_cloud/qr_login.h"

namespace cloudless::xiaomi_cloud {

struct ListedDevice {
  CloudDevice device;
  std::string bindkey;  // lower-case hex, empty when not a BLE device or the cloud had none
  Home home;
  std::string region;
};

struct RegionOutcome {
  std::string region;
  std::string error;                  // empty: the region answered
  std::vector<ListedDevice> devices;
  std::vector<std::string> warnings;  // e.g. a bind key the cloud would not give; the rest stands
};

struct ListingOptions {
  std::vector<std::string> regions;  // regions.h names
  std::string api_base_template;     // empty: the real servers (regions.h); else expand_api_base()
};

// Called before each region is asked, for a progress line.
using RegionStarted = std::function<void(const std::string& region)>;

std::vector<RegionOutcome> list_devices(const https::Client& client, const CloudSession& session,
                                        const ListingOptions& options, const RegionStarted& on_region = {});

}  // namespace cloudless::xiaomi_cloud
