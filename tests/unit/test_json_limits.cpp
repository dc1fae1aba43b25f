// JSON at the edges: untrusted input with nesting bounded at parse time (a 60,000-deep payload used to
// overflow the stack in the first dump()), bounded excerpts for log lines, and strings written by hand
// (method names in miIO requests, last_seen in state messages) exactly as nlohmann's dump writes them.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "daemon/model/json_excerpt.h"
#include "protocols/common/json_limits.h"
#include "protocols/common/json_text.h"

using cloudless::append_json_string;
using cloudless::kMaxJsonDepth;
using cloudless::parse_untrusted_json;
using cloudless::model::json_excerpt;
using nlohmann::json;

namespace {
std::string nested_arrays(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }
std::string nested_objects(int depth) {
  std::string text;
  for (int i = 0; i < depth; ++i) text += "{\"a\":";
  text += "1";
  text += std::string(depth, '}');
  return text;
}
}  // namespace

TEST_CASE("untrusted JSON: ordinary commands parse as they are", "[json]") {
  const auto parsed = parse_untrusted_json(R"({"state":"ON","target_temperature":24.5,"list":[1,[2,{"x":null}]]})");
  REQUIRE(parsed);
  CHECK((*parsed)["list"][1][1]["x"].is_null());
  CHECK(parse_untrusted_json("42").value() == 42);
  CHECK(parse_untrusted_json("\"text\"").value() == "text");
}

TEST_CASE("untrusted JSON: nesting up to the limit is accepted, one level more is refused", "[json]") {
  const int depth = GENERATE(1, 2, 31, kMaxJsonDepth);
  CAPTURE(depth);
  CHECK(parse_untrusted_json(nested_arrays(depth)));
  CHECK(parse_untrusted_json(nested_objects(depth)));
  const auto too_deep = parse_untrusted_json(nested_arrays(depth + kMaxJsonDepth));
  REQUIRE_FALSE(too_deep);
  CHECK(too_deep.error().what == "JSON nested deeper than 32 levels");
  CHECK_FALSE(parse_untrusted_json(nested_objects(kMaxJsonDepth + 1)));
  CHECK_FALSE(parse_untrusted_json("{\"ok\":1,\"deep\":" + nested_arrays(kMaxJsonDepth) + "}"));
}

TEST_CASE("untrusted JSON: 60,000 levels are refused without recursion", "[json]") {
  const std::string payload = "{\"x\":" + nested_arrays(60000) + "}";
  const auto parsed = parse_untrusted_json(payload);
  REQUIRE_FALSE(parsed);
  CHECK(parsed.error().what == "JSON nested deeper than 32 levels");
}

TEST_CASE("untrusted JSON: malformed text says so, with the byte", "[json]") {
  for (const char* text : {"", "{", "{\"a\":}", "[1,2", "nul", "{\"a\":1}}"}) {
    CAPTURE(text);
    const auto parsed = parse_untrusted_json(text);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().what == "malformed JSON");
  }
  CHECK(parse_untrusted_json("{\"a\":}").error().offset == 5);
}

TEST_CASE("untrusted JSON: a number beyond double's range is an error, not an exception", "[json]") {
  // nlohmann throws out_of_range (not parse_error) for these: a /set payload of {"state":1e999}
  // must be refused like any malformed one.
  for (const char* text : {"{\"state\":1e999}", "[-1e400]", "1e309"}) {
    INFO(text);
    cloudless::Result<json> parsed = json();
    REQUIRE_NOTHROW(parsed = parse_untrusted_json(text));
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().what == "JSON number out of range");
  }
}

TEST_CASE("json_excerpt: short values whole, long ones cut with their size", "[json]") {
  CHECK(json_excerpt(json{{"state", "ON"}}) == R"({"state":"ON"})");
  const json big = {{"x", std::string(60000, 'z')}};
  const std::string excerpt = json_excerpt(big);
  CHECK(excerpt.size() < 240);
  CHECK(excerpt.rfind("{\"x\":\"zzz", 0) == 0);
  CHECK(excerpt.find("… (60008 bytes)") != std::string::npos);
  CHECK(json_excerpt(big, 10) == "{\"x\":\"zzzz… (60008 bytes)");
}

TEST_CASE("json_excerpt: never cuts inside a UTF-8 character, never throws on bad UTF-8", "[json]") {
  const json text = "ééééé";  // dumped: '"' then five 2-byte characters then '"': 12 bytes
  CHECK(json_excerpt(text, 4) == "\"é… (12 bytes)");  // byte 4 is the second byte of the second é
  CHECK(json_excerpt(text, 5) == "\"éé… (12 bytes)");
  CHECK_NOTHROW(json_excerpt(json(std::string("\xff\xfe bad"))));
}

TEST_CASE("json_text: a string is appended as nlohmann's dump writes it, escaped or not", "[common][json]") {
  const std::vector<std::string> texts{
      "get_prop", "miIO.info", "2026-11-22T10:15:03Z", "", " ~", "slash/ok", "a\"b", "a\\b", "tab\there",
      std::string("nul\0x", 5), "del\x7f", "\xc3\xa9t\xc3\xa9", "bad\xff", "\x1f"};
  for (const std::string& text : texts) {
    std::string out = "prefix:";
    append_json_string(out, text);
    CHECK(out == "prefix:" + nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
}
