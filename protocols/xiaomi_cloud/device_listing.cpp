#include "protocols/xiaomi_cloud/device_listing.h"

#include "protocols/xiaomi_cloud/api_client.h"
#include "protocols/xiaomi_cloud/regions.h"

namespace cloudless::xiaomi_cloud {

namespace {

// Own homes (gethome), then homes shared with the user (get_device_cnt), without repeats: gethome
// with fetch_share may list a shared home too.
Result<std::vector<Home>> all_homes(const ApiClient& api, const std::string& user_id) {
  Result<nlohmann::json> own_reply = api.call(kGetHomePath, gethome_data());
  if (!own_reply) return own_reply.error();
  Result<std::vector<Home>> homes = parse_homes(*own_reply, user_id);
  if (!homes) return homes.error();
  Result<nlohmann::json> count_reply = api.call(kDeviceCountPath, device_count_data());
  if (!count_reply) return count_reply.error();
  Result<std::vector<Home>> shared = parse_shared_homes(*count_reply);
  if (!shared) return shared.error();
  for (Home& home : *shared) {
    bool known = false;
    for (const Home& seen : *homes) known = known || (seen.id == home.id && seen.owner == home.owner);
    if (!known) homes->push_back(std::move(home));
  }
  return homes;
}

RegionOutcome list_region(const https::Client& client, const CloudSession& session, const std::string& region,
                          const std::string& app_base) {
  RegionOutcome outcome;
  outcome.region = region;
  const ApiClient api(client, session, app_base);
  Result<std::vector<Home>> homes = all_homes(api, session.user_id);
  if (!homes) {
    outcome.error = homes.error().what;
    return outcome;
  }
  for (const Home& home : *homes) {
    Result<nlohmann::json> reply = api.call(kHomeDeviceListPath, home_device_list_data(home.owner, home.id));
    if (!reply) {
      outcome.error = reply.error().what;
      return outcome;
    }
    Result<std::vector<CloudDevice>> devices = parse_device_list(*reply);
    if (!devices) {
      outcome.error = devices.error().what;
      return outcome;
    }
    for (CloudDevice& device : *devices) {
      ListedDevice listed{std::move(device), {}, home, region};
      if (has_beaconkey(listed.device.did)) {
        Result<nlohmann::json> key_reply = api.call(kBeaconKeyPath, beaconkey_data(listed.device.did));
        Result<std::string> key = key_reply ? parse_beaconkey(*key_reply) : Result<std::string>(key_reply.error());
        if (key) {
          listed.bindkey = std::move(*key);
        } else {
          outcome.warnings.push_back("no bind key for " + listed.device.did + ": " + key.error().what);
        }
      }
      outcome.devices.push_back(std::move(listed));
    }
  }
  return outcome;
}

}  // namespace

std::vector<RegionOutcome> list_devices(const https::Client& client, const CloudSession& session,
                                        const ListingOptions& options, const RegionStarted& on_region) {
  std::vector<RegionOutcome> outcomes;
  for (const std::string& region : options.regions) {
    if (on_region) on_region(region);
    const std::string base = options.api_base_template.empty() ? region_api_base(region)
                                                               : expand_api_base(options.api_base_template, region);
    outcomes.push_back(list_region(client, session, region, base));
  }
  return outcomes;
}

}  // namespace cloudless::xiaomi_cloud
