// The Midea SmartHome cloud's answers, read (docs/midea_cloud.md §5): every reply is one JSON object
//   {"code": "0" | 0 | "3201" | …, "msg": "…", "data": {…}}
// with the code as a string or a number; 0 means success and `data` holds the result. Any other code
// is a refusal, which describe_refusal() turns into one sentence a user can act on. Pure and
// bounded: the text comes from the network (and from our fuzzer).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "protocols/common/result.h"

namespace cloudless::midea_cloud {

// The codes we name (docs/midea_cloud.md §5); any other is shown with the cloud's own text.
inline constexpr long long kCodeOk = 0;
inline constexpr long long kCodeIllegalValue = 3004;  // "value is illegal." (getToken without applianceCodes)
inline constexpr long long kCodeNoPermission = 3201;  // "You have no permissions": the unit is not this account's
inline constexpr long long kCodeSystemError = 9999;   // "system error": NetHome Plus getToken since Aug 2026

struct CloudReply {
  long long code = 0;
  std::string message;  // "msg", made printable (see printable_text); may be empty
  nlohmann::json data;  // "data"; null when absent
  bool ok() const { return code == kCodeOk; }
};

// Malformed: not JSON, not an object, no "code", or a code that is not an integer (number or digits).
Result<CloudReply> parse_reply(std::string_view text);

// Which request a refusal answered, for the sentence.
enum class Step { login_id, login, get_token };

// One sentence, e.g. "no permission: appliance 151732605161920 is not in this SmartHome account (cloud
// code 3201) …". `nethome`: the base URL is NetHome Plus's, whose 9999 has a known meaning.
std::string describe_refusal(Step step, const CloudReply& reply, std::uint64_t appliance_id, bool nethome);

// data.loginId (a non-empty string).
Result<std::string> read_login_id(const nlohmann::json& data);

struct LoginSession {
  std::string access_token;  // data.mdata.accessToken
  std::string uid;           // data.uid, may be empty
};
Result<LoginSession> read_login_session(const nlohmann::json& data);

struct TokenPair {
  std::string token_hex;  // 128 lower-case hex digits
  std::string key_hex;    // 64 lower-case hex digits
};
// The entry of data.tokenlist whose udpId equals `udpid` (case-insensitive); its token and key must be
// 128 and 64 hex digits. Errors never quote a token or key.
Result<TokenPair> read_token_pair(const nlohmann::json& data, std::string_view udpid);

// Cloud text for a terminal: printable ASCII kept, anything else as '?', at most 160 characters.
std::string printable_text(std::string_view text);

}  // namespace cloudless::midea_cloud
