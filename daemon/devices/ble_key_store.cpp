#include "daemon/devices/ble_key_store.h"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "daemon/devices/state_store.h"

namespace cloudless {

namespace {

std::string compact_mac(const std::string& mac) {
  std::string out;
  for (char c : mac)
    if (std::isxdigit(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A hex field of an allowed size, or an error sentence.
std::optional<Bytes> hex_field(const nlohmann::json& object, const char* key, std::initializer_list<std::size_t> sizes,
                               std::string& error) {
  if (!object.contains(key)) return std::nullopt;
  const nlohmann::json& value = object[key];
  if (!value.is_string()) {
    error = std::string(key) + " is not a string";
    return std::nullopt;
  }
  std::optional<Bytes> bytes = from_hex(value.get<std::string>());
  bool size_ok = false;
  if (bytes)
    for (std::size_t size : sizes) size_ok = size_ok || bytes->size() == size;
  if (!size_ok) {
    error = std::string(key) + " is not hex of the expected length";
    return std::nullopt;
  }
  return bytes;
}

std::string string_field(const nlohmann::json& object, const char* key, std::string fallback = {}) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

}  // namespace

std::string ble_key_file(const std::string& state_dir, const std::string& mac) {
  return state_dir + "/ble_" + compact_mac(mac) + ".json";
}

LoadedBleKeys load_ble_keys(const std::string& state_dir, const std::string& mac) {
  LoadedBleKeys loaded;
  const std::string path = ble_key_file(state_dir, mac);
  const StateFileText file = read_state_file(path);
  switch (file.status) {
    case StateFileText::Status::missing: return loaded;  // never registered: not an error
    case StateFileText::Status::set_aside:
      loaded.error = path + ": " + file.problem + "; moved aside to " + file.moved_to;
      return loaded;
    case StateFileText::Status::unreadable:
      loaded.error = path + ": " + file.problem;
      return loaded;
    case StateFileText::Status::ok: break;
  }
  nlohmann::json object = nlohmann::json::parse(file.text, nullptr, false);
  if (!object.is_object()) {
    loaded.error = path + " is not a JSON object";
    if (auto moved = set_state_file_aside(path)) loaded.error += "; moved aside to " + *moved;
    return loaded;
  }
  StoredBleKeys keys;
  std::string error;
  keys.mac = string_field(object, "mac", mac);
  keys.auth = string_field(object, "auth");
  keys.token = hex_field(object, "token", {12}, error);
  keys.bindkey = hex_field(object, "bindkey", {12, 16}, error);
  keys.did = string_field(object, "did");
  if (object.contains("product_id") && object["product_id"].is_number_integer())
    keys.product_id = object["product_id"].get<int>();
  keys.registered = string_field(object, "registered");
  if (!error.empty()) {
    loaded.error = path + ": " + error;
    return loaded;
  }
  loaded.keys = std::move(keys);
  return loaded;
}

std::string save_ble_keys(const std::string& state_dir, const StoredBleKeys& keys) {
  if (std::string problem = ensure_state_dir(state_dir); !problem.empty()) return problem;
  nlohmann::json object = {{"mac", keys.mac}, {"auth", keys.auth}};
  if (keys.token) object["token"] = to_hex(*keys.token);
  if (keys.bindkey) object["bindkey"] = to_hex(*keys.bindkey);
  if (!keys.did.empty()) object["did"] = keys.did;
  if (keys.product_id) object["product_id"] = *keys.product_id;
  if (!keys.registered.empty()) object["registered"] = keys.registered;
  // write_file_atomically creates the file 0600: it holds the device's secrets.
  return write_file_atomically(ble_key_file(state_dir, keys.mac), object.dump(2) + "\n");
}

}  // namespace cloudless
