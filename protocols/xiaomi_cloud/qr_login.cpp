#include "protocols/xiaomi_cloud/qr_login.h"

#include <thread>

#include "protocols/https/cookie_jar.h"
#include "protocols/https/url.h"

namespace cloudless::xiaomi_cloud {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::int64_t unix_ms() {
  return duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

https::Request account_get(const std::string& url, const AppIdentity& identity, const https::CookieJar& jar) {
  https::Request request;
  request.url = url;
  request.headers = {{"User-Agent", identity.user_agent}, {"Accept-Encoding", "identity"}};
  const std::string cookies = jar.header();
  if (!cookies.empty()) request.headers.emplace_back("Cookie", cookies);
  return request;
}

Result<std::string> checked_https_url(const std::string& url, std::string_view what) {
  if (!https::parse_url(url)) {
    return parse_error("the account server sent a " + std::string(what) + " that is not an https URL");
  }
  return url;
}

Result<LoginGrant> wait_for_confirmation(const https::Client& client, const LoginOptions& options,
                                         const LoginEvents& events, const QrLoginOffer& offer,
                                         const AppIdentity& identity, https::CookieJar& jar) {
  seconds total = offer.timeout;
  if (options.max_wait && *options.max_wait < total) total = *options.max_wait;
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + total;
  std::string last_problem;
  for (;;) {
    const Clock::time_point now = Clock::now();
    if (now >= deadline) break;
    if (events.on_waiting) events.on_waiting(duration_cast<seconds>(now - start), total);
    const milliseconds left = duration_cast<milliseconds>(deadline - now);
    const milliseconds this_poll = std::min(options.poll_timeout, std::max(left, milliseconds(1)));
    Result<https::Response> reply = client.send(account_get(offer.long_poll_url, identity, jar), this_poll);
    if (!reply) {
      // A long poll that runs out is the normal "not yet": ask again. Other failures are retried too
      // (a phone takes its time), but not in a tight loop.
      last_problem = reply.error().what;
      if (Clock::now() - now < milliseconds(500)) std::this_thread::sleep_for(milliseconds(500));
      continue;
    }
    jar.take(*reply);
    if (reply->status != 200) {
      last_problem = "the long poll answered HTTP " + std::to_string(reply->status);
      std::this_thread::sleep_for(milliseconds(500));
      continue;
    }
    return parse_long_poll_reply(reply->body);
  }
  return parse_error("QR code not scanned and confirmed within " + std::to_string(total.count()) + " s" +
                     (last_problem.empty() ? "" : " (last: " + last_problem + ")"));
}

}  // namespace

Result<CloudSession> qr_login(const https::Client& client, const LoginOptions& options, const LoginEvents& events) {
  CloudSession session;
  session.identity = make_app_identity();
  https::CookieJar jar;
  jar.set("sdkVersion", "accountsdk-18.8.15");
  jar.set("deviceId", session.identity.device_id);

  const std::string offer_url = options.account_base + "/longPolling/loginUrl?" + login_url_query(unix_ms());
  Result<https::Response> offer_reply = client.send(account_get(offer_url, session.identity, jar));
  if (!offer_reply) return offer_reply.error();
  if (offer_reply->status != 200) {
    return parse_error("QR login: the account server answered HTTP " + std::to_string(offer_reply->status));
  }
  jar.take(*offer_reply);
  Result<QrLoginOffer> offer = parse_login_url_reply(offer_reply->body);
  if (!offer) return offer.error();
  if (Result<std::string> lp = checked_https_url(offer->long_poll_url, "long-poll address"); !lp) return lp.error();
  if (events.on_offer) events.on_offer(*offer);

  Result<LoginGrant> grant = wait_for_confirmation(client, options, events, *offer, session.identity, jar);
  if (!grant) return grant.error();
  if (Result<std::string> location = checked_https_url(grant->location, "service address"); !location) {
    return location.error();
  }

  // The STS answer (200, or a 302 onwards) carries Set-Cookie: serviceToken; it is not followed.
  Result<https::Response> sts = client.send(account_get(grant->location, session.identity, jar));
  if (!sts) return sts.error();
  https::CookieJar sts_cookies;
  sts_cookies.take(*sts);
  const std::optional<std::string> token = sts_cookies.get("serviceToken");
  if (!token || token->empty() || *token == "EXPIRED") {
    return parse_error("the login was confirmed but the service did not set a serviceToken (HTTP " +
                       std::to_string(sts->status) + "); try again");
  }
  session.user_id = grant->user_id;
  session.ssecurity = grant->ssecurity;
  session.service_token = *token;
  return session;
}

}  // namespace cloudless::xiaomi_cloud
