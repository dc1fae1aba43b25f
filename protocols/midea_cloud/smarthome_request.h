// The requests of the Midea SmartHome ("MSmartHome") cloud that `cloudless keys midea` sends, as
// text: the JSON bodies, the HMAC-SHA256 `sign` header and the two password hashes of the login.
// docs/midea_cloud.md §2–§4. Pure: the caller supplies everything that varies (time stamp, request
// id, app device id, `random`), so tests pin them; no clock, no randomness, no I/O here.
//
// Every request is a POST of a JSON body to <base>/mas/v5/app/proxy?alias=<endpoint>, with headers
//   sign    = hex(HMAC-SHA256(kHmacKey, kIotKey ‖ body ‖ random))   over the exact body bytes sent
//   random  = any string (we send 32 random hex digits)
//   secretVersion: 1, Content-Type: application/json; after the login also accessToken and uid.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cloudless::midea_cloud {

// The SmartHome app's identity (docs/midea_cloud.md §2). They are the vendor app's constants, the same
// for every user; none of them is a secret of ours.
inline constexpr std::string_view kAppId = "1010";
inline constexpr std::string_view kAppKey = "ac21b9f9cbfe4ca5a88562ef25e2b768";  // also the login hash key
inline constexpr std::string_view kIotKey = "meicloud";
inline constexpr std::string_view kHmacKey = "PROD_VnoClJI9aikS8dyy";
// "Basic " + base64(kAppKey ":" kIotKey), the authorization header the app sends.
inline constexpr std::string_view kBasicAuthorization =
    "Basic YWMyMWI5ZjljYmZlNGNhNWE4ODU2MmVmMjVlMmI3Njg6bWVpY2xvdWQ=";

inline constexpr std::string_view kSmartHomeBaseUrl = "https://mp-prod.appsmb.com";
// NetHome Plus (appId 1017): its getToken answers `9999 system error` for everyone since August 2026
// (docs/midea_cloud.md §6). Named only to recognise it and say so.
inline constexpr std::string_view kNetHomeBaseUrl = "https://mapp.appsmb.com";

inline constexpr std::string_view kProxyPath = "/mas/v5/app/proxy?alias=";
inline constexpr std::string_view kLoginIdEndpoint = "/v1/user/login/id/get";
inline constexpr std::string_view kLoginEndpoint = "/mj/user/login";
inline constexpr std::string_view kGetTokenEndpoint = "/v1/iot/secure/getToken";

// What differs between two requests of one run; the client fills it, tests fix it.
struct RequestContext {
  std::string stamp;      // UTC "YYYYMMDDhhmmss"
  std::string req_id;     // 32 hex digits, new per request
  std::string device_id;  // 16 hex digits naming "the phone", the same for the whole run
  std::string uid;        // from the login reply; empty before
};

// hex(HMAC-SHA256(kHmacKey, kIotKey ‖ body ‖ random)), 64 lower-case digits.
std::string sign(std::string_view body, std::string_view random);

// The login's two password proofs (docs/midea_cloud.md §3), 64 lower-case hex digits each:
//   password = SHA256hex(login_id ‖ SHA256hex(password) ‖ kAppKey)
//   iampwd   = SHA256hex(login_id ‖ MD5hex(MD5hex(password)) ‖ kAppKey)
std::string password_proof(std::string_view login_id, std::string_view password);
std::string iam_password_proof(std::string_view login_id, std::string_view password);

// The request bodies, serialised exactly as they are signed and sent.
std::string login_id_body(const RequestContext& context, std::string_view account);
std::string login_body(const RequestContext& context, std::string_view account, std::string_view password,
                       std::string_view login_id);
// `udpid`: 32 hex digits (docs/midea.md §5.2); `appliance_id` goes out as the decimal `applianceCodes`
// without which the cloud answers 3004 "value is illegal".
std::string get_token_body(const RequestContext& context, std::string_view udpid, std::uint64_t appliance_id);

// The headers of one request (Content-Type, secretVersion, sign, random, the app's identity, and
// accessToken/uid once logged in). `body` is the exact text that is sent.
std::vector<std::pair<std::string, std::string>> request_headers(std::string_view body, std::string_view random,
                                                                 std::string_view access_token,
                                                                 std::string_view uid);

// <base>/mas/v5/app/proxy?alias=<endpoint>; `base` without a trailing slash.
std::string endpoint_url(std::string_view base, std::string_view endpoint);

}  // namespace cloudless::midea_cloud
