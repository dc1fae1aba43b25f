// What `cloudless keys xiaomi` and `cloudless keys backup` found, printed the same way: a table for
// the eye, a `devices:` block ready to paste into config.yaml (--yaml), and a file only when asked
// (--output, mode 0600: it holds secrets).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cloudless::cli {

struct FoundDevice {
  std::string name;     // as named in Mi Home, e.g. "Desk plug"
  std::string model;    // "chuangmi.plug.v3", "lumi.sensor_ht.v1", "yunmi.kettle.v2", …
  std::string ip;       // LAN address the cloud/backup knows, may be empty
  std::string mac;      // upper case "AA:BB:CC:DD:EE:FF", may be empty
  std::string did;      // cloud device id ("123456789", "blt.3.abc…"), may be empty
  std::string token;    // 32 lower-case hex digits, or empty
  std::string bindkey;  // BLE bind key, 32 (or 24 legacy) lower-case hex digits, or empty
  std::string home;     // the home (or "shared by <owner>") it belongs to; empty when unknown
  std::string region;   // cloud region it was found in ("de"), empty for backups
  std::optional<std::uint16_t> product_id;  // BLE product id when known (kettle: 131 or 275)
};

// A fixed-width table: name, model, ip, mac, token, bind key (and region/home when any row has
// one). "(none)" when `devices` is empty.
std::string devices_table(const std::vector<FoundDevice>& devices);

// A `devices:` block for config.yaml with an entry for every device cloudless supports (miIO plugs
// with their token, BLE sensors with their bind key, the kettle with its product id), keyed by a
// name made from the Mi Home name (lower case, [a-z0-9_], unique). Devices it does not support are
// listed as comments at the end, so nothing found is silently dropped.
std::string devices_yaml(const std::vector<FoundDevice>& devices);

// Writes `text` to `path` with mode 0600, never following a link and never leaving a half-written
// file. Returns an error sentence, empty on success.
std::string write_secret_file(const std::string& path, const std::string& text);

}  // namespace cloudless::cli
