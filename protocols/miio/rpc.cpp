// JSON-RPC layer of miIO (docs/miio.md §1.4, §1.5). Every function here may see bytes from the
// network: nlohmann is only called in its non-throwing forms (parse with allow_exceptions = false,
// sax_parse, dump with error_handler_t::replace), and each entry point still catches as a last line
// of defence so no exception can escape into the daemon.
#include "protocols/miio/rpc.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <exception>
#include <limits>

#include "protocols/common/json_text.h"

namespace cloudless::miio {

namespace {

using json = nlohmann::json;

// Error text may quote payload bytes; keep it printable ASCII so it can be logged or put into JSON
// without a UTF-8 check (nlohmann's dump throws on invalid UTF-8 by default).
std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      out.push_back(c);
      continue;
    }
    char escaped[5];
    std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
    out += escaped;
  }
  return out;
}

std::string dump_safe(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

std::optional<std::int64_t> as_int64(const json& value) {
  if (value.is_number_unsigned()) {
    const auto unsigned_value = value.get<std::uint64_t>();
    if (unsigned_value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
    return static_cast<std::int64_t>(unsigned_value);
  }
  if (value.is_number_integer()) return value.get<std::int64_t>();
  return std::nullopt;
}

// Python's bytes.replace: every non-overlapping occurrence, left to right.
std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(text.size());
  std::size_t start = 0;
  for (std::size_t hit = text.find(from); hit != std::string_view::npos; hit = text.find(from, start)) {
    out.append(text.substr(start, hit - start));
    out.append(to);
    start = hit + from.size();
  }
  out.append(text.substr(start));
  return out;
}

// python-miio repair 3: a cloud reply to _sync.batch_gen_room_up_url is `{"id": 123456}\x00k`;
// keep what precedes the last NUL.
std::string cut_at_last_nul(std::string_view text) {
  const std::size_t nul = text.rfind('\0');
  if (nul == std::string_view::npos) return std::string(text);
  return std::string(text.substr(0, nul));
}

// node miio (safeishJSON.js) removes \x00-\x09 \x0B \x0C \x0E-\x1F \x7F-\x9F. The last range is
// code points (JS strings), so U+0080..U+009F are the UTF-8 pairs C2 80..C2 9F, never lone bytes
// (removing lone 0x80..0x9F bytes would break multi-byte characters).
std::string remove_control_characters(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 && byte != '\n' && byte != '\r') continue;
    if (byte == 0x7f) continue;
    if (byte == 0xc2 && i + 1 < text.size()) {
      const auto next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0x9f) {
        ++i;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

// node miio: Aqara gateway sub-devices (lumi.motion.aq2) send `[,]` / `[,,]` for empty slots.
std::string fill_empty_arrays(std::string_view text) {
  return replace_all(replace_all(text, "[,,]", "[null,null,null]"), "[,]", "[null,null]");
}

// python-miio repairs 2, 4, 5, 6 (docs/miio.md §1.5), each with the device that needed it.
std::string fix_otu_stat(std::string_view text) {  // power strip off the cloud: {"id": 1,,"otu_stat":0}
  return replace_all(text, ",,\"otu_stat\"", ",\"otu_stat\"");
}
std::string fix_value_00(std::string_view text) {  // 090615.curtain.jldj03 (python-miio#1411)
  return replace_all(text, "\"value\":00", "\"value\":0");
}
std::string fix_double_comma(std::string_view text) {  // xiaomi.vacuum.b112 fw 2.2.4_0049
  return replace_all(text, ",,", ",");
}
std::string fix_empty_result(std::string_view text) {  // xiaomi.vacuum.b112 fw 2.2.4_0050
  return replace_all(text, "\"result\":,", "");
}

// All repairs at once, ordered so none undoes another: NUL cut before control-character removal
// (which would delete the NUL), `[,,]` before `,,` → `,`. Our addition: python-miio and node only
// try them one by one.
std::string apply_all_repairs(std::string_view text) {
  std::string out = remove_control_characters(cut_at_last_nul(text));
  out = fill_empty_arrays(out);
  out = fix_otu_stat(out);
  out = fix_value_00(out);
  out = fix_empty_result(out);
  return fix_double_comma(out);
}

enum class ParseOutcome { ok, invalid, too_deep };

// Non-throwing parse with a depth cap: values nested deeper than kMaxJsonDepth are discarded while
// parsing (so memory stays linear) and reported, because dump() and operator== recurse and a
// 64 KiB payload of `[` would otherwise overflow the stack of whoever prints the reply.
// Deepest bracket nesting outside strings. A linear pre-scan is far cheaper than nlohmann's parser
// callback (which switches it to a slower DOM builder) and bounds the recursion of whoever later
// prints or compares the value.
int nesting_depth(std::string_view text) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') deepest = std::max(deepest, ++depth);
    else if ((c == ']' || c == '}') && depth > 0) --depth;
  }
  return deepest;
}

ParseOutcome try_parse(std::string_view text, json& out) {
  if (nesting_depth(text) > kMaxJsonDepth) return ParseOutcome::too_deep;
  json value = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return ParseOutcome::invalid;
  out = std::move(value);
  return ParseOutcome::ok;
}

// Collects nlohmann's own message and byte position for the original text (SAX, non-throwing).
class ErrorCapture final : public nlohmann::json_sax<json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& error) override {
    failed_ = true;
    position_ = position;
    // Drop the "[json.exception.parse_error.101] " prefix: it names nlohmann's class, not the problem.
    std::string_view message = error.what();
    if (message.starts_with("[json.exception.")) {
      const std::size_t end = message.find("] ");
      if (end != std::string_view::npos) message.remove_prefix(end + 2);
    }
    message_ = std::string(message);
    return false;
  }

  bool failed() const { return failed_; }
  // nlohmann counts the offending character as read: the 0-based byte offset is one less.
  std::size_t offset() const { return position_ > 0 ? position_ - 1 : 0; }
  const std::string& message() const { return message_; }

 private:
  bool failed_ = false;
  std::size_t position_ = 0;
  std::string message_;
};

ParseError describe_failure(std::string_view text) {
  ErrorCapture capture;
  json::sax_parse(text.begin(), text.end(), &capture);
  if (!capture.failed()) {
    // The original is well-formed, so only the depth cap can have rejected it.
    return parse_error("payload nests deeper than " + std::to_string(kMaxJsonDepth) + " levels", 0);
  }
  return parse_error("payload is not JSON, even after the firmware repairs: " + printable(capture.message()),
                     capture.offset());
}

Result<json> parse_payload_unguarded(std::string_view text) {
  json value;
  const ParseOutcome first = try_parse(text, value);
  if (first == ParseOutcome::ok) return value;
  if (first == ParseOutcome::too_deep) {
    return parse_error("payload nests deeper than " + std::to_string(kMaxJsonDepth) + " levels", 0);
  }

  // Each repair on the original text, in python-miio's order, then node miio's, then all together.
  using Repair = std::string (*)(std::string_view);
  constexpr Repair kRepairs[] = {
      fix_otu_stat,      cut_at_last_nul,   fix_value_00,              fix_double_comma,
      fix_empty_result,  fill_empty_arrays, remove_control_characters, apply_all_repairs,
  };
  for (const Repair repair : kRepairs) {
    const std::string candidate = repair(text);
    if (candidate == text) continue;  // this repair did not apply
    if (try_parse(candidate, value) == ParseOutcome::ok) return value;
  }
  return describe_failure(text);
}

Result<json> parse_object(std::string_view text, const char* what) {
  Result<json> parsed = parse_payload(text);
  if (!parsed) return parsed;
  if (!parsed->is_object()) return parse_error(std::string(what) + " is not a JSON object", 0);
  return parsed;
}

ParseError internal_error(const std::exception& error) {
  return parse_error(std::string("internal error while parsing payload: ") + printable(error.what()), 0);
}

Result<Reply> parse_reply_unguarded(std::string_view text) {
  Result<json> parsed = parse_object(text, "reply");
  if (!parsed) return parsed.error();
  json& object = *parsed;

  Reply reply;
  if (const auto id = object.find("id"); id != object.end()) {
    reply.id = as_int64(*id);
    if (!reply.id) return parse_error("reply id is not a 64-bit integer: " + printable(dump_safe(*id)), 0);
  }
  // exe_time is informational (ms); a strange type is ignored, not an error.
  if (const auto exe_time = object.find("exe_time"); exe_time != object.end()) reply.exe_time = as_int64(*exe_time);

  if (const auto error = object.find("error"); error != object.end()) {
    RpcError rpc_error;
    if (error->is_object()) {
      // {"code":-32601,"message":"Method not found."}; python-miio's push server says "error".
      if (const auto code = error->find("code"); code != error->end()) rpc_error.code = as_int64(*code).value_or(0);
      if (const auto message = error->find("message"); message != error->end() && message->is_string()) {
        rpc_error.message = message->get<std::string>();
      } else if (const auto text_field = error->find("error"); text_field != error->end() && text_field->is_string()) {
        rpc_error.message = text_field->get<std::string>();
      } else {
        rpc_error.message = dump_safe(*error);
      }
    } else if (error->is_string()) {
      rpc_error.message = error->get<std::string>();
    } else {
      rpc_error.code = as_int64(*error).value_or(0);
      rpc_error.message = dump_safe(*error);
    }
    reply.error = std::move(rpc_error);
    return reply;
  }
  if (const auto result = object.find("result"); result != object.end()) reply.result = std::move(*result);
  return reply;
}

Result<Request> parse_request_unguarded(std::string_view text) {
  Result<json> parsed = parse_object(text, "request");
  if (!parsed) return parsed.error();
  const json& object = *parsed;

  Request request;
  const auto id = object.find("id");
  if (id == object.end()) return parse_error("request has no id", 0);
  const std::optional<std::int64_t> id_value = as_int64(*id);
  if (!id_value) return parse_error("request id is not a 64-bit integer: " + printable(dump_safe(*id)), 0);
  request.id = *id_value;

  const auto method = object.find("method");
  if (method == object.end()) return parse_error("request has no method", 0);
  if (!method->is_string()) return parse_error("request method is not a string", 0);
  request.method = method->get<std::string>();

  // Absent or null params mean "none", as in python-miio; encode_request writes them as [].
  const auto params = object.find("params");
  request.params = params == object.end() || params->is_null() ? json::array() : *params;
  return request;
}

// The top level of a plain reply for read_reply: takes the id, hands the result's events to the
// reader, skips any other member, and stops at anything parse_reply would treat differently (an
// error member, a repeated id or result, nesting beyond the cap).
class ReplySax final : public nlohmann::json_sax<json> {
 public:
  explicit ReplySax(ResultReader& reader) : reader_(reader) {}

  std::optional<std::int64_t> id() const { return result_seen_ ? id_ : std::nullopt; }

  bool null() override { return scalar([&] { return reader_.null(); }, std::nullopt); }
  bool boolean(bool value) override { return scalar([&] { return reader_.boolean(value); }, std::nullopt); }
  bool number_integer(number_integer_t value) override {
    return scalar([&] { return reader_.number_integer(value); }, value);
  }
  bool number_unsigned(number_unsigned_t value) override {
    const std::optional<std::int64_t> id =
        value <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
            ? std::optional<std::int64_t>(static_cast<std::int64_t>(value))
            : std::nullopt;
    return scalar([&] { return reader_.number_unsigned(value); }, id);
  }
  bool number_float(number_float_t value, const string_t& text) override {
    return scalar([&] { return reader_.number_float(value, text); }, std::nullopt);
  }
  bool string(string_t& value) override { return scalar([&] { return reader_.string(value); }, std::nullopt); }
  bool binary(binary_t&) override { return false; }
  bool start_object(std::size_t size) override {
    if (depth_ == 0) return enter();  // the reply itself
    return open([&] { return reader_.start_object(size); });
  }
  bool key(string_t& name) override {
    if (depth_ > 1) return member_ != Member::result || reader_.key(name);
    if (name == "error") return false;  // an error reply: parse_reply reads it
    member_ = Member::other;
    if (name == "id") {
      if (id_seen_) return false;
      id_seen_ = true;
      member_ = Member::id;
    } else if (name == "result") {
      if (result_seen_) return false;
      result_seen_ = true;
      member_ = Member::result;
    }
    return true;
  }
  bool end_object() override { return close([&] { return reader_.end_object(); }); }
  bool start_array(std::size_t size) override {
    if (depth_ == 0) return false;  // a reply is an object
    return open([&] { return reader_.start_array(size); });
  }
  bool end_array() override { return close([&] { return reader_.end_array(); }); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  enum class Member { other, id, result };

  bool enter() {
    depth_ = 1;
    return true;
  }
  // A value that is a whole member's (depth 1) or part of one.
  template <typename Forward>
  bool scalar(Forward forward, std::optional<std::int64_t> as_id) {
    if (depth_ == 0) return false;  // a reply is an object
    if (member_ == Member::result) return forward();
    if (depth_ == 1 && member_ == Member::id) {
      if (!as_id) return false;  // parse_reply rejects an id that is not a 64-bit integer
      id_ = as_id;
    }
    return true;
  }
  template <typename Forward>
  bool open(Forward forward) {
    if (++depth_ > kMaxJsonDepth) return false;
    if (depth_ == 2 && member_ == Member::id) return false;  // an id that is a list or an object
    return member_ != Member::result || forward();
  }
  template <typename Forward>
  bool close(Forward forward) {
    --depth_;
    if (depth_ == 0) return true;  // the reply's end
    const bool ok = member_ != Member::result || forward();
    if (depth_ == 1) member_ = Member::other;  // the member's value is complete
    return ok;
  }

  ResultReader& reader_;
  int depth_ = 0;
  Member member_ = Member::other;
  bool id_seen_ = false;
  bool result_seen_ = false;
  std::optional<std::int64_t> id_;
};

}  // namespace

EncodedParams encode_params(const nlohmann::json& params) {
  return {params.is_null() ? std::string("[]") : dump_safe(params)};
}

std::string encode_request(std::int64_t id, std::string_view method, const EncodedParams& params) {
  // Written by hand so the member order is the conventional id, method, params, into one buffer: a
  // poll sends one request a second per device.
  char id_text[24];
  const auto id_end = std::to_chars(std::begin(id_text), std::end(id_text), id).ptr;
  std::string out;
  out.reserve(40 + method.size() + params.text.size());
  out += "{\"id\":";
  out.append(id_text, id_end);
  out += ",\"method\":";
  append_json_string(out, method);
  out += ",\"params\":";
  out += params.text;
  out += '}';
  return out;
}

std::string encode_request(std::int64_t id, std::string_view method, const nlohmann::json& params) {
  return encode_request(id, method, encode_params(params));
}

Result<nlohmann::json> parse_payload(std::string_view text) {
  try {
    return parse_payload_unguarded(text);
  } catch (const std::exception& error) {
    return internal_error(error);
  }
}

Result<Reply> parse_reply(std::string_view text) {
  try {
    return parse_reply_unguarded(text);
  } catch (const std::exception& error) {
    return internal_error(error);
  }
}

Result<Request> parse_request(std::string_view text) {
  try {
    return parse_request_unguarded(text);
  } catch (const std::exception& error) {
    return internal_error(error);
  }
}

std::optional<std::int64_t> read_reply(std::string_view text, ResultReader& reader) {
  try {
    reader.reset();
    ReplySax sax(reader);
    if (!json::sax_parse(text.begin(), text.end(), &sax)) return std::nullopt;
    return sax.id();
  } catch (const std::exception&) {
    return std::nullopt;  // parse_reply will say what is wrong
  }
}

bool is_ok_result(const nlohmann::json& result) {
  if (result.is_number_integer()) return as_int64(result) == 0;
  if (result.is_string()) {
    const auto& text = result.get_ref<const std::string&>();
    return text == "ok" || text == "OK";
  }
  return result.is_array() && result.size() == 1 && result[0].is_string() &&
         result[0].get_ref<const std::string&>() == "ok";
}

}  // namespace cloudless::miio
