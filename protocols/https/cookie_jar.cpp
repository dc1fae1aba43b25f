#include "protocols/https/cookie_jar.h"

namespace cloudless::https {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

void CookieJar::take(const Response& response) {
  for (const std::string& line : response.headers_named("Set-Cookie")) take_set_cookie(line);
}

// Set-Cookie: name=value; Path=/; Domain=.mi.com; HttpOnly — only the first pair is the cookie.
void CookieJar::take_set_cookie(std::string_view set_cookie_line) {
  const std::string_view pair = set_cookie_line.substr(0, set_cookie_line.find(';'));
  const std::size_t equals = pair.find('=');
  if (equals == std::string_view::npos) return;
  const std::string_view name = trim(pair.substr(0, equals));
  if (name.empty()) return;
  std::string_view value = trim(pair.substr(equals + 1));
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
  set(std::string(name), std::string(value));
}

void CookieJar::set(std::string name, std::string value) {
  for (auto& [existing, existing_value] : cookies_) {
    if (existing == name) {
      existing_value = std::move(value);
      return;
    }
  }
  cookies_.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string> CookieJar::get(std::string_view name) const {
  for (const auto& [existing, value] : cookies_) {
    if (existing == name) return value;
  }
  return std::nullopt;
}

std::string CookieJar::header() const {
  std::string out;
  for (const auto& [name, value] : cookies_) {
    if (!out.empty()) out += "; ";
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

}  // namespace cloudless::https
