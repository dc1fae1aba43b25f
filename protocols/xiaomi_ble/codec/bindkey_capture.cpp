// Captured Mi Home bind request → bind key. Procedure and formats: bindkey_capture.h and
// docs/ble.md §5.1.
#include "protocols/xiaomi_ble/codec/bindkey_capture.h"

#include <algorithm>
#include <array>
#include <cctype>

#include <nlohmann/json.hpp>

namespace cloudless::xiaomi_ble {

namespace {

using Json = nlohmann::json;

constexpr int kMaxJsonDepth = 32;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Base64 digit value in either alphabet (RFC 4648 §4 and §5), -1 otherwise.
int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

// A field of an application/x-www-form-urlencoded body, still URL-encoded; nullopt when absent.
std::optional<std::string_view> form_field(std::string_view body, std::string_view name) {
  while (!body.empty()) {
    const std::size_t end = body.find('&');
    const std::string_view pair = body.substr(0, end);
    const std::size_t equals = pair.find('=');
    if (equals != std::string_view::npos && trim(pair.substr(0, equals)) == name) return pair.substr(equals + 1);
    if (end == std::string_view::npos) break;
    body.remove_prefix(end + 1);
  }
  return std::nullopt;
}

bool looks_like_form_body(std::string_view text) {
  text = trim(text);
  return text.find('&') != std::string_view::npos || text.substr(0, 5) == "data=";
}

// Input text → bytes, naming the input in the error.
Result<Bytes> decode_input(std::string_view text, std::string_view what) {
  const std::optional<std::string> unescaped = url_decode(text);
  if (!unescaped) return parse_error(std::string(what) + ": broken %-escape (expected %XX with two hex digits)", 0);
  if (unescaped->empty()) return parse_error(std::string(what) + " is empty", 0);
  std::optional<Bytes> bytes = base64_decode(*unescaped);
  if (!bytes || bytes->empty()) {
    return parse_error(std::string(what) + " is not base64 (copy the value exactly as the proxy shows it)", 0);
  }
  return std::move(*bytes);
}

// Member names that hold a beacon/bind key, compared without case and underscores: beaconkey,
// beacon_key, beaconKey, bind_key, bindkey, bindKey.
bool is_key_name(std::string_view name) {
  std::string folded;
  for (const char c : name) {
    if (c == '_') continue;
    folded.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return folded == "beaconkey" || folded == "bindkey";
}

// 24 or 32 hex digits, lower-cased; nullopt otherwise.
std::optional<std::string> key_text(const Json& value) {
  if (!value.is_string()) return std::nullopt;
  const std::string& text = value.get_ref<const std::string&>();
  if (text.size() != 2 * kBindKeySize && text.size() != 2 * kLegacyBeaconKeySize) return std::nullopt;
  std::string out;
  for (const char c : text) {
    if (hex_value(c) < 0) return std::nullopt;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

std::string string_member(const Json& object, std::string_view name) {
  const auto found = object.find(std::string(name));
  if (found == object.end() || !found->is_string()) return {};
  return found->get_ref<const std::string&>();
}

std::string normalised_mac(std::string text) {
  const std::optional<MacAddress> mac = parse_mac(text);
  return mac ? format_mac(*mac) : text;
}

// The device an object describes: its own members, else its props entries.
struct DeviceFields {
  std::string did, mac, model;
  std::optional<std::uint32_t> product_id;
};

DeviceFields device_fields(const Json& object) {
  DeviceFields fields;
  fields.did = string_member(object, "did");
  fields.model = string_member(object, "model");
  fields.mac = string_member(object, "mac");
  if (fields.mac.empty()) fields.mac = string_member(object, "smac");
  const auto pid = object.find("pid");
  if (pid != object.end()) {
    if (pid->is_number_unsigned() && pid->get<std::uint64_t>() <= 0xFFFFFFFFu) {
      fields.product_id = static_cast<std::uint32_t>(pid->get<std::uint64_t>());
    } else if (pid->is_string()) {
      const std::string& text = pid->get_ref<const std::string&>();
      std::uint64_t value = 0;
      const bool digits = !text.empty() && text.size() <= 9 &&
                          std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (digits) {
        for (const char c : text) value = value * 10 + static_cast<std::uint64_t>(c - '0');
        fields.product_id = static_cast<std::uint32_t>(value);
      }
    }
  }
  const auto props = object.find("props");
  if (fields.mac.empty() && props != object.end() && props->is_array()) {
    for (const Json& prop : *props) {
      if (!prop.is_object()) continue;
      const std::string key = string_member(prop, "key");
      if (key == "smac" || key == "mac") {
        fields.mac = string_member(prop, "value");
        if (!fields.mac.empty()) break;
      }
    }
  }
  if (!fields.mac.empty()) fields.mac = normalised_mac(fields.mac);
  return fields;
}

class KeyCollector {
 public:
  void walk(const Json& node, const std::string& path, int depth) {
    if (depth > kMaxJsonDepth) return;
    if (node.is_array()) {
      for (std::size_t i = 0; i < node.size(); ++i) walk(node[i], path + "[" + std::to_string(i) + "]", depth + 1);
      return;
    }
    if (!node.is_object()) return;
    const DeviceFields device = device_fields(node);
    const std::string prefix = path.empty() ? std::string() : path + ".";
    for (const auto& [name, value] : node.items()) {
      if (!is_key_name(name)) continue;
      if (const std::optional<std::string> key = key_text(value)) add(*key, device, prefix + name);
    }
    const auto props = node.find("props");
    if (props != node.end() && props->is_array()) {
      for (const Json& prop : *props) {
        if (!prop.is_object()) continue;
        const std::string name = string_member(prop, "key");
        if (!is_key_name(name)) continue;
        const auto value = prop.find("value");
        if (value == prop.end()) continue;
        if (const std::optional<std::string> key = key_text(*value)) add(*key, device, prefix + "props[" + name + "]");
      }
    }
    for (const auto& [name, value] : node.items()) {
      if (value.is_object() || value.is_array()) walk(value, prefix + name, depth + 1);
    }
  }

  std::vector<CapturedKey> take() { return std::move(keys_); }

 private:
  void add(const std::string& key, const DeviceFields& device, std::string found_at) {
    const bool seen = std::any_of(keys_.begin(), keys_.end(), [&](const CapturedKey& other) {
      return other.key_hex == key && other.did == device.did && other.mac == device.mac;
    });
    if (seen) return;
    CapturedKey captured;
    captured.key_hex = key;
    captured.scheme = key.size() == 2 * kBindKeySize ? Encryption::ccm : Encryption::legacy;
    captured.did = device.did;
    captured.mac = device.mac;
    captured.model = device.model;
    captured.product_id = device.product_id;
    captured.found_at = std::move(found_at);
    keys_.push_back(std::move(captured));
  }

  std::vector<CapturedKey> keys_;
};

}  // namespace

std::optional<std::string> url_decode(std::string_view text) {
  text = trim(text);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = trim(text.substr(1, text.size() - 2));
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hex_value(text[i + 1]);
    const int low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high << 4 | low));
    i += 2;
  }
  return out;
}

std::optional<Bytes> base64_decode(std::string_view text) {
  Bytes out;
  out.reserve(text.size() / 4 * 3 + 3);
  std::uint32_t buffer = 0;
  std::size_t digits = 0;
  std::size_t padding = 0;
  for (const char c : text) {
    if (is_space(c)) continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    const int value = base64_value(c);
    if (value < 0 || padding > 0) return std::nullopt;  // a digit after padding is misplaced
    buffer = buffer << 6 | static_cast<std::uint32_t>(value);
    ++digits;
    if (digits % 4 == 0) {
      out.push_back(static_cast<std::uint8_t>(buffer >> 16));
      out.push_back(static_cast<std::uint8_t>(buffer >> 8));
      out.push_back(static_cast<std::uint8_t>(buffer));
      buffer = 0;
    }
  }
  const std::size_t rest = digits % 4;
  if (rest == 1) return std::nullopt;                         // 6 bits cannot end a byte
  if (padding > 0 && (rest == 0 || rest + padding != 4)) return std::nullopt;  // padding must complete the group
  if (rest == 2) out.push_back(static_cast<std::uint8_t>(buffer >> 4));
  if (rest == 3) {
    out.push_back(static_cast<std::uint8_t>(buffer >> 10));
    out.push_back(static_cast<std::uint8_t>(buffer >> 2));
  }
  return out;
}

std::string base64_encode(ByteView bytes) {
  static constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t left = bytes.size() - i;
    const std::uint32_t group = static_cast<std::uint32_t>(bytes[i]) << 16 |
                                (left > 1 ? static_cast<std::uint32_t>(bytes[i + 1]) << 8 : 0) |
                                (left > 2 ? static_cast<std::uint32_t>(bytes[i + 2]) : 0);
    out.push_back(kDigits[group >> 18 & 0x3f]);
    out.push_back(kDigits[group >> 12 & 0x3f]);
    out.push_back(left > 1 ? kDigits[group >> 6 & 0x3f] : '=');
    out.push_back(left > 2 ? kDigits[group & 0x3f] : '=');
  }
  return out;
}

crypto::Sha256Digest signed_nonce(ByteView ssecurity, ByteView nonce) { return crypto::sha256(ssecurity, nonce); }

Result<BindKeyCapture> decode_bindkey_capture(std::string_view ssecurity, std::string_view nonce,
                                              std::string_view data) {
  // A whole form body: take its data field, and its _nonce when none was given separately.
  std::string_view data_field = data;
  if (looks_like_form_body(data)) {
    const std::string_view body = trim(data);
    const std::optional<std::string_view> field = form_field(body, "data");
    if (!field) return parse_error("the form body has no data= field", 0);
    data_field = *field;
    if (trim(nonce).empty()) {
      const std::optional<std::string_view> nonce_field = form_field(body, "_nonce");
      if (nonce_field) nonce = *nonce_field;
    }
  }
  Result<Bytes> security_bytes = decode_input(ssecurity, "ssecurity");
  if (!security_bytes) return security_bytes.error();
  Result<Bytes> nonce_bytes = decode_input(nonce, "nonce");
  if (!nonce_bytes) return nonce_bytes.error();
  Result<Bytes> ciphertext = decode_input(data_field, "data");
  if (!ciphertext) return ciphertext.error();

  if (!crypto::rc4_available()) return parse_error(crypto::kRc4UnavailableReason, 0);
  const crypto::Sha256Digest key = signed_nonce(*security_bytes, *nonce_bytes);
  const std::optional<Bytes> plain = crypto::rc4(key, *ciphertext, kMiCloudRc4Drop);
  if (!plain) return parse_error("RC4 decryption failed", 0);

  BindKeyCapture capture;
  capture.plaintext.assign(plain->begin(), plain->end());
  Result<std::vector<CapturedKey>> keys = extract_bind_keys(capture.plaintext);
  if (!keys) {
    return authentication_error(
        "the decrypted data is not JSON: ssecurity, nonce and data must come from the same login session "
        "(log out of Mi Home, log in again with the proxy running, then add the device and copy all three "
        "from that session)",
        0);
  }
  capture.keys = std::move(*keys);
  return capture;
}

std::string encode_bindkey_capture(std::string_view ssecurity, std::string_view nonce, std::string_view plaintext) {
  const Result<Bytes> security_bytes = decode_input(ssecurity, "ssecurity");
  const Result<Bytes> nonce_bytes = decode_input(nonce, "nonce");
  if (!security_bytes || !nonce_bytes) return {};
  const std::optional<Bytes> sealed =
      crypto::rc4(signed_nonce(*security_bytes, *nonce_bytes), as_bytes(plaintext), kMiCloudRc4Drop);
  if (!sealed) return {};
  return base64_encode(*sealed);
}

Result<std::vector<CapturedKey>> extract_bind_keys(std::string_view json_text) {
  // Non-throwing parse: the text is decrypted from user input and may be anything.
  const Json document = Json::parse(json_text.begin(), json_text.end(), nullptr, false);
  if (document.is_discarded() || !(document.is_object() || document.is_array())) {
    return parse_error("not a JSON object or array", 0);
  }
  KeyCollector collector;
  collector.walk(document, "", 0);
  return collector.take();
}

}  // namespace cloudless::xiaomi_ble
