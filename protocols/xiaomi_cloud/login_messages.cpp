#include "protocols/xiaomi_cloud/login_messages.h"

#include <nlohmann/json.hpp>

#include "protocols/common/json_limits.h"
#include "protocols/xiaomi_cloud/reply_json.h"

namespace cloudless::xiaomi_cloud {

namespace {

std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// The JSON object of an account-server reply; `code` other than 0 is the server saying no.
Result<nlohmann::json> parse_account_reply(std::string_view body, std::string_view step) {
  Result<nlohmann::json> json = parse_untrusted_json(strip_start_marker(body));
  if (!json) return parse_error(std::string(step) + ": the account server's reply is not JSON");
  if (!json->is_object()) {
    return parse_error(std::string(step) + ": the account server's reply is not a JSON object");
  }
  const std::optional<std::string> code = text_member(*json, "code");
  if (code && *code != "0") {
    return parse_error(std::string(step) + ": the account server refused" + describe_code(*json));
  }
  return json;
}

Result<std::string> required_text(const nlohmann::json& json, std::string_view name, std::string_view step) {
  std::optional<std::string> text = text_member(json, name);
  if (!text || text->empty()) {
    return parse_error(std::string(step) + ": the reply has no \"" + std::string(name) + "\"");
  }
  return std::move(*text);
}

}  // namespace

std::string_view strip_start_marker(std::string_view body) {
  body = trim(body);
  if (body.substr(0, kStartMarker.size()) == kStartMarker) body.remove_prefix(kStartMarker.size());
  return trim(body);
}

std::string login_url_query(std::int64_t unix_ms) {
  // qs and callback as the Mi Home app sends them: the login is for the "xiaomiio" service, and the
  // STS callback is what later sets the serviceToken.
  return "_qrsize=480&qs=%3Fsid%3Dxiaomiio%26_json%3Dtrue&callback=https%3A%2F%2Fsts.api.io.mi.com%2Fsts"
         "&_hasLogo=false&sid=xiaomiio&serviceParam=&_locale=en_GB&_dc=" +
         std::to_string(unix_ms);
}

Result<QrLoginOffer> parse_login_url_reply(std::string_view body) {
  constexpr std::string_view kStep = "QR login";
  Result<nlohmann::json> json = parse_account_reply(body, kStep);
  if (!json) return json.error();
  QrLoginOffer offer;
  for (auto [name, field] : {std::pair{"loginUrl", &offer.login_url}, std::pair{"lp", &offer.long_poll_url}}) {
    Result<std::string> text = required_text(*json, name, kStep);
    if (!text) return text.error();
    *field = std::move(*text);
  }
  offer.qr_image_url = text_member(*json, "qr").value_or("");
  const auto timeout = json->find("timeout");
  if (timeout == json->end() || !timeout->is_number() || timeout->get<double>() <= 0 ||
      timeout->get<double>() > 3600) {
    return parse_error("QR login: the reply has no usable \"timeout\" (1..3600 s)");
  }
  offer.timeout = std::chrono::seconds(static_cast<long long>(timeout->get<double>()));
  if (offer.timeout.count() == 0) offer.timeout = std::chrono::seconds(1);
  return offer;
}

Result<LoginGrant> parse_long_poll_reply(std::string_view body) {
  constexpr std::string_view kStep = "QR login confirmation";
  Result<nlohmann::json> json = parse_account_reply(body, kStep);
  if (!json) return json.error();
  LoginGrant grant;
  const std::optional<std::string> user_id = id_member(*json, "userId");
  if (!user_id) return parse_error("QR login confirmation: the reply has no numeric \"userId\"");
  grant.user_id = *user_id;
  for (auto [name, field] : {std::pair{"ssecurity", &grant.ssecurity}, std::pair{"location", &grant.location}}) {
    Result<std::string> text = required_text(*json, name, kStep);
    if (!text) return text.error();
    *field = std::move(*text);
  }
  grant.c_user_id = text_member(*json, "cUserId").value_or("");
  grant.pass_token = text_member(*json, "passToken").value_or("");
  return grant;
}

}  // namespace cloudless::xiaomi_cloud
