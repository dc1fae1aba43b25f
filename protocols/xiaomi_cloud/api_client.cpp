#include "protocols/xiaomi_cloud/api_client.h"

#include <array>
#include <chrono>
#include <utility>

#include "protocols/https/url.h"
#include "protocols/xiaomi_cloud/api_messages.h"
#include "protocols/xiaomi_cloud/rc4mi.h"

namespace cloudless::xiaomi_cloud {

namespace {

std::string fresh_nonce() {
  std::array<std::uint8_t, 8> random{};
  fill_random(random.data(), random.size());
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return make_nonce(random, std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
}

std::string api_cookies(const CloudSession& session) {
  // The app's own set; the servers read userId and serviceToken, the rest keeps them content.
  return "userId=" + session.user_id + "; yetAnotherServiceToken=" + session.service_token +
         "; serviceToken=" + session.service_token +
         "; locale=en_GB; timezone=GMT+00:00; is_daylight=0; dst_offset=0; channel=MI_APP_STORE";
}

ParseError failed(std::string_view path, const std::string& why) {
  return parse_error(std::string(path) + ": " + why);
}

}  // namespace

ApiClient::ApiClient(const https::Client& client, const CloudSession& session, std::string app_base)
    : client_(client), session_(session), app_base_(std::move(app_base)) {}

Result<nlohmann::json> ApiClient::call(std::string_view path, const std::string& data_json) const {
  Result<EncryptedCall> sealed = encrypt_call(path, data_json, session_.ssecurity, fresh_nonce());
  if (!sealed) return failed(path, sealed.error().what);

  https::Request request;
  request.method = "POST";
  request.url = app_base_ + std::string(path) + "?" + https::form_encode(sealed->params);
  request.headers = {{"User-Agent", session_.identity.user_agent},
                     {"Accept-Encoding", "identity"},
                     {"x-xiaomi-protocal-flag-cli", "PROTOCAL-HTTP2"},
                     {"MIOT-ENCRYPT-ALGORITHM", "ENCRYPT-RC4"},
                     {"Content-Type", "application/x-www-form-urlencoded"},
                     {"Cookie", api_cookies(session_)}};
  Result<https::Response> reply = client_.send(request);
  if (!reply) return failed(path, reply.error().what);
  if (reply->status == 401 || reply->status == 403) {
    return failed(path, "the server refused the login (HTTP " + std::to_string(reply->status) + ")");
  }
  if (reply->status != 200) return failed(path, "the server answered HTTP " + std::to_string(reply->status));
  Result<std::string> plain = decrypt_reply(sealed->signed_nonce, reply->body);
  if (!plain) return failed(path, plain.error().what);
  Result<nlohmann::json> result = parse_api_reply(*plain);
  if (!result) return failed(path, result.error().what);
  return result;
}

}  // namespace cloudless::xiaomi_cloud
