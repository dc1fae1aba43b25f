// The JSON-RPC layer carried inside miIO packets (docs/miio.md §1.4, §1.5, §5.3). Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "protocols/common/result.h"

namespace cloudless::miio {

// Compact JSON {"id":N,"method":"…","params":…}, no trailing NUL (devices accept both). A null
// `params` is sent as [] (python-miio does the same). Never throws: invalid UTF-8 in `method` or
// in `params` strings is replaced by U+FFFD.
std::string encode_request(std::int64_t id, std::string_view method, const nlohmann::json& params);

// A call's parameters as the JSON text encode_request writes. A plug polls with the same parameters
// every time: serialised once, they cost a copy per poll instead of a DOM copy and a dump.
struct EncodedParams {
  std::string text;
};
EncodedParams encode_params(const nlohmann::json& params);
std::string encode_request(std::int64_t id, std::string_view method, const EncodedParams& params);

// Parses a device payload, applying the known firmware repairs one at a time when plain parsing fails:
// ",,\"otu_stat\"" (power strips), cut at the last NUL, "\"value\":00", ",," → ",", "\"result\":,",
// "[,]"/"[,,]" → nulls, and control characters removed; finally all of them together. Rejects
// invalid UTF-8 and nesting deeper than kMaxJsonDepth. On failure the ParseError describes the
// original text (offset = byte offset in `text`). Never throws.
constexpr int kMaxJsonDepth = 64;
Result<nlohmann::json> parse_payload(std::string_view text);

struct RpcError {
  std::int64_t code = 0;
  std::string message;
};

struct Reply {
  std::optional<std::int64_t> id;  // absent in some cloud-ish replies
  nlohmann::json result;           // null when the reply is an error (or carries no "result")
  std::optional<RpcError> error;
  std::optional<std::int64_t> exe_time;  // newer firmware: device-side execution time in ms
};

// A reply object: {"id":…,"result":…} or {"id":…,"error":{"code":…,"message":…}}, optionally with
// "exe_time". The push-server error shape {"code":…,"error":"text"} and a bare error string are
// accepted too (message = that text).
Result<Reply> parse_reply(std::string_view text);

// A reply's "result" read straight into what the caller wants, from nlohmann's parse events instead
// of its DOM: a caller that knows the shape it asked for (a get_properties list) skips building and
// freeing a tree of maps for every poll (docs/build.md §9). reset() runs before each reply; a
// reader returns false from any event to say "not the shape I read", and the reply is then parsed
// the general way.
class ResultReader : public nlohmann::json_sax<nlohmann::json> {
 public:
  virtual void reset() = 0;
  bool binary(binary_t&) override { return false; }  // JSON text has no binary values
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }
};

// The id of a reply of the plain shape {"id":N,"result":…} (other members ignored, at most
// kMaxJsonDepth levels), its result's events given to `reader`. nullopt for anything else: an error
// reply, no id or no result, text that is not strict JSON or that the reader refused. Then
// parse_reply decides, with the firmware repairs, so what a reader accepts reads the same both ways.
// Never throws.
std::optional<std::int64_t> read_reply(std::string_view text, ResultReader& reader);

// A request object as a device sees it (simulators, tests): id, method, params.
// "params" defaults to [] when absent or null (python-miio always sends it, as [] when empty).
struct Request {
  std::int64_t id = 0;
  std::string method;
  nlohmann::json params;
};
Result<Request> parse_request(std::string_view text);

// miIO.config_router success answers differ by firmware: 0, "ok", "OK" or ["ok"] (docs/miio.md §4.2).
bool is_ok_result(const nlohmann::json& result);

}  // namespace cloudless::miio
