#include "config/values.h"

#include <charconv>
#include <cmath>
#include <vector>

#include "protocols/common/bytes.h"

namespace cloudless::config {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_hex_digit(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (!is_digit(c)) return false;
  }
  return true;
}

std::string_view trim_blanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(separator, start);
    if (end == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

// 30 days bounds the arithmetic (no overflow converting to milliseconds) and is far beyond any
// sensible interval, so a value above it is a typo.
constexpr double kMaxDurationMs = 30.0 * 24 * 3600 * 1000;

constexpr const char* kDurationForms =
    "expected a duration such as 10s, 500ms, 2m or 1h, or a number of seconds";

}  // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  text = trim_blanks(text);
  if (!text.empty() && text.front() == '-') return parse_error("must not be negative");
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);

  // Split "<digits>[.<digits>]" from the unit; from_chars alone would also take "inf" and "1e3".
  std::size_t number_end = 0;
  bool seen_digit = false;
  bool seen_point = false;
  for (; number_end < text.size(); ++number_end) {
    const char c = text[number_end];
    if (is_digit(c)) {
      seen_digit = true;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!seen_digit) return parse_error(kDurationForms);
  const std::string_view number = text.substr(0, number_end);
  const std::string_view unit = trim_blanks(text.substr(number_end));

  double unit_ms = 0;
  if (unit.empty() || unit == "s") {
    unit_ms = 1000;
  } else if (unit == "ms") {
    unit_ms = 1;
  } else if (unit == "m") {
    unit_ms = 60'000;
  } else if (unit == "h") {
    unit_ms = 3'600'000;
  } else {
    return parse_error(kDurationForms);
  }

  double value = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec == std::errc::result_out_of_range) return parse_error("is too long (at most 30 days)");
  if (ec != std::errc() || end != number.data() + number.size()) return parse_error(kDurationForms);
  const double ms = value * unit_ms;
  if (!std::isfinite(ms) || ms > kMaxDurationMs) return parse_error("is too long (at most 30 days)");
  return std::chrono::milliseconds(std::llround(ms));
}

Result<std::string> parse_hex_secret(std::string_view text, std::size_t digits) {
  const std::string expected = "expected " + std::to_string(digits) + " hex digits";
  if (text.size() != digits) return parse_error(expected);
  const std::optional<Bytes> bytes = from_hex(text);
  if (!bytes) return parse_error(expected);
  return to_hex(*bytes);
}

Result<std::string> parse_mac(std::string_view text) {
  static constexpr const char* kExpected = "expected a MAC address like A4:C1:38:11:22:33";
  if (text.size() != 17) return parse_error(kExpected);
  std::string mac(text);
  for (std::size_t i = 0; i < mac.size(); ++i) {
    if (i % 3 == 2) {
      if (mac[i] != ':') return parse_error(kExpected);
      continue;
    }
    if (!is_hex_digit(mac[i])) return parse_error(kExpected);
    if (mac[i] >= 'a' && mac[i] <= 'f') mac[i] = static_cast<char>(mac[i] - 'a' + 'A');
  }
  return mac;
}

bool is_ipv4_address(std::string_view text) {
  const std::vector<std::string_view> parts = split(text, '.');
  if (parts.size() != 4) return false;
  for (const std::string_view part : parts) {
    if (!all_digits(part) || part.size() > 3) return false;
    if (part.size() > 1 && part.front() == '0') return false;
    int value = 0;
    std::from_chars(part.data(), part.data() + part.size(), value);
    if (value > 255) return false;
  }
  return true;
}

bool is_host_name(std::string_view text) {
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);  // fully qualified "nas.lan."
  if (text.empty() || text.size() > 253) return false;
  const std::vector<std::string_view> labels = split(text, '.');
  for (const std::string_view label : labels) {
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (const char c : label) {
      if (!is_alnum(c) && c != '-' && c != '_') return false;
    }
  }
  return !all_digits(labels.back());
}

Result<MqttServer> parse_mqtt_server(std::string_view uri) {
  static constexpr const char* kForm =
      "expected mqtt://, mqtts://, tcp:// or ssl:// followed by a host and an optional :port";
  const std::size_t separator = uri.find("://");
  if (separator == std::string_view::npos) return parse_error(kForm);

  MqttServer server;
  server.scheme = std::string(uri.substr(0, separator));
  if (server.scheme == "mqtts" || server.scheme == "ssl") {
    server.tls = true;
  } else if (server.scheme != "mqtt" && server.scheme != "tcp") {
    return parse_error(kForm);
  }

  std::string_view rest = uri.substr(separator + 3);
  // Paho takes credentials from the connect options only, and a password in the URI would be
  // echoed wherever the server is logged.
  if (rest.find('@') != std::string_view::npos) {
    return parse_error("user and password go in mqtt.user and mqtt.password_file, not in the URI");
  }
  if (rest.find_first_of("/?#") != std::string_view::npos) {
    return parse_error("unexpected path after the host (expected scheme://host[:port])");
  }

  std::string_view host;
  std::optional<std::string_view> port;
  if (!rest.empty() && rest.front() == '[') {
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos) return parse_error("unterminated [IPv6 address]");
    host = rest.substr(1, close - 1);
    if (host.empty()) return parse_error("missing host");
    for (const char c : host) {
      if (!is_hex_digit(c) && c != ':' && c != '.') return parse_error("invalid IPv6 address");
    }
    const std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return parse_error(kForm);
      port = after.substr(1);
    }
  } else {
    const std::size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = rest.substr(colon + 1);
      if (port->find(':') != std::string_view::npos) {
        return parse_error("an IPv6 address needs brackets: mqtt://[::1]:1883");
      }
    }
    if (host.empty()) return parse_error("missing host");
    if (!is_ipv4_address(host) && !is_host_name(host)) {
      return parse_error("the host is neither an IPv4 address nor a host name");
    }
  }
  server.host = std::string(host);

  if (port) {
    int value = 0;
    const auto [end, ec] = std::from_chars(port->data(), port->data() + port->size(), value);
    if (!all_digits(*port) || ec != std::errc() || end != port->data() + port->size() || value < 1 ||
        value > 65535) {
      return parse_error("the port must be a number from 1 to 65535");
    }
    server.port = static_cast<std::uint16_t>(value);
  }
  return server;
}

std::string topic_prefix_problem(std::string_view topic) {
  if (topic.find_first_of("+#") != std::string_view::npos) {
    return "must not contain the MQTT wildcards + or #";
  }
  if (!topic.empty() && (topic.front() == '/' || topic.back() == '/')) {
    return "must not start or end with /";
  }
  if (topic.find("//") != std::string_view::npos) return "must not contain an empty level (//)";
  // Brokers keep $-topics for themselves ($SYS); a client publishing there is refused or ignored.
  if (!topic.empty() && topic.front() == '$') return "must not start with $";
  for (const char c : topic) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) return "must not contain control characters";
  }
  return {};
}

bool is_device_id(std::string_view id) {
  if (id.empty()) return false;
  for (const char c : id) {
    if (!is_lower_alnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

bool is_miio_model(std::string_view model) {
  const std::vector<std::string_view> parts = split(model, '.');
  if (parts.size() < 3) return false;
  for (const std::string_view part : parts) {
    if (part.empty()) return false;
    for (const char c : part) {
      if (!is_lower_alnum(c) && c != '_' && c != '-') return false;
    }
  }
  return true;
}

}  // namespace cloudless::config
