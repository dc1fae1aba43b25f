// libFuzzer target for the configuration loader: config::load_text on arbitrary bytes.
//
// A config file is written by hand (and sometimes by a broken script), and `check-config` must
// answer with a list of problems, never a crash. Invariants checked on every input:
//   1. load_text returns: it never throws, crashes, hangs or runs out of memory (ASan/UBSan and
//      libFuzzer's -rss_limit_mb/-timeout watch the rest);
//   2. the result holds either a config or at least one error, never both and never neither;
//   3. every error is one line that starts with the name given ("fuzz.yaml:<line>:" or, for
//      whole-file problems, "fuzz.yaml: "), with a line number from 1;
//   4. a config that loads keeps the promises of config.h: device ids match [a-z0-9_-]+, hex
//      secrets are lower case and of their lengths, MACs upper case, ports non-zero, MIoT ids in
//      1..255, and a xiaomi_ble device always comes with a ble section.
// The checks abort() (not assert()) so that they also hold in the RelWithDebInfo (NDEBUG) build.
//
// Run: fuzz_config -max_total_time=20 -rss_limit_mb=2048 tests/fuzz/corpus/config
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/config.h"
#include "config/values.h"

namespace {

using namespace cloudless::config;

void require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz_config invariant broken: %s\n", what);
  std::abort();
}

bool is_lower_hex(std::string_view text, std::size_t length) {
  if (text.size() != length) return false;
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void check_error(const std::string& error) {
  static constexpr std::string_view kName = "fuzz.yaml";
  require(error.rfind(kName, 0) == 0, "error does not start with the name");
  require(error.find('\n') == std::string::npos, "error spans lines");
  const std::string_view rest = std::string_view(error).substr(kName.size());
  if (rest.rfind(": ", 0) == 0) return;  // whole-file problem, e.g. too large
  require(rest.size() > 1 && rest[0] == ':' && rest[1] >= '1' && rest[1] <= '9',
          "error has no line number from 1");
}

void check_config(const Config& config) {
  bool has_ble_device = false;
  for (const DeviceConfig& device : config.devices) {
    require(is_device_id(device.id), "device id outside [a-z0-9_-]+");
    require(device.line >= 1, "device without a line");
    if (const auto* miio = std::get_if<MiioDeviceConfig>(&device.settings)) {
      require(is_lower_hex(miio->token_hex, 32), "miio token not 32 lower-case hex");
      require(miio->port != 0, "miio port 0");
      require(!miio->host.empty(), "miio without host");
      require(miio->poll_interval.count() >= 1000, "miio poll_interval below 1s");
      require(!miio->retries || (*miio->retries >= 0 && *miio->retries <= 10), "miio retries out of range");
      if (miio->miot) {
        for (const auto* property : {&miio->miot->switch_, &miio->miot->power, &miio->miot->energy,
                                     &miio->miot->voltage, &miio->miot->current,
                                     &miio->miot->temperature}) {
          if (!*property) continue;
          require((*property)->siid >= 1 && (*property)->siid <= 255, "siid out of range");
          require((*property)->piid >= 1 && (*property)->piid <= 255, "piid out of range");
          require((*property)->scale != 0, "scale 0");
        }
      }
    } else if (const auto* midea = std::get_if<MideaDeviceConfig>(&device.settings)) {
      require(midea->appliance_id != 0, "midea id 0");
      require(midea->token_hex.empty() == midea->key_hex.empty(), "midea token without key");
      require(midea->token_hex.empty() || is_lower_hex(midea->token_hex, 128), "midea token");
      require(midea->key_hex.empty() || is_lower_hex(midea->key_hex, 64), "midea key");
    } else if (const auto* ble = std::get_if<BleDeviceConfig>(&device.settings)) {
      has_ble_device = true;
      const auto mac = parse_mac(ble->mac);
      require(mac.has_value() && mac.value() == ble->mac, "MAC not upper case AA:BB:...");
      require(ble->bindkey_hex.empty() || is_lower_hex(ble->bindkey_hex, 32) ||
                  is_lower_hex(ble->bindkey_hex, 24),
              "bindkey");
      require(ble->token_hex.empty() || is_lower_hex(ble->token_hex, 24), "BLE token");
    }
  }
  require(!has_ble_device || config.ble.has_value(), "BLE device without ble section");
  require(!config.mqtt.base_topic.empty(), "empty base_topic");
  require(topic_prefix_problem(config.mqtt.base_topic).empty(), "bad base_topic");
  require(topic_prefix_problem(config.mqtt.discovery_prefix).empty(), "bad discovery_prefix");
  require(parse_mqtt_server(config.mqtt.server).has_value(), "bad server");
  require(!config.mqtt.client_id.empty(), "empty client_id");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The loader falls back to $CREDENTIALS_DIRECTORY/mqtt_password; keep runs independent of it.
  ::unsetenv("CREDENTIALS_DIRECTORY");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  LoadResult result;
  try {
    result = load_text(text, "fuzz.yaml");
  } catch (...) {
    require(false, "load_text threw");
  }
  require(result.config.has_value() != !result.errors.empty(),
          "config and errors are not exclusive (both or neither)");
  for (const std::string& error : result.errors) check_error(error);
  if (result.config) check_config(*result.config);
  return 0;
}
