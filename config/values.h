// The value formats of the configuration (durations, hex secrets, MACs, hosts, the MQTT server URI,
// topic prefixes, device ids), apart from the YAML walk so that the CLI can check its own flags
// (`--token`, `--host`, `ble register MAC`) with the same rules and the same words.
//
// Error texts never contain the value: several of these are secrets (tokens, keys, bind keys), and
// messages end up in the journal.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/common/result.h"

namespace cloudless::config {

// "10s", "500ms", "2m", "1h", or a plain number of seconds ("0.5" = 500 ms); fractions are allowed
// with every unit and rounded to the millisecond. Negative values and anything above 30 days fail.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// Exactly `digits` hex digits, either case; returns them in lower case.
Result<std::string> parse_hex_secret(std::string_view text, std::size_t digits);

// AA:BB:CC:DD:EE:FF, either case; returns it in upper case (BlueZ's spelling).
Result<std::string> parse_mac(std::string_view text);

// Dotted quad, each part 0..255, without leading zeros (inet_aton would read "010" as octal 8).
bool is_ipv4_address(std::string_view text);
// RFC 1123 host name (labels of letters, digits, '-', and '_' which real LANs use). A name whose
// last label is numeric is not a host name: "192.168.1.300" is a broken address, not a name.
bool is_host_name(std::string_view text);

// The broker URI as Paho takes it: scheme://host[:port], host a name, IPv4 or [IPv6].
struct MqttServer {
  std::string scheme;                // mqtt, mqtts, tcp or ssl
  std::string host;                  // without brackets
  std::optional<std::uint16_t> port; // absent: Paho's default for the scheme
  bool tls = false;                  // mqtts:// or ssl://
};
Result<MqttServer> parse_mqtt_server(std::string_view uri);

// What is wrong with `topic` as a prefix we publish under (base_topic, discovery_prefix), or an empty
// string when nothing is. Emptiness itself is the caller's rule: discovery_prefix may be empty.
std::string topic_prefix_problem(std::string_view topic);

// Device ids appear in topics and file names in state_dir: [a-z0-9_-]+.
bool is_device_id(std::string_view id);
// A device id the daemon keeps for itself: "bridge" names <base_topic>/bridge/... and the bridge's
// own Home Assistant device.
inline constexpr std::string_view kReservedDeviceId = "bridge";

// miIO model names: vendor.kind.name ("chuangmi.plug.v3"), lower case, three or more parts.
bool is_miio_model(std::string_view model);

}  // namespace cloudless::config
