// The replies of Xiaomi's account server during a QR login (docs/xiaomi_cloud.md §2), parsed into
// structs. account.xiaomi.com prefixes its JSON with "&&&START&&&" (an anti-JSON-hijacking guard);
// the prefix is optional here. Pure: no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/common/result.h"

namespace cloudless::xiaomi_cloud {

inline constexpr std::string_view kStartMarker = "&&&START&&&";

// The body without a leading "&&&START&&&" (and surrounding whitespace).
std::string_view strip_start_marker(std::string_view body);

// The query of `GET /longPolling/loginUrl` that asks for a QR login to the Mi Home service
// ("xiaomiio"), `unix_ms` being the cache-buster _dc.
std::string login_url_query(std::int64_t unix_ms);

// `GET /longPolling/loginUrl` → what to show and where to wait.
struct QrLoginOffer {
  std::string qr_image_url;   // "qr": a PNG of the code, on Xiaomi's server
  std::string login_url;      // "loginUrl": what the code encodes; the Mi Home app opens it
  std::string long_poll_url;  // "lp": answers once the code was scanned and confirmed
  std::chrono::seconds timeout{0};  // "timeout": how long the offer stands
};
Result<QrLoginOffer> parse_login_url_reply(std::string_view body);

// The long poll's answer once the user confirmed in the app. Secrets: never log them.
struct LoginGrant {
  std::string user_id;     // "userId", digits
  std::string c_user_id;   // "cUserId"
  std::string ssecurity;   // base64, the key every API call is signed with
  std::string pass_token;  // "passToken"
  std::string location;    // the STS URL whose answer sets the serviceToken cookie
};
Result<LoginGrant> parse_long_poll_reply(std::string_view body);

}  // namespace cloudless::xiaomi_cloud
