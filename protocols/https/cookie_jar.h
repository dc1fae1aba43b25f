// The cookies a cloud login collects (Xiaomi: userId, passToken, serviceToken, …): name → value, no
// domain or path rules beyond what one login to one vendor needs. Set-Cookie attributes (Path,
// Domain, Expires, HttpOnly, …) are read past; a cookie set to "EXPIRED" or an empty value is kept
// as sent (the caller decides what counts as missing).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocols/https/https_client.h"

namespace cloudless::https {

class CookieJar {
 public:
  // Every Set-Cookie of the response; a later value replaces an earlier one of the same name.
  void take(const Response& response);
  void take_set_cookie(std::string_view set_cookie_line);
  void set(std::string name, std::string value);
  std::optional<std::string> get(std::string_view name) const;
  // "a=1; b=2" for a Cookie header, in the order the names were first set; "" when empty.
  std::string header() const;

 private:
  std::vector<std::pair<std::string, std::string>> cookies_;
};

}  // namespace cloudless::https
