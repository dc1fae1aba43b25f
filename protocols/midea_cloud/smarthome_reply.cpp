#include "protocols/midea_cloud/smarthome_reply.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include "protocols/common/json_limits.h"

namespace cloudless::midea_cloud {

namespace {

constexpr std::size_t kMaxShownText = 160;

// "3201", 3201 or -1: the cloud sends codes as strings ("0") and sometimes as numbers.
std::optional<long long> integer_code(const nlohmann::json& code) {
  if (code.is_number_integer()) return code.get<long long>();
  if (!code.is_string()) return std::nullopt;
  const std::string& text = code.get_ref<const std::string&>();
  long long value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

bool all_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

const char* step_name(Step step) {
  switch (step) {
    case Step::login_id: return "login (login id)";
    case Step::login: return "login";
    case Step::get_token: return "getToken";
  }
  return "request";
}

std::string code_text(const CloudReply& reply) {
  std::string text = "code " + std::to_string(reply.code);
  if (!reply.message.empty()) text += ": \"" + reply.message + "\"";
  return text;
}

const nlohmann::json* member(const nlohmann::json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

const std::string* string_member(const nlohmann::json& object, const char* name) {
  const nlohmann::json* value = member(object, name);
  if (value == nullptr || !value->is_string()) return nullptr;
  return &value->get_ref<const std::string&>();
}

}  // namespace

std::string printable_text(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, kMaxShownText)) out += (c >= 0x20 && c <= 0x7e) ? c : '?';
  if (text.size() > kMaxShownText) out += "...";
  return out;
}

Result<CloudReply> parse_reply(std::string_view text) {
  // parse_untrusted_json lets nlohmann's out_of_range through (a number such as 1e999, found by
  // fuzz_midea_cloud_reply): an answer from the network must never throw.
  Result<nlohmann::json> parsed = parse_error("not parsed");
  try {
    parsed = parse_untrusted_json(text);
  } catch (const nlohmann::json::exception&) {
    return parse_error("the cloud's answer is not JSON: a number out of range");
  }
  if (!parsed) return parse_error("the cloud's answer is not JSON: " + parsed.error().what);
  const nlohmann::json& root = *parsed;
  if (!root.is_object()) return parse_error("the cloud's answer is not a JSON object");
  const nlohmann::json* code = member(root, "code");
  if (code == nullptr) return parse_error("the cloud's answer has no \"code\"");
  const auto value = integer_code(*code);
  if (!value) return parse_error("the cloud's answer has a \"code\" that is not a number");
  CloudReply reply;
  reply.code = *value;
  if (const std::string* message = string_member(root, "msg")) reply.message = printable_text(*message);
  if (const nlohmann::json* data = member(root, "data")) reply.data = *data;
  return reply;
}

std::string describe_refusal(Step step, const CloudReply& reply, std::uint64_t appliance_id, bool nethome) {
  const std::string id = std::to_string(appliance_id);
  if (step == Step::get_token && reply.code == kCodeNoPermission)
    return "no permission: appliance " + id + " is not in this SmartHome account (cloud code 3201); add the unit "
           "to the SmartHome app with this account, then run this again";
  if (reply.code == kCodeSystemError && nethome)
    return "the NetHome Plus cloud answers every " + std::string(step_name(step)) +
           " with 9999 \"system error\", for every account, since August 2026: use a SmartHome (MSmartHome) "
           "account instead (the default cloud)";
  if (step == Step::get_token && reply.code == kCodeIllegalValue)
    return "getToken refused as illegal (" + code_text(reply) + ") for appliance " + id +
           ": the cloud does not accept this id/udpid pair";
  if (step == Step::get_token)
    return "getToken refused for appliance " + id + " (" + code_text(reply) + ")";
  // The codes for a wrong password or an unknown account are not documented anywhere we could
  // check: every refusal of the login steps is worded as what it almost always is.
  return std::string(step_name(step)) + " refused (" + code_text(reply) + "): check --account and the password";
}

Result<std::string> read_login_id(const nlohmann::json& data) {
  const std::string* login_id = string_member(data, "loginId");
  if (login_id == nullptr || login_id->empty()) return parse_error("the login id answer has no \"loginId\"");
  return *login_id;
}

Result<LoginSession> read_login_session(const nlohmann::json& data) {
  const nlohmann::json* mdata = member(data, "mdata");
  const std::string* token = mdata ? string_member(*mdata, "accessToken") : nullptr;
  if (token == nullptr || token->empty()) return parse_error("the login answer has no \"mdata.accessToken\"");
  LoginSession session;
  session.access_token = *token;
  if (const std::string* uid = string_member(data, "uid")) session.uid = *uid;
  return session;
}

Result<TokenPair> read_token_pair(const nlohmann::json& data, std::string_view udpid) {
  const nlohmann::json* list = member(data, "tokenlist");
  if (list == nullptr || !list->is_array()) return parse_error("the getToken answer has no \"tokenlist\"");
  const std::string wanted = lower(udpid);
  for (const nlohmann::json& entry : *list) {
    const std::string* entry_udpid = string_member(entry, "udpId");
    if (entry_udpid == nullptr || lower(*entry_udpid) != wanted) continue;
    const std::string* token = string_member(entry, "token");
    const std::string* key = string_member(entry, "key");
    if (token == nullptr || token->size() != 128 || !all_hex(*token))
      return parse_error("the getToken answer's token for udpid " + wanted + " is not 128 hex digits");
    if (key == nullptr || key->size() != 64 || !all_hex(*key))
      return parse_error("the getToken answer's key for udpid " + wanted + " is not 64 hex digits");
    return TokenPair{lower(*token), lower(*key)};
  }
  return parse_error("the getToken answer has no entry for udpid " + wanted);
}

}  // namespace cloudless::midea_cloud
