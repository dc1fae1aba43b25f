// The four Mi Home API calls `cloudless keys xiaomi` makes (docs/xiaomi_cloud.md §4): the JSON `data`
// each sends and what its decrypted reply holds. Pure: no I/O, no crypto (rc4mi.h does that).
//
//   /v2/homeroom/gethome         the user's own homes
//   /v2/user/get_device_cnt      homes other users share with this one (share.share_family)
//   /v2/home/home_device_list    the devices of one home: did, name, model, mac, localip, token
//   /v2/device/blt_get_beaconkey the bind key of one BLE device (did "blt.…")
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "protocols/common/result.h"

namespace cloudless::xiaomi_cloud {

inline constexpr std::string_view kGetHomePath = "/v2/homeroom/gethome";
inline constexpr std::string_view kDeviceCountPath = "/v2/user/get_device_cnt";
inline constexpr std::string_view kHomeDeviceListPath = "/v2/home/home_device_list";
inline constexpr std::string_view kBeaconKeyPath = "/v2/device/blt_get_beaconkey";

struct Home {
  std::string id;     // decimal
  std::string owner;  // the owner's user id, decimal
  std::string name;   // may be empty (shared homes have none in the reply)
  bool shared = false;
};

// One row of home_device_list. Secrets (token) are never logged.
struct CloudDevice {
  std::string did;    // "123456789", "blt.3.abc…"
  std::string name;
  std::string model;  // "chuangmi.plug.v3"
  std::string mac;    // as the cloud has it, usually "AA:BB:CC:DD:EE:FF"
  std::string ip;     // "localip", may be empty
  std::string token;  // 32 hex digits, empty for most BLE devices
};

std::string gethome_data();
std::string device_count_data();
// Ids are decimal digit strings (home_device_list wants them as JSON numbers).
std::string home_device_list_data(std::string_view owner, std::string_view home_id);
std::string beaconkey_data(std::string_view did);
// Only BLE devices have a bind key; the cloud names them "blt.<n>.<id>".
bool has_beaconkey(std::string_view did);

// A decrypted reply → its "result" member. Errors: not a JSON object, `code` other than 0 (the
// message quotes the server's code and words), or no "result".
Result<nlohmann::json> parse_api_reply(std::string_view json_text);

// result.homelist[] of gethome: owned by `user_id`.
Result<std::vector<Home>> parse_homes(const nlohmann::json& result, std::string_view user_id);
// result.share.share_family[] of get_device_cnt (absent: none shared).
Result<std::vector<Home>> parse_shared_homes(const nlohmann::json& result);
// result.device_info[] of home_device_list (null or absent: an empty home). Rows without a did are skipped.
Result<std::vector<CloudDevice>> parse_device_list(const nlohmann::json& result);
// result.beaconkey: 24 or 32 hex digits, returned in lower case.
Result<std::string> parse_beaconkey(const nlohmann::json& result);

}  // namespace cloudless::xiaomi_cloud
