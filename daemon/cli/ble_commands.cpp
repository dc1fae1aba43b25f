// `cloudless ble scan` and `cloudless ble bindkey` (docs/contract.md "The binary", issue #5).
//
// scan: BlueZ adverts (ble_scan_source.h) → MiBeacon decode (protocols/xiaomi_ble) → one table row
//   per Xiaomi advertiser once the time is up. Unconfigured sensors are never published by the
//   daemon (entity spam is a top complaint upstream), so this table is how users find their MACs,
//   learn which sensors need a bind key, and check a key before putting the daemon to work.
// bindkey: the offline decryption of a captured Mi Home bind request (bindkey_capture.h), printed
//   with the device it belongs to and a YAML snippet ready to paste.
//
// Both read the configuration only for the BLE adapter and the configured MACs/bind keys. The
// default file may be absent or unreadable (a fresh install, a user not in the cloudless group):
// then the commands work without it and say so; a file named with --config must load.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "daemon/cli/ble_scan_source.h"
#include "daemon/cli/ble_settings.h"
#include "daemon/cli/commands.h"
#include "protocols/common/bytes.h"
#include "protocols/common/crypto.h"
#include "protocols/xiaomi_ble/codec/bindkey_capture.h"
#include "protocols/xiaomi_ble/codec/mibeacon.h"
#include "protocols/xiaomi_ble/codec/mibeacon_objects.h"
#include "protocols/xiaomi_ble/codec/products.h"

namespace cloudless::cli {

namespace ble = cloudless::xiaomi_ble;

namespace {

constexpr const char* kDefaultAdapter = "hci0";

// ------------------------------------------------------------------------------------------------
// value formatting

// Two decimals at most, trailing zeros dropped: 46.7, 22.6, 23.8 (a float32 23.7999…), 100.
std::string format_number(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.2f", value);
  std::string out = text;
  if (out.find('.') != std::string::npos) {
    while (!out.empty() && out.back() == '0') out.pop_back();
    if (!out.empty() && out.back() == '.') out.pop_back();
  }
  if (out == "-0") out = "0";
  return out;
}

std::string format_button(const ble::ButtonEvent& event) {
  std::string text = std::string(ble::press_kind_name(event.press)) + " #" + std::to_string(event.button);
  if (event.value != 0) text += " (" + std::to_string(event.value) + ")";
  return text;
}

std::string format_reading(const ble::Reading& reading) {
  const ble::QuantityInfo& info = ble::quantity_info(reading.quantity);
  switch (info.kind) {
    case ble::ValueKind::number:
      return std::string(info.name) + "=" + format_number(reading.value) + std::string(info.unit);
    case ble::ValueKind::binary:
      return std::string(info.name) + "=" + (reading.value != 0 ? "yes" : "no");
    case ble::ValueKind::event:
      if (reading.quantity == ble::Quantity::button) return "button=" + format_button(reading.button);
      return std::string(info.name);
  }
  return std::string(info.name);
}

nlohmann::json reading_json(const ble::Reading& reading) {
  const ble::QuantityInfo& info = ble::quantity_info(reading.quantity);
  switch (info.kind) {
    case ble::ValueKind::number:
      return reading.value;
    case ble::ValueKind::binary:
      return reading.value != 0;
    case ble::ValueKind::event:
      if (reading.quantity == ble::Quantity::button) {
        return {{"button", reading.button.button},
                {"press", ble::press_kind_name(reading.button.press)},
                {"value", reading.button.value}};
      }
      return true;
  }
  return nullptr;
}

// ------------------------------------------------------------------------------------------------
// scan: what we learned about one advertiser

struct Advertiser {
  std::string mac;
  std::optional<std::string> name;
  std::optional<std::int16_t> rssi;
  std::uint64_t adverts = 0;  // fresh adverts (InterfacesAdded / PropertiesChanged)
  std::uint64_t cached = 0;   // BlueZ' cached values read at start
  std::uint64_t not_mibeacon = 0;
  std::optional<std::uint16_t> product_id;
  std::optional<std::uint8_t> version;  // MiBeacon version of the last parsed frame
  // The scheme of the frames that carried objects; unset while only presence beacons came.
  std::optional<ble::Encryption> encryption;
  bool decrypted = false;  // at least one frame decrypted with the configured key
  std::map<ble::Quantity, ble::Reading> values;  // last reading per quantity (enum order)
  std::map<std::uint16_t, Bytes> raw;            // objects not turned into readings
  std::string problem;                           // the last reason a frame gave nothing
  const ConfiguredBle* configured = nullptr;
};

class ScanTable {
 public:
  explicit ScanTable(const BleSettings& settings) : settings_(settings) {}

  void add(const HeardAdvert& heard) {
    Advertiser& entry = entry_for(heard.mac);
    if (heard.name) entry.name = heard.name;
    if (heard.rssi) entry.rssi = heard.rssi;
    (heard.cached ? entry.cached : entry.adverts) += 1;

    const Result<ble::MiBeacon> beacon = ble::parse_mibeacon(heard.mibeacon);
    if (!beacon) {
      ++entry.not_mibeacon;
      entry.problem = "not a MiBeacon frame: " + beacon.error().describe();
      return;
    }
    entry.product_id = beacon->product_id;
    entry.version = beacon->frame_control.version;
    if (beacon->has_objects()) entry.encryption = beacon->encryption;

    const std::optional<ble::MacAddress> advertiser = ble::parse_mac(heard.mac);
    if (!advertiser) return;  // BlueZ always gives a MAC; nothing to decode against otherwise
    Bytes key;
    if (entry.configured && !entry.configured->bindkey_hex.empty()) {
      key = ble::parse_bind_key(entry.configured->bindkey_hex).value_or(Bytes{});
    }
    const Result<ble::DecodedAdvert> decoded = ble::decode_advert(heard.mibeacon, *advertiser, key);
    if (!decoded) {
      const ParseError& error = decoded.error();
      if (error.kind == ErrorKind::authentication && key.empty()) {
        entry.problem = std::string("encrypted: needs a ") +
                        (beacon->encryption == ble::Encryption::legacy ? "24" : "32") +
                        "-hex-digit bindkey in the config";
      } else if (error.kind == ErrorKind::authentication) {
        entry.problem = error.what;  // the codec names the MAC and says "wrong bind key"
      } else {
        entry.problem = error.describe();
      }
      return;
    }
    if (!decoded->beacon.has_objects()) return;  // presence beacon: nothing more to learn
    if (decoded->decrypted) entry.decrypted = true;
    for (const ble::Reading& reading : decoded->objects.readings) entry.values[reading.quantity] = reading;
    for (const ble::Object& object : decoded->objects.raw) entry.raw[object.id] = object.data;
    if (!decoded->objects.rejected.empty()) {
      entry.problem = "object rejected: " + decoded->objects.rejected.back().reason;
    } else {
      entry.problem.clear();  // this frame decoded: an older failure is no longer the news
    }
  }

  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }
  const std::map<std::string, Advertiser>& entries() const { return entries_; }

  std::string encryption_text(const Advertiser& entry) const {
    if (!entry.encryption) {
      if (entry.not_mibeacon > 0 && !entry.product_id) return "-";
      const ble::Product* product = entry.product_id ? ble::find_product(*entry.product_id) : nullptr;
      if (product && product->key == ble::KeyNeed::bind_key) return "? (no data yet; model: yes)";
      if (product && product->key == ble::KeyNeed::legacy_key) return "? (no data yet; model: legacy)";
      return "? (no data yet)";
    }
    const std::string version = entry.version ? " v" + std::to_string(*entry.version) : "";
    switch (*entry.encryption) {
      case ble::Encryption::none:
        return "no" + (entry.version ? " (v" + std::to_string(*entry.version) + ")" : std::string());
      case ble::Encryption::ccm:
        return "yes," + version + " AES-CCM";
      case ble::Encryption::legacy:
        return "yes," + version + " legacy";
    }
    return "?";
  }

  static std::string product_text(const Advertiser& entry) {
    if (!entry.product_id) return "-";
    const ble::Product* product = ble::find_product(*entry.product_id);
    return hex_literal(*entry.product_id, 4, HexCase::upper) + " " + (product ? std::string(product->model) : std::string("unknown"));
  }

  static std::string values_text(const Advertiser& entry) {
    std::string text;
    const auto append = [&](const std::string& part) {
      if (!text.empty()) text += ' ';
      text += part;
    };
    for (const auto& [quantity, reading] : entry.values) append(format_reading(reading));
    for (const auto& [id, data] : entry.raw) append(hex_literal(id, 4, HexCase::upper) + "=" + (data.empty() ? "-" : to_hex(data)));
    if (!entry.problem.empty()) append("(" + entry.problem + ")");
    if (text.empty()) text = entry.encryption ? "-" : "(only presence beacons so far)";
    return text;
  }

  void print_table(std::FILE* out) const {
    std::vector<std::vector<std::string>> rows;
    rows.push_back({"MAC", "RSSI", "ADVERTS", "PRODUCT", "ENCRYPTED", "CONFIG", "VALUES"});
    for (const Advertiser* entry : ordered()) {
      rows.push_back({entry->mac, entry->rssi ? std::to_string(*entry->rssi) : "-",
                      entry->adverts > 0 ? std::to_string(entry->adverts) : "cached",
                      product_text(*entry), encryption_text(*entry),
                      entry->configured ? "configured as " + entry->configured->id : "-", values_text(*entry)});
    }
    std::vector<std::size_t> widths(rows.front().size(), 0);
    for (const auto& row : rows) {
      for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i]));
    }
    for (const auto& row : rows) {
      std::string line;
      for (std::size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size()) line += std::string(widths[i] - display_width(row[i]) + 2, ' ');
      }
      std::fprintf(out, "%s\n", line.c_str());
    }
  }

  nlohmann::json to_json() const {
    nlohmann::json list = nlohmann::json::array();
    for (const Advertiser* entry : ordered()) {
      nlohmann::json item = {{"mac", entry->mac}, {"adverts", entry->adverts}, {"cached_adverts", entry->cached}};
      if (entry->name && !entry->name->empty()) item["name"] = *entry->name;
      if (entry->rssi) item["rssi"] = *entry->rssi;
      if (entry->product_id) {
        item["product_id"] = *entry->product_id;
        if (const ble::Product* product = ble::find_product(*entry->product_id)) {
          item["model"] = product->model;
          item["product_name"] = product->name;
        }
      }
      if (entry->version) item["version"] = *entry->version;
      item["encryption"] = entry->encryption ? nlohmann::json(ble::encryption_name(*entry->encryption)) : nullptr;
      item["decrypted"] = entry->decrypted;
      nlohmann::json values = nlohmann::json::object();
      for (const auto& [quantity, reading] : entry->values) values[std::string(ble::quantity_name(quantity))] = reading_json(reading);
      item["values"] = values;
      nlohmann::json raw = nlohmann::json::object();
      for (const auto& [id, data] : entry->raw) raw[hex_literal(id, 4, HexCase::upper)] = to_hex(data);
      item["raw_objects"] = raw;
      if (!entry->problem.empty()) item["problem"] = entry->problem;
      item["configured_as"] = entry->configured ? nlohmann::json(entry->configured->id) : nullptr;
      list.push_back(std::move(item));
    }
    return list;
  }

 private:
  Advertiser& entry_for(const std::string& mac) {
    auto [it, inserted] = entries_.try_emplace(mac);
    if (inserted) {
      it->second.mac = mac;
      if (const auto configured = settings_.by_mac.find(mac); configured != settings_.by_mac.end())
        it->second.configured = &configured->second;
    }
    return it->second;
  }

  // Strongest signal first (the sensor on the desk is at the top); unknown RSSI last, then by MAC.
  std::vector<const Advertiser*> ordered() const {
    std::vector<const Advertiser*> list;
    for (const auto& [mac, entry] : entries_) list.push_back(&entry);
    std::stable_sort(list.begin(), list.end(), [](const Advertiser* a, const Advertiser* b) {
      const int ra = a->rssi ? *a->rssi : -1000;
      const int rb = b->rssi ? *b->rssi : -1000;
      return ra > rb;
    });
    return list;
  }

  // Columns are aligned by characters, not bytes: "°C" and "µS/cm" are multi-byte in UTF-8.
  static std::size_t display_width(const std::string& text) {
    std::size_t width = 0;
    for (const unsigned char c : text) width += (c & 0xC0) != 0x80 ? 1 : 0;
    return width;
  }

  const BleSettings& settings_;
  std::map<std::string, Advertiser> entries_;
};

// What the user can do about a scan that could not start, by the scanner's state.
std::string advice_for(const std::string& state, const std::string& text, const std::string& adapter) {
  if (state == "bus_unavailable") {
    return "cannot reach the D-Bus system bus (" + text +
           ").\n  Is dbus running (`systemctl status dbus`)? In a container, mount the host's "
           "/run/dbus/system_bus_socket.";
  }
  if (state == "bluez_gone") {
    return "BlueZ (bluetoothd) is not running on the system bus.\n  Start it: `sudo systemctl start bluetooth` "
           "(Debian package bluez).";
  }
  if (state == "no_adapter") {
    return "there is no Bluetooth adapter " + adapter +
           ".\n  `bluetoothctl list` shows the adapters; choose one with --adapter or ble.adapter in the config "
           "(on a Raspberry Pi: is Bluetooth disabled by dtoverlay=disable-bt?).";
  }
  if (state == "adapter_off") {
    return "the Bluetooth adapter " + adapter +
           " is powered off.\n  Switch it on: `bluetoothctl power on` (if that fails: `rfkill unblock bluetooth`). "
           "cloudless never powers an adapter on by itself: other programs share it.";
  }
  std::string advice = "BlueZ refused the scan: " + text;
  if (text.find("AccessDenied") != std::string::npos || text.find("ccess denied") != std::string::npos) {
    advice += "\n  Run as root, or add your user to the group `bluetooth` (D-Bus policy of org.bluez).";
  } else if (text.find("NotReady") != std::string::npos) {
    advice += "\n  The adapter is not ready: `bluetoothctl power on`, then try again.";
  }
  return advice;
}

// ------------------------------------------------------------------------------------------------
// bindkey helpers

// "@FILE" → the file's text, "@-" → standard input, anything else → itself. Whitespace around it
// is dropped (a copied value often ends with a newline).
std::optional<std::string> argument_text(const std::string& value, const char* name, bool& stdin_used) {
  if (value.empty() || value[0] != '@') return value;
  std::string text;
  if (value == "@-") {
    if (stdin_used) {
      std::fprintf(stderr, "cloudless: --%s: only one value can come from standard input (@-)\n", name);
      return std::nullopt;
    }
    stdin_used = true;
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(value.substr(1), std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cloudless: --%s: cannot read %s\n", name, value.substr(1).c_str());
      return std::nullopt;
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
  }
  const auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  text.erase(text.begin(), std::find_if_not(text.begin(), text.end(), space));
  text.erase(std::find_if_not(text.rbegin(), text.rend(), space).base(), text.end());
  return text;
}

// A device id for the YAML snippet ([a-z0-9_-]+): the model and the MAC's last two bytes,
// e.g. "lywsd03mmc_34b7"; the user may rename it (unique ids come from the MAC, not from this).
std::string suggested_id(const ble::CapturedKey& key) {
  std::string base;
  if (key.product_id) {
    if (const ble::Product* product = ble::find_product(static_cast<std::uint16_t>(*key.product_id)))
      base = std::string(product->model);
  }
  if (base.empty()) base = key.model;  // Mi Home's "miaomiaoce.sensor_ht.t2" → miaomiaoce_sensor_ht_t2
  std::string id;
  for (const unsigned char c : base) {
    const unsigned char lower = static_cast<unsigned char>(std::tolower(c));
    id += (std::isalnum(lower) || lower == '_' || lower == '-') ? static_cast<char>(lower) : '_';
  }
  if (id.empty()) id = "ble_sensor";
  if (ble::parse_mac(key.mac)) {
    std::string tail;
    for (const char c : key.mac.substr(key.mac.size() - 5))
      if (c != ':') tail += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    id += "_" + tail;
  }
  return id;
}

std::string device_line(const ble::CapturedKey& key) {
  std::vector<std::string> parts;
  if (!key.did.empty()) parts.push_back("did " + key.did);
  if (!key.mac.empty()) parts.push_back("MAC " + key.mac);
  if (!key.model.empty()) parts.push_back("model " + key.model);
  if (key.product_id) {
    std::string text = "product id " + std::to_string(*key.product_id);
    if (const ble::Product* product = ble::find_product(static_cast<std::uint16_t>(*key.product_id)))
      text += " (" + std::string(product->model) + ", " + std::string(product->name) + ")";
    parts.push_back(text);
  }
  if (parts.empty()) return "not named in the reply (use `cloudless ble scan` to find its MAC)";
  std::string line;
  for (const auto& part : parts) line += (line.empty() ? "" : ", ") + part;
  return line;
}

}  // namespace

// ------------------------------------------------------------------------------------------------

int ble_scan(const BleScanOptions& options) {
  if (!(options.seconds > 0 && options.seconds <= 3600)) {
    std::fprintf(stderr, "cloudless: --seconds: must be more than 0 and at most 3600\n");
    return kExitUsage;
  }
  int exit_code = kExitOk;
  const std::optional<BleSettings> settings = load_ble_settings(options.config_path, options.config_given, exit_code);
  if (!settings) return exit_code;
  const std::string adapter =
      !options.adapter.empty() ? options.adapter : !settings->adapter.empty() ? settings->adapter : kDefaultAdapter;

  ScanTable table(*settings);
  const auto duration = std::chrono::milliseconds(static_cast<long long>(options.seconds * 1000));
  const BleScanRun run = run_ble_scan(
      adapter, duration, [&](const HeardAdvert& heard) { table.add(heard); },
      [&](const std::string& text) {
        std::fprintf(stderr, "cloudless: %s\n", text.c_str());
        std::fflush(stderr);
      });

  if (!run.discovered && run.interrupted) {
    std::fprintf(stderr, "cloudless: interrupted before discovery started on %s\n", adapter.c_str());
    return kExitFailure;
  }
  if (!run.discovered) {
    std::fprintf(stderr, "cloudless: cannot scan: %s\n",
                 advice_for(run.problem_state, run.problem_text, adapter).c_str());
    return kExitFailure;
  }

  if (options.json) {
    std::printf("%s\n", table.to_json().dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else if (!table.empty()) {
    table.print_table(stdout);
  }
  std::fflush(stdout);

  if (table.empty()) {
    std::fprintf(stderr,
                 "cloudless: no Xiaomi BLE advertiser heard in %s s on %s. Sensors that report only on events "
                 "(door, motion, buttons) stay silent until something happens: open the door, press the button, "
                 "or scan longer (--seconds).\n",
                 format_number(options.seconds).c_str(), adapter.c_str());
  }
  std::size_t need_key = 0;
  for (const auto& [mac, entry] : table.entries()) {
    if (entry.encryption && *entry.encryption != ble::Encryption::none && !entry.decrypted &&
        (!entry.configured || entry.configured->bindkey_hex.empty()))
      ++need_key;
  }
  if (need_key > 0) {
    std::fprintf(stderr,
                 "cloudless: %zu encrypted advertiser(s) without a bind key: `cloudless ble bindkey --help` and the "
                 "README section \"Getting a bind key (Xiaomi BLE)\" say how to get one.\n",
                 need_key);
  }
  for (const auto& [mac, configured] : settings->by_mac) {
    if (!table.entries().count(mac))
      std::fprintf(stderr, "cloudless: configured as %s but not heard: %s\n", configured.id.c_str(), mac.c_str());
  }
  if (!run.filter_applied && run.discovered) {
    std::fprintf(stderr, "cloudless: note: BlueZ refused the discovery filter; the scan was unfiltered\n");
  }
  return kExitOk;
}

int ble_bindkey(const BleBindkeyOptions& options) {
  bool stdin_used = false;
  const auto ssecurity = argument_text(options.ssecurity, "ssecurity", stdin_used);
  const auto nonce = argument_text(options.nonce, "nonce", stdin_used);
  const auto data = argument_text(options.data, "data", stdin_used);
  if (!ssecurity || !nonce || !data) return kExitUsage;

  int exit_code = kExitOk;
  const std::optional<BleSettings> settings = load_ble_settings(options.config_path, options.config_given, exit_code);
  if (!settings) return exit_code;

  const Result<ble::BindKeyCapture> capture = ble::decode_bindkey_capture(*ssecurity, *nonce, *data);
  if (!capture) {
    const ParseError& error = capture.error();
    if (error.kind == ErrorKind::authentication) {
      std::fprintf(stderr, "cloudless: decryption failed: %s\n", error.what.c_str());
      return kExitFailure;
    }
    if (!crypto::rc4_available()) {
      std::fprintf(stderr, "cloudless: %s\n", crypto::kRc4UnavailableReason);
      return kExitFailure;
    }
    std::fprintf(stderr,
                 "cloudless: %s\n  Paste the values exactly as the proxy shows them (base64; URL-encoded %%2B %%2F "
                 "%%3D is fine), or pass @FILE to read one from a file.\n",
                 error.what.c_str());
    return kExitUsage;
  }
  if (capture->keys.empty()) {
    std::fprintf(stderr,
                 "cloudless: decrypted, but the text holds no bind key (24 or 32 hex digits). Was this the "
                 "bltbind request sent while adding the sensor? The decrypted text:\n%s\n",
                 capture->plaintext.c_str());
    return kExitFailure;
  }

  const std::size_t count = capture->keys.size();
  for (std::size_t i = 0; i < count; ++i) {
    const ble::CapturedKey& key = capture->keys[i];
    const bool legacy = key.scheme == ble::Encryption::legacy;
    std::printf("%sbind key%s: %s  (%s)\n", i > 0 ? "\n" : "",
                count > 1 ? (" " + std::to_string(i + 1) + " of " + std::to_string(count)).c_str() : "",
                key.key_hex.c_str(),
                legacy ? "24 hex digits: a MiBeacon v2/v3 beacon key" : "32 hex digits: a MiBeacon v4/v5 bind key");
    std::printf("  device: %s\n", device_line(key).c_str());
    std::printf("  found at: %s\n", key.found_at.c_str());

    const bool have_mac = ble::parse_mac(key.mac).has_value();
    const auto configured = have_mac ? settings->by_mac.find(key.mac) : settings->by_mac.end();
    if (configured != settings->by_mac.end()) {
      const bool same = configured->second.bindkey_hex == key.key_hex;
      std::printf("  %s: configured as %s, %s\n", settings->source.c_str(), configured->second.id.c_str(),
                  same ? "with this key already"
                       : "with another key or none: put this one in its bindkey (or bindkey_file)");
    }
    std::printf("  for the config (devices:):\n");
    std::printf("    %s:\n", (configured != settings->by_mac.end() ? configured->second.id : suggested_id(key)).c_str());
    std::printf("      protocol: xiaomi_ble\n");
    if (have_mac) {
      std::printf("      mac: %s\n", key.mac.c_str());
    } else {
      std::printf("      mac: AA:BB:CC:DD:EE:FF   # the sensor's MAC: `cloudless ble scan` lists it\n");
    }
    std::printf("      bindkey: %s\n", key.key_hex.c_str());
  }
  return kExitOk;
}

}  // namespace cloudless::cli
