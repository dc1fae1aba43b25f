#include "protocols/midea_cloud/smarthome_client.h"

#include <ctime>
#include <random>

namespace cloudless::midea_cloud {

std::string random_hex(std::size_t digits) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::random_device source;
  std::string out;
  out.reserve(digits);
  while (out.size() < digits) {
    unsigned int bits = source();
    for (int i = 0; i < 8 && out.size() < digits; ++i, bits >>= 4) out += kDigits[bits & 0xf];
  }
  return out;
}

std::string utc_stamp() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[16];
  std::strftime(text, sizeof text, "%Y%m%d%H%M%S", &utc);
  return text;
}

SmartHomeClient::SmartHomeClient(SmartHomeClientOptions options)
    : options_(std::move(options)),
      http_(https::ClientOptions{options_.ca_file, options_.timeout}),
      nethome_(options_.base_url.rfind(kNetHomeBaseUrl, 0) == 0),
      device_id_(random_hex(16)) {}

RequestContext SmartHomeClient::next_context() {
  return RequestContext{utc_stamp(), random_hex(32), device_id_, session_.uid};
}

Result<nlohmann::json> SmartHomeClient::call(std::string_view endpoint, const std::string& body, Step step,
                                             std::uint64_t appliance_id) {
  last_refusal_code_ = 0;
  https::Request request;
  request.method = "POST";
  request.url = endpoint_url(options_.base_url, endpoint);
  request.body = body;
  const std::string random = random_hex(32);
  for (auto& header : request_headers(body, random, session_.access_token, session_.uid))
    request.headers.emplace_back(std::move(header));
  Result<https::Response> response = http_.send(request);
  if (!response) return parse_error(response.error().what);
  if (response->status != 200)
    return parse_error(std::string(endpoint) + ": the cloud answered HTTP " + std::to_string(response->status));
  Result<CloudReply> reply = parse_reply(response->body);
  if (!reply) return parse_error(std::string(endpoint) + ": " + reply.error().what);
  if (!reply->ok()) {
    last_refusal_code_ = reply->code;
    return parse_error(describe_refusal(step, *reply, appliance_id, nethome_));
  }
  return std::move(reply->data);
}

Result<LoginSession> SmartHomeClient::login(std::string_view account, std::string_view password) {
  session_ = {};
  Result<nlohmann::json> id_data = call(kLoginIdEndpoint, login_id_body(next_context(), account), Step::login_id, 0);
  if (!id_data) return id_data.error();
  Result<std::string> login_id = read_login_id(*id_data);
  if (!login_id) return login_id.error();
  Result<nlohmann::json> login_data =
      call(kLoginEndpoint, login_body(next_context(), account, password, *login_id), Step::login, 0);
  if (!login_data) return login_data.error();
  Result<LoginSession> session = read_login_session(*login_data);
  if (!session) return session.error();
  session_ = *session;
  return session;
}

Result<TokenPair> SmartHomeClient::get_token(std::string_view udpid, std::uint64_t appliance_id) {
  Result<nlohmann::json> data =
      call(kGetTokenEndpoint, get_token_body(next_context(), udpid, appliance_id), Step::get_token, appliance_id);
  if (!data) return data.error();
  return read_token_pair(*data, udpid);
}

}  // namespace cloudless::midea_cloud
