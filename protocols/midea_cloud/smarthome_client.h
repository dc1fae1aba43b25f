// The SmartHome cloud conversation of `cloudless keys midea` (docs/midea_cloud.md): login id, login,
// then getToken per udpid, blocking, over cloudless_https (certificates checked against the system
// store, or `ca_file` in tests). One object per run: it keeps the access token and the app device id.
//
//   login(account, password):  POST …alias=/v1/user/login/id/get  {loginAccount}        → loginId
//                              POST …alias=/mj/user/login          {password proofs}    → accessToken, uid
//   get_token(udpid, id):      POST …alias=/v1/iot/secure/getToken {udpid, applianceCodes} → token, key
//
// Every failure is one sentence (transport errors from the HTTPS client, the cloud's refusals through
// describe_refusal, malformed answers). The password, access token, token and key never appear in one.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/common/result.h"
#include "protocols/https/https_client.h"
#include "protocols/midea_cloud/smarthome_reply.h"
#include "protocols/midea_cloud/smarthome_request.h"

namespace cloudless::midea_cloud {

struct SmartHomeClientOptions {
  std::string base_url{kSmartHomeBaseUrl};  // "https://host[:port]", no trailing path
  std::string ca_file;                      // empty: the system's trusted certificates
  std::chrono::milliseconds timeout{std::chrono::seconds(20)};  // per request
};

class SmartHomeClient {
 public:
  explicit SmartHomeClient(SmartHomeClientOptions options);

  // Both login steps. The error is why, in one sentence.
  Result<LoginSession> login(std::string_view account, std::string_view password);
  // After login(): the pair the cloud issues for `udpid` (32 hex digits) of appliance `appliance_id`.
  Result<TokenPair> get_token(std::string_view udpid, std::uint64_t appliance_id);

  // The cloud code of the last refusal (kCodeNoPermission, …), 0 after a success or a transport error.
  long long last_refusal_code() const { return last_refusal_code_; }

 private:
  // One signed POST; the reply's `data` when its code is 0.
  Result<nlohmann::json> call(std::string_view endpoint, const std::string& body, Step step,
                              std::uint64_t appliance_id);
  RequestContext next_context();

  SmartHomeClientOptions options_;
  https::Client http_;
  bool nethome_ = false;   // base_url is NetHome Plus's: its 9999 has a known meaning
  std::string device_id_;  // 16 hex digits, random per run
  LoginSession session_;
  long long last_refusal_code_ = 0;
};

// Random lower-case hex digits (request ids, the `random` header, the app device id).
std::string random_hex(std::size_t digits);
// The current UTC time as the cloud's "stamp": YYYYMMDDhhmmss.
std::string utc_stamp();

}  // namespace cloudless::midea_cloud
