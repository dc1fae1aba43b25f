// The QR login to the Mi Home service (docs/xiaomi_cloud.md §2), blocking, over cloudless_https:
//
//   GET <account>/longPolling/loginUrl?… ─▶ {loginUrl, lp, timeout}   show loginUrl as a QR code
//   GET lp   (≤ 10 s each, again until `timeout`) ─▶ {userId, ssecurity, location}   user confirmed
//   GET location ─▶ Set-Cookie: serviceToken                              (a 302 is not followed:
//                                                                           the cookie comes with it)
// No password, captcha or 2FA: the user confirms in the Mi Home app. Prints nothing: progress goes to
// the caller's LoginEvents.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "protocols/common/result.h"
#include "protocols/https/https_client.h"
#include "protocols/xiaomi_cloud/app_identity.h"
#include "protocols/xiaomi_cloud/login_messages.h"

namespace cloudless::xiaomi_cloud {

inline constexpr std::string_view kAccountBase = "https://account.xiaomi.com";

// What the API calls need. Secrets: never log ssecurity or service_token.
struct CloudSession {
  std::string user_id;
  std::string ssecurity;
  std::string service_token;
  AppIdentity identity;
};

struct LoginOptions {
  std::string account_base{kAccountBase};
  std::chrono::milliseconds poll_timeout{std::chrono::seconds(10)};  // one long-poll request
  std::optional<std::chrono::seconds> max_wait;  // caps the offer's own timeout (tests)
};

struct LoginEvents {
  std::function<void(const QrLoginOffer&)> on_offer;  // show offer.login_url as a QR code
  std::function<void(std::chrono::seconds waited, std::chrono::seconds total)> on_waiting;
};

// Errors are one sentence: "QR code not confirmed within 120 s", "the login did not set a
// serviceToken", the HTTPS client's words, or a reply parser's.
Result<CloudSession> qr_login(const https::Client& client, const LoginOptions& options, const LoginEvents& events);

}  // namespace cloudless::xiaomi_cloud
