// How `cloudless keys xiaomi` and `cloudless keys backup` print what they found (keys_output.h).
#include "daemon/cli/keys_output.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string_view>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/devices/state_store.h"
#include "protocols/miio/plug_models.h"

namespace cloudless::cli {

namespace {

// The Mi kettle's BLE product ids (protocols/xiaomi_ble/codec/products.cpp): YM-K1501 and YM-K1501EU.
constexpr std::uint16_t kKettleProductId = 131;
constexpr std::uint16_t kKettleEuProductId = 275;
constexpr std::string_view kKettleModel = "yunmi.kettle.v2";

// Tokens and keys are documented lower case (keys_output.h); either case is taken, lower case is printed.
bool is_hex(std::string_view text, std::size_t length) {
  return text.size() == length &&
         std::all_of(text.begin(), text.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

bool is_mac(std::string_view mac) {
  if (mac.size() != 17) return false;
  for (std::size_t i = 0; i < mac.size(); ++i) {
    const bool colon_place = i % 3 == 2;
    if (colon_place != (mac[i] == ':')) return false;
    if (!colon_place && !std::isxdigit(static_cast<unsigned char>(mac[i]))) return false;
  }
  return true;
}

std::string lower_case(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string upper_case(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
  return text;
}

// An address the cloud or a backup reports for a device it has never seen online is empty or 0.0.0.0.
// Anything but an address's characters would not be a plain YAML value either: treated as unknown.
bool has_ip(const FoundDevice& device) {
  const auto address_character = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == ':' || c == '-';
  };
  return !device.ip.empty() && device.ip != "0.0.0.0" &&
         std::all_of(device.ip.begin(), device.ip.end(), address_character);
}

bool is_kettle(const FoundDevice& device) {
  return device.model == kKettleModel || device.product_id == kKettleProductId ||
         device.product_id == kKettleEuProductId;
}

bool is_ble(const FoundDevice& device) { return !device.bindkey.empty() || device.did.starts_with("blt."); }

// Display width of UTF-8 text: one column per code point (continuation bytes do not count).
std::size_t display_width(std::string_view text) {
  return static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// Text from the app or the cloud inside a YAML comment or a table cell: one line, no control characters.
std::string one_line(std::string_view text) {
  std::string out(text);
  const auto is_control = [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; };
  std::replace_if(out.begin(), out.end(), is_control, ' ');
  return out;
}

// A config device id from the Mi Home name: lower case, [a-z0-9_], runs of anything else as one '_'.
// Names with no Latin letter or digit at all (e.g. Chinese) fall back to the model.
std::string device_id_from(std::string_view name) {
  std::string id;
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) && byte < 0x80) {
      id += static_cast<char>(std::tolower(byte));
    } else if (!id.empty() && id.back() != '_') {
      id += '_';
    }
  }
  while (!id.empty() && id.back() == '_') id.pop_back();
  return id;
}

class DeviceIds {
 public:
  std::string take(const FoundDevice& device) {
    std::string base = device_id_from(device.name);
    if (base.empty()) base = device_id_from(device.model);
    if (base.empty()) base = "device";
    if (base == "bridge") base = "bridge_device";  // the daemon's own id (docs/contract.md)
    std::string id = base;
    for (int n = 2; used_.count(id) > 0; ++n) id = base + "_" + std::to_string(n);
    used_.insert(id);
    return id;
  }

 private:
  std::set<std::string> used_;
};

std::string describe(const FoundDevice& device) {
  std::string text = "\"" + one_line(device.name) + "\" (";
  text += device.model.empty() ? "model unknown" : one_line(device.model);
  if (has_ip(device)) text += ", " + one_line(device.ip);
  if (!device.mac.empty()) text += ", " + one_line(device.mac);
  if (!device.token.empty()) text += ", token " + one_line(device.token);
  if (!device.bindkey.empty()) text += ", bind key " + one_line(device.bindkey);
  return text + ")";
}

void append_miio_plug(std::string& out, const std::string& id, const FoundDevice& device) {
  out += "  # " + describe(device) + "\n";
  out += "  " + id + ":\n";
  out += "    protocol: miio\n";
  out += "    host: " + device.ip + "\n";
  out += "    token: " + lower_case(device.token) + "\n";
  out += "    model: " + device.model + "\n";
}

void append_kettle(std::string& out, const std::string& id, const FoundDevice& device) {
  out += "  # " + describe(device) + "\n";
  out += "  " + id + ":\n";
  out += "    protocol: xiaomi_ble\n";
  out += "    mac: " + device.mac + "\n";
  if (device.product_id) {
    out += "    product_id: " + std::to_string(*device.product_id) + "\n";
  } else {
    out += "    product_id: 131                 # YM-K1501; the EU model (YM-K1501EU) is 275\n";
  }
  // The Mi auth token is 24 hex digits; without it the daemon registers its own at the first
  // connection, which takes the kettle over from Mi Home (config/example.yaml).
  if (is_hex(device.token, 24)) out += "    token: " + lower_case(device.token) + "\n";
}

void append_ble_sensor(std::string& out, const std::string& id, const FoundDevice& device) {
  out += "  # " + describe(device) + "\n";
  out += "  " + id + ":\n";
  out += "    protocol: xiaomi_ble\n";
  out += "    mac: " + device.mac + "\n";
  if (is_hex(device.bindkey, 32) || is_hex(device.bindkey, 24)) {
    out += "    bindkey: " + lower_case(device.bindkey) + "\n";
  } else {
    out += "    # bindkey: not known here; `cloudless keys xiaomi` or `cloudless ble register` gets it\n";
  }
}

// Why a device gets no entry, or an empty string when it gets one.
std::string why_unsupported(const FoundDevice& device) {
  if (is_kettle(device) || is_ble(device)) return is_mac(device.mac) ? "" : "Bluetooth device without a MAC address";
  if (miio::find_plug_model(device.model) == nullptr) {
    if (device.model.find(".plug.") != std::string::npos) {
      return "plug model without a built-in table: add it with a `miot:` mapping (config/example.yaml)";
    }
    return "not supported by cloudless";
  }
  if (!is_hex(device.token, 32)) return "no miIO token";
  if (!has_ip(device)) return "no LAN address known: add `host:` by hand";
  return "";
}

}  // namespace

std::string devices_table(const std::vector<FoundDevice>& devices) {
  if (devices.empty()) return "(none)\n";
  const bool with_region = std::any_of(devices.begin(), devices.end(), [](const auto& d) { return !d.region.empty(); });
  const bool with_home = std::any_of(devices.begin(), devices.end(), [](const auto& d) { return !d.home.empty(); });
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> heading = {"NAME", "MODEL", "IP", "MAC", "TOKEN", "BIND KEY"};
  if (with_region) heading.push_back("REGION");
  if (with_home) heading.push_back("HOME");
  rows.push_back(heading);
  const auto cell = [](const std::string& value) { return value.empty() ? std::string("-") : one_line(value); };
  for (const FoundDevice& device : devices) {
    std::vector<std::string> row = {cell(device.name), cell(device.model), cell(device.ip),
                                    cell(device.mac),  cell(device.token), cell(device.bindkey)};
    if (with_region) row.push_back(cell(device.region));
    if (with_home) row.push_back(cell(device.home));
    rows.push_back(std::move(row));
  }
  std::vector<std::size_t> widths(heading.size(), 0);
  for (const auto& row : rows) {
    for (std::size_t column = 0; column < row.size(); ++column) {
      widths[column] = std::max(widths[column], display_width(row[column]));
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t column = 0; column < row.size(); ++column) {
      line += row[column];
      if (column + 1 < row.size()) line += std::string(widths[column] - display_width(row[column]) + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string devices_yaml(const std::vector<FoundDevice>& devices) {
  DeviceIds ids;
  // The config refuses two devices on one miIO address or one Bluetooth MAC (config/loader.cpp claim());
  // the app keeps stale records of re-added devices, so the first keeps the address, the others are listed.
  std::map<std::string, std::string> owners;  // "miio 192.168.1.50" / "ble AA:BB:…" → device id
  std::string entries;
  std::string unsupported;
  for (const FoundDevice& device : devices) {
    if (const std::string why = why_unsupported(device); !why.empty()) {
      unsupported += "#   " + describe(device) + ": " + why + "\n";
      continue;
    }
    const bool bluetooth = is_kettle(device) || is_ble(device);
    const std::string address = bluetooth ? "ble " + upper_case(device.mac) : "miio " + lower_case(device.ip);
    if (const auto owner = owners.find(address); owner != owners.end()) {
      unsupported += "#   " + describe(device) + ": same " + (bluetooth ? "MAC" : "address") + " as " +
                     owner->second + " (an old record?)\n";
      continue;
    }
    const std::string id = ids.take(device);
    owners.emplace(address, id);
    if (is_kettle(device)) {
      append_kettle(entries, id, device);
    } else if (is_ble(device)) {
      append_ble_sensor(entries, id, device);
    } else {
      append_miio_plug(entries, id, device);
    }
  }
  std::string out = entries.empty() ? "devices: {}\n" : "devices:\n" + entries;
  if (!unsupported.empty()) out += "# Found, but no entry above (listed so that nothing is lost):\n" + unsupported;
  return out;
}

std::string write_secret_file(const std::string& path, const std::string& text) {
  struct stat existing {};
  if (lstat(path.c_str(), &existing) == 0 && !S_ISREG(existing.st_mode)) {
    return path + " exists and is not a regular file (a link?): not writing through it";
  }
  // The state files' writer: a new 0600 file beside the target, synced, renamed over it.
  return write_file_atomically(path, text);
}

}  // namespace cloudless::cli
