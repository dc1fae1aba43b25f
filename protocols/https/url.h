// URLs and form bodies for the key commands' HTTPS requests. Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cloudless::https {

struct Url {
  std::string host;        // a name, an IPv4 address, or an IPv6 address without brackets
  std::uint16_t port = 443;
  std::string target;      // path and query, at least "/"
};

// "https://host[:port][/path][?query]" → Url. nullopt for another scheme, user info, a fragment-only
// or empty host, or a bad port.
std::optional<Url> parse_url(std::string_view text);

// True for "localhost", 127.0.0.0/8 and ::1. The key commands accept a base URL from the command
// line only when it points here (tests run fake clouds on loopback; a real user never needs it).
bool is_loopback_host(std::string_view host);

// Percent-encoding of everything but RFC 3986's unreserved characters (A–Z a–z 0–9 - . _ ~).
std::string url_encode(std::string_view text);
// name=value&name=value, both sides url_encode()d, in the order given.
std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace cloudless::https
