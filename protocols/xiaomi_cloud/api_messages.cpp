#include "protocols/xiaomi_cloud/api_messages.h"

#include <cctype>

#include "protocols/common/json_limits.h"
#include "protocols/xiaomi_cloud/reply_json.h"

namespace cloudless::xiaomi_cloud {

namespace {

bool is_decimal(std::string_view text) {
  if (text.empty() || text.size() > 20) return false;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

const nlohmann::json* array_member(const nlohmann::json& object, std::string_view name) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

}  // namespace

// The data texts are the Mi Home app's own (member order included): the cloud signs the text, not
// the JSON value, so they are written out rather than dumped from a json object.
std::string gethome_data() {
  return R"({"fg":true,"fetch_share":true,"fetch_share_dev":true,"limit":300,"app_ver":7})";
}

std::string device_count_data() { return R"({"fetch_own":true,"fetch_share":true})"; }

std::string home_device_list_data(std::string_view owner, std::string_view home_id) {
  // Callers pass ids parse_homes/parse_shared_homes checked; anything else would break the JSON.
  const std::string safe_owner = is_decimal(owner) ? std::string(owner) : "0";
  const std::string safe_home = is_decimal(home_id) ? std::string(home_id) : "0";
  return R"({"home_owner":)" + safe_owner + R"(,"home_id":)" + safe_home +
         R"(,"limit":200,"get_split_device":true,"support_smart_home":true})";
}

std::string beaconkey_data(std::string_view did) {
  return nlohmann::json{{"did", std::string(did)}, {"pdid", 1}}.dump();
}

bool has_beaconkey(std::string_view did) { return did.find("blt") != std::string_view::npos; }

Result<nlohmann::json> parse_api_reply(std::string_view json_text) {
  Result<nlohmann::json> json = parse_untrusted_json(json_text);
  if (!json || !json->is_object()) {
    return parse_error("the API reply is not a JSON object (wrong key or not an API answer)");
  }
  const std::optional<std::string> code = text_member(*json, "code");
  if (!code) return parse_error("the API reply has no \"code\"");
  if (*code != "0") return parse_error("the cloud refused the call" + describe_code(*json));
  const auto result = json->find("result");
  if (result == json->end()) return parse_error("the API reply has no \"result\"");
  return nlohmann::json(std::move(*result));
}

Result<std::vector<Home>> parse_homes(const nlohmann::json& result, std::string_view user_id) {
  std::vector<Home> homes;
  const nlohmann::json* list = array_member(result, "homelist");
  if (list == nullptr || list->is_null()) return homes;
  if (!list->is_array()) return parse_error("gethome: \"homelist\" is not a list");
  for (const nlohmann::json& entry : *list) {
    const std::optional<std::string> id = id_member(entry, "id");
    if (!id) return parse_error("gethome: a home without a numeric \"id\"");
    Home home{*id, std::string(user_id), text_member(entry, "name").value_or(""), false};
    if (const std::optional<std::string> owner = id_member(entry, "uid")) home.owner = *owner;
    homes.push_back(std::move(home));
  }
  return homes;
}

Result<std::vector<Home>> parse_shared_homes(const nlohmann::json& result) {
  std::vector<Home> homes;
  const nlohmann::json* share = array_member(result, "share");
  if (share == nullptr || share->is_null()) return homes;
  const nlohmann::json* families = array_member(*share, "share_family");
  if (families == nullptr || families->is_null()) return homes;
  if (!families->is_array()) return parse_error("get_device_cnt: \"share_family\" is not a list");
  for (const nlohmann::json& entry : *families) {
    const std::optional<std::string> id = id_member(entry, "home_id");
    const std::optional<std::string> owner = id_member(entry, "home_owner");
    if (!id || !owner) return parse_error("get_device_cnt: a shared home without numeric home_id/home_owner");
    homes.push_back(Home{*id, *owner, text_member(entry, "home_name").value_or(""), true});
  }
  return homes;
}

Result<std::vector<CloudDevice>> parse_device_list(const nlohmann::json& result) {
  std::vector<CloudDevice> devices;
  const nlohmann::json* list = array_member(result, "device_info");
  if (list == nullptr || list->is_null()) return devices;
  if (!list->is_array()) return parse_error("home_device_list: \"device_info\" is not a list");
  for (const nlohmann::json& entry : *list) {
    if (!entry.is_object()) return parse_error("home_device_list: a device entry is not an object");
    CloudDevice device;
    device.did = text_member(entry, "did").value_or("");
    if (device.did.empty()) continue;  // nothing to key it by; the app hides such rows too
    device.name = text_member(entry, "name").value_or("");
    device.model = text_member(entry, "model").value_or("");
    device.mac = text_member(entry, "mac").value_or("");
    device.ip = text_member(entry, "localip").value_or("");
    device.token = text_member(entry, "token").value_or("");
    devices.push_back(std::move(device));
  }
  return devices;
}

Result<std::string> parse_beaconkey(const nlohmann::json& result) {
  std::string key = text_member(result, "beaconkey").value_or("");
  if (key.size() != 32 && key.size() != 24) return parse_error("blt_get_beaconkey: no 24- or 32-digit \"beaconkey\"");
  for (char& c : key) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return parse_error("blt_get_beaconkey: \"beaconkey\" is not hex");
    }
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return key;
}

}  // namespace cloudless::xiaomi_cloud
