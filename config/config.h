// The user's configuration (docs/contract.md "The configuration"), loaded from YAML into plain structs and
// validated in full at load time: every problem is reported as "file:line: key: what is wrong",
// unknown keys are errors, and secrets (*_file) are read here so that nothing fails at first packet.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "protocols/midea/ac_group_data.h"

namespace cloudless::config {

enum class OutputMode { json, attribute, both };

struct MqttConfig {
  std::string server = "mqtt://127.0.0.1:1883";  // mqtt://, mqtts://, tcp:// or ssl://
  std::string user;                               // empty: anonymous
  std::string password;                           // from password_file or $CREDENTIALS_DIRECTORY/mqtt_password
  std::string client_id;                          // default cloudless_<hostname>
  std::string base_topic = "cloudless";
  std::string discovery_prefix = "homeassistant"; // empty: no Home Assistant discovery
  OutputMode output = OutputMode::json;
  std::string ca_file;                            // TLS: CA bundle (mqtts://)
  std::string cert_file;                          // TLS: client certificate
  std::string key_file;                           // TLS: client key
  bool insecure = false;                          // TLS: skip host name verification
  std::chrono::seconds keepalive{30};
  int state_qos = 0;                              // states and per-attribute values: 0 or 1

  bool operator==(const MqttConfig&) const = default;
};

// A miIO property read/written with MIoT get_properties/set_properties.
struct MiotProperty {
  int siid = 0;
  int piid = 0;
  double scale = 1.0;  // reading × scale = value in the entity's unit (power W, energy kWh)

  bool operator==(const MiotProperty&) const = default;
};

// The escape hatch: an unknown MIoT plug bridged from YAML alone.
struct MiotMapping {
  std::optional<MiotProperty> switch_;
  std::optional<MiotProperty> power;
  std::optional<MiotProperty> energy;
  std::optional<MiotProperty> voltage;
  std::optional<MiotProperty> current;
  std::optional<MiotProperty> temperature;

  bool operator==(const MiotMapping&) const = default;
};

struct MiioDeviceConfig {
  std::string host;
  std::uint16_t port = 54321;
  std::string token_hex;  // 32 hex digits (from token or token_file)
  std::string model;      // empty: asked with miIO.info
  std::chrono::milliseconds poll_interval{10000};
  // Per attempt, and extra attempts per call. Unset: derived from poll_interval by the device kind,
  // so that a plug that stopped answering shows offline within about three poll intervals.
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<int> retries;
  std::optional<MiotMapping> miot;  // overrides/complements the model table

  bool operator==(const MiioDeviceConfig&) const = default;
};

struct MideaDeviceConfig {
  std::string host;
  std::uint16_t port = 6444;
  std::uint64_t appliance_id = 0;
  std::string token_hex;  // V3: 128 hex digits
  std::string key_hex;    // V3: 64 hex digits
  std::chrono::milliseconds poll_interval{30000};
  std::chrono::milliseconds timeout{2000};  // per attempt: connect + handshake, or one reply
  // How the unit writes power and energy in group-4 replies; nothing on the wire says which
  // (docs/midea.md §4.8), so the user picks it when the readings look wrong.
  midea::EnergyFormat energy_format = midea::EnergyFormat::bcd;
  // The target temperature step offered to Home Assistant and applied to commands: 0.5 or 1 °C.
  // The set command and the state carry half degrees (body byte 2, bit 4; docs/midea.md §4.3,
  // §4.4), hence the default. Nothing the unit reports decides it: the "decimals" byte of
  // capability 0x0225 is used by no peer (msmart-ng decodes it and never reads it; midea-ac-py and
  // midea_ac_lan leave the step to a user option).
  double temp_step = 0.5;

  bool operator==(const MideaDeviceConfig&) const = default;
};

struct BleDeviceConfig {
  std::string mac;          // AA:BB:CC:DD:EE:FF, upper case
  std::string bindkey_hex;  // 32 hex digits (24 for legacy v2/v3 beacons), empty: unencrypted
  std::optional<int> product_id;
  std::string token_hex;    // Mi auth token (24 hex digits), optional

  bool operator==(const BleDeviceConfig&) const = default;
};

// One alternative per protocol (config/device_sections.h reads each).
using DeviceSettings = std::variant<MiioDeviceConfig, MideaDeviceConfig, BleDeviceConfig>;

struct DeviceConfig {
  std::string id;        // [a-z0-9_-]+, used in topics
  std::string protocol;  // "miio", "midea", "xiaomi_ble"
  int line = 0;          // where it was declared, for later messages
  DeviceSettings settings;

  bool operator==(const DeviceConfig&) const = default;
};

struct BleConfig {
  std::string adapter = "hci0";
  std::chrono::seconds scan_watchdog{300};

  bool operator==(const BleConfig&) const = default;
};

struct Config {
  std::string source;  // file path it came from
  MqttConfig mqtt;
  std::string state_dir = "/var/lib/cloudless";
  std::string log_level = "info";  // trace, debug, info, warning, error
  std::vector<DeviceConfig> devices;  // in file order
  std::optional<BleConfig> ble;
};

struct LoadResult {
  std::optional<Config> config;      // set only when errors is empty
  std::vector<std::string> errors;   // "config.yaml:12: devices.desk_plug.token: expected 32 hex digits"
};

// Reads and validates the file. Never throws. `environment` lookups (CREDENTIALS_DIRECTORY) use getenv.
LoadResult load_file(const std::string& path);
// Same, from text (tests and fuzzing); `name` is used in messages in place of the file path.
LoadResult load_text(const std::string& text, const std::string& name);

// Default client id: cloudless_<hostname>, with characters MQTT brokers dislike replaced.
std::string default_client_id();

}  // namespace cloudless::config
