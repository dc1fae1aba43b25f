#include "protocols/midea_cloud/smarthome_request.h"

#include <nlohmann/json.hpp>

#include "protocols/common/bytes.h"
#include "protocols/common/crypto.h"

namespace cloudless::midea_cloud {

namespace {

std::string sha256_hex(std::string_view text) { return to_hex(crypto::sha256(as_bytes(text))); }
std::string md5_hex(std::string_view text) { return to_hex(crypto::md5(as_bytes(text))); }

std::string joined(std::string_view a, std::string_view b, std::string_view c) {
  std::string out;
  out.reserve(a.size() + b.size() + c.size());
  out.append(a).append(b).append(c);
  return out;
}

// The fields the app sends with every request (docs/midea_cloud.md §2). Strings throughout, as the
// app sends them; "format" 2 = JSON, "clientType" 1 = Android.
nlohmann::json common_fields(const RequestContext& context) {
  nlohmann::json fields = {
      {"appId", std::string(kAppId)}, {"src", std::string(kAppId)}, {"format", "2"},
      {"clientType", "1"},            {"platformId", "1"},          {"language", "en_US"},
      {"deviceId", context.device_id}, {"stamp", context.stamp},    {"reqId", context.req_id},
  };
  if (!context.uid.empty()) fields["uid"] = context.uid;
  return fields;
}

// ASCII-only text (\u escapes), and bytes that are not UTF-8 replaced instead of throwing: an account
// name is the user's input.
std::string serialised(const nlohmann::json& body) {
  return body.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string sign(std::string_view body, std::string_view random) {
  const std::string message = joined(kIotKey, body, random);
  const auto digest = crypto::hmac_sha256(as_bytes(kHmacKey), as_bytes(message));
  // HMAC over a constant key cannot fail short of a broken OpenSSL; an empty sign makes the cloud
  // refuse the request, which the caller reports.
  return digest ? to_hex(*digest) : std::string();
}

std::string password_proof(std::string_view login_id, std::string_view password) {
  return sha256_hex(joined(login_id, sha256_hex(password), kAppKey));
}

std::string iam_password_proof(std::string_view login_id, std::string_view password) {
  return sha256_hex(joined(login_id, md5_hex(md5_hex(password)), kAppKey));
}

std::string login_id_body(const RequestContext& context, std::string_view account) {
  nlohmann::json body = common_fields(context);
  body["loginAccount"] = std::string(account);
  return serialised(body);
}

std::string login_body(const RequestContext& context, std::string_view account, std::string_view password,
                       std::string_view login_id) {
  RequestContext anonymous = context;
  anonymous.uid.clear();
  nlohmann::json iot_data = common_fields(anonymous);
  iot_data["loginAccount"] = std::string(account);
  iot_data["password"] = password_proof(login_id, password);
  iot_data["iampwd"] = iam_password_proof(login_id, password);
  const nlohmann::json body = {
      {"iotData", iot_data},
      {"data", {{"appKey", std::string(kAppKey)}, {"deviceId", context.device_id}, {"platform", "2"}}},
      {"stamp", context.stamp},
      {"reqId", context.req_id},
  };
  return serialised(body);
}

std::string get_token_body(const RequestContext& context, std::string_view udpid, std::uint64_t appliance_id) {
  nlohmann::json body = common_fields(context);
  body["udpid"] = std::string(udpid);
  body["applianceCodes"] = std::to_string(appliance_id);
  return serialised(body);
}

std::vector<std::pair<std::string, std::string>> request_headers(std::string_view body, std::string_view random,
                                                                 std::string_view access_token,
                                                                 std::string_view uid) {
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/json; charset=utf-8"},
      {"secretVersion", "1"},
      {"sign", sign(body, random)},
      {"random", std::string(random)},
      {"x-recipe-app", std::string(kAppId)},
      {"Authorization", std::string(kBasicAuthorization)},
  };
  if (!access_token.empty()) headers.emplace_back("accessToken", std::string(access_token));
  if (!uid.empty()) headers.emplace_back("uid", std::string(uid));
  return headers;
}

std::string endpoint_url(std::string_view base, std::string_view endpoint) {
  std::string url(base);
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url.append(kProxyPath).append(endpoint);
}

}  // namespace cloudless::midea_cloud
