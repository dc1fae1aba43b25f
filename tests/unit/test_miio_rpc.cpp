// miIO JSON-RPC layer: request text, the firmware quirk repairs, replies and success values.
//
// Sources, per case: docs/miio.md §1.4–§1.5 (python-miio protocol.py repairs and
// miio/tests/test_protocol.py examples, node miio safeishJSON.js), §2.7 and §4.2 (reply shapes),
// §6.6/§6.7 (packet vectors).
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "protocols/common/bytes.h"
#include "protocols/miio/packet.h"
#include "protocols/miio/rpc.h"

using namespace cloudless;
using namespace cloudless::miio;
using json = nlohmann::json;
using namespace std::string_view_literals;

namespace {

json parse_ok(std::string_view text) {
  const Result<json> parsed = parse_payload(text);
  if (!parsed) FAIL("parse_payload failed: " << parsed.error().describe());
  return *parsed;
}

// Error text must be safe to log or embed in JSON: printable ASCII only.
bool is_printable_ascii(std::string_view text) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f) return false;
  }
  return true;
}

// A repair case: the text a device sent and what it must parse to.
struct RepairCase {
  const char* source;
  std::string_view text;
  const char* expected;  // compact JSON
};
const RepairCase kRepairs[] = {
    // python-miio repair 2 (test_protocol.py): zimi.powerstrip not connected to the cloud.
    {"python-miio otu_stat", R"({"id": 123456,,"otu_stat":0})"sv, R"({"id":123456,"otu_stat":0})"},
    // python-miio repair 3 (test_protocol.py): cloud reply to _sync.batch_gen_room_up_url.
    {"python-miio NUL then garbage", "{\"id\": 123456}\0k"sv, R"({"id":123456})"},
    // Repair 3 cuts at the *last* NUL.
    {"python-miio last NUL", "{\"id\": 1}\0\0x"sv, R"({"id":1})"},
    // python-miio repair 4: 090615.curtain.jldj03 (python-miio#1411).
    {"python-miio value 00", R"({"id":1,"result":[{"did":"x","siid":2,"piid":1,"code":0,"value":00}]})"sv,
     R"({"id":1,"result":[{"code":0,"did":"x","piid":1,"siid":2,"value":0}]})"},
    // python-miio repair 5: xiaomi.vacuum.b112 fw 2.2.4_0049.
    {"python-miio double comma", R"({"id":1,"result":[1,,2]})"sv, R"({"id":1,"result":[1,2]})"},
    // python-miio repair 6: xiaomi.vacuum.b112 fw 2.2.4_0050 (docs/miio.md §6.6 vector).
    {"python-miio empty result", R"({"id":2,"result":,"exe_time":0})"sv, R"({"exe_time":0,"id":2})"},
    // node miio: Aqara gateway sub-devices (lumi.motion.aq2).
    {"node [,]", R"({"id":1,"result":[,]})"sv, R"({"id":1,"result":[null,null]})"},
    {"node [,,]", R"({"id":1,"result":[,,]})"sv, R"({"id":1,"result":[null,null,null]})"},
    // node miio: raw control characters inside a string are invalid JSON; they are removed.
    {"node control chars", "{\"id\":1,\"result\":[\"a\tb\x01\x7f\"]}"sv, R"({"id":1,"result":["ab"]})"},
    // node's range \x7F-\x9F means code points: C2 85 (U+0085) goes, the other bytes of "é" (C3 A9) stay.
    {"node C1 control", "{\"id\":1,\"r\":\"\xc3\xa9\x01\xc2\x85\"}"sv, "{\"id\":1,\"r\":\"\xc3\xa9\"}"},
    // Ours: two quirks in one payload only parse with all repairs applied together.
    {"combined otu_stat + NUL", "{\"id\": 123456,,\"otu_stat\":0}\0k"sv, R"({"id":123456,"otu_stat":0})"},
};

// Text that must be rejected (without throwing).
struct GarbageCase {
  const char* source;
  std::string_view text;
};
const GarbageCase kGarbage[] = {
    {"empty", ""sv},
    {"only NULs", "\0\0"sv},
    {"python-miio unterminated (test_protocol.py, HEAD raises)", R"({"id": 123456,,"otu_stat":0)"sv},
    {"plain text", "not json"sv},
    {"lone brace", "{"sv},
    {"lone bracket", "]"sv},
    {"trailing comma", R"({"id":1,})"sv},
    {"invalid UTF-8 in a string", "{\"id\":1,\"result\":\"\xff\xfe\"}"sv},
    {"overlong UTF-8", "{\"r\":\"\xc0\xaf\"}"sv},
    {"lone surrogate escape", R"({"r":"\ud800"})"sv},
    {"binary", "\x8b\x00\x13\xfe\xff\x7f\x01"sv},
    {"two objects", R"({"id":1}{"id":2})"sv},
};

}  // namespace

TEST_CASE("rpc: encode_request writes compact JSON in id, method, params order", "[miio][rpc]") {
  // docs/miio.md §6.7 #3 plaintext.
  CHECK(encode_request(2, "get_prop", json::array({"power", "temperature"})) ==
        R"({"id":2,"method":"get_prop","params":["power","temperature"]})");
  CHECK(encode_request(1, "miIO.info", json::array()) == R"({"id":1,"method":"miIO.info","params":[]})");
  // python-miio sends [] when there are no params.
  CHECK(encode_request(1, "miIO.info", nullptr) == R"({"id":1,"method":"miIO.info","params":[]})");
  // Object params (docs/miio.md §4.1); nlohmann orders object members by name, devices do not care.
  CHECK(encode_request(7, "miIO.config_router", json{{"ssid", "x"}, {"passwd", "y"}, {"uid", 0}}) ==
        R"({"id":7,"method":"miIO.config_router","params":{"passwd":"y","ssid":"x","uid":0}})");
  // MIoT set_properties (docs/miio.md §5.3): values keep their JSON type.
  CHECK(encode_request(9999, "set_properties",
                       json::array({json{{"did", "power"}, {"siid", 2}, {"piid", 1}, {"value", false}}})) ==
        R"({"id":9999,"method":"set_properties","params":[{"did":"power","piid":1,"siid":2,"value":false}]})");
  CHECK(encode_request(-1, "a\"b", json::array()) == R"({"id":-1,"method":"a\"b","params":[]})");
}

TEST_CASE("rpc: encode_request never throws on invalid UTF-8", "[miio][rpc]") {
  std::string text;
  REQUIRE_NOTHROW(text = encode_request(1, "bad\xff", json::array({std::string("x\xfe")})));
  CHECK(text == "{\"id\":1,\"method\":\"bad\xef\xbf\xbd\",\"params\":[\"x\xef\xbf\xbd\"]}");
}

TEST_CASE("rpc: encode_request + encode_message rebuild docs/miio.md §6.7 #3", "[miio][rpc]") {
  const std::optional<Token> token = parse_token("00112233445566778899aabbccddeeff");
  REQUIRE(token);
  const std::string text = encode_request(2, "get_prop", json::array({"power", "temperature"}));
  CHECK(to_hex(encode_message(*token, 0x0badcafe, 0x3e9, as_bytes(text))) ==
        "21310060000000000badcafe000003e9ac45fabf8560aacd15bd1014c40e68a80efba9576571a58d5364c7399a86a7151976572b04ff"
        "f1ad0d3bea41c5b536ca55f86256ddfc59a8d325f63678448a1efc7152590cf05c853cfb608919588ade");
}

TEST_CASE("rpc: well-formed payloads parse unchanged", "[miio][rpc]") {
  CHECK(parse_ok(R"({"result":["ok"],"id":1})") == json{{"result", {"ok"}}, {"id", 1}});
  // python-miio serialization with spaces (docs/miio.md §1.4).
  CHECK(parse_ok(R"({"id": 1, "method": "miIO.info", "params": []})") ==
        json{{"id", 1}, {"method", "miIO.info"}, {"params", json::array()}});
  // Valid UTF-8 is kept, C1 code points in a valid string too (repairs only run on failure).
  CHECK(parse_ok("{\"r\":\"K\xc3\xbc" "che\xc2\x85\"}")["r"] == "K\xc3\xbc" "che\xc2\x85");
  // Scalars are JSON too; parse_reply is the one that insists on an object.
  CHECK(parse_ok("0") == 0);
}

TEST_CASE("rpc: firmware quirks are repaired", "[miio][rpc]") {
  for (const RepairCase& repair : kRepairs) {
    CAPTURE(repair.source);
    const Result<json> parsed = parse_payload(repair.text);
    if (!parsed) FAIL_CHECK(parsed.error().describe());
    if (!parsed) continue;
    CHECK(parsed->dump(-1, ' ', false, json::error_handler_t::replace) == repair.expected);
  }
}

TEST_CASE("rpc: docs/miio.md §6.6 packets decode and parse like python-miio HEAD", "[miio][rpc]") {
  // python-miio test_protocol.py inputs: token 16×00, did 01234567, stamp 0.
  const Token zero_token{};
  struct Row {
    const char* packet;
    const char* expected;  // nullptr: must fail
  };
  const Row rows[] = {
      {"21310030000000000123456700000000dbcfd26369cf65a172b5737cc131f6de754865dce4359d961e1bfee48e12817e",
       R"({"id":123456})"},
      {"213100400000000001234567000000004a81f939e5b701fdb6f54fd1c648d05686a6b5a0fdd19405ef0d8af3cadf31c9c860bc08af01cb"
       "81dd82a64069139320",
       R"({"id":123456,"otu_stat":0})"},
      {"21310040000000000123456700000000aa3fe2fa57d5a869dd83d647d20253177da8b20fe07cf5a57f768eff02176097e46c7753459df3"
       "1bb05b6485932c2e7b",
       R"({"id":123456})"},
      {"2131004000000000012345670000000093788c99bbce43b0249e11970fcf80771ceb318d072db59f133ca49e12fc51aa67c54763d69e33"
       "662a5d2e7b2441a2a2",
       R"({"exe_time":0,"id":2})"},
      {"213100400000000001234567000000009e7d13aa47e08d9c08f62cf193a5d53386a6b5a0fdd19405ef0d8af3cadf31c978eb8cfbf60518"
       "8c5f5a5ea470f45c02",
       nullptr},
  };
  for (const Row& row : rows) {
    CAPTURE(row.packet);
    const std::optional<Bytes> packet = from_hex(row.packet);
    REQUIRE(packet);
    const auto message = decode_message(zero_token, *packet);
    REQUIRE(message.has_value());
    const Result<json> parsed = parse_payload(message->payload);
    if (row.expected == nullptr) {
      CHECK_FALSE(parsed.has_value());
      continue;
    }
    REQUIRE(parsed.has_value());
    CHECK(parsed->dump() == row.expected);
  }
}

TEST_CASE("rpc: garbage is rejected with a printable message", "[miio][rpc]") {
  for (const GarbageCase& garbage : kGarbage) {
    CAPTURE(garbage.source);
    Result<json> parsed = json();
    REQUIRE_NOTHROW(parsed = parse_payload(garbage.text));
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().kind == ErrorKind::malformed);
    CHECK(parsed.error().offset <= garbage.text.size());
    CHECK(is_printable_ascii(parsed.error().what));
    CHECK_FALSE(parse_reply(garbage.text).has_value());
    CHECK_FALSE(parse_request(garbage.text).has_value());
  }
}

TEST_CASE("rpc: parse errors name nlohmann's reason and the byte offset", "[miio][rpc]") {
  const Result<json> parsed = parse_payload(R"({"id":1,})");
  REQUIRE_FALSE(parsed.has_value());
  CHECK(parsed.error().what ==
        "payload is not JSON, even after the firmware repairs: parse error at line 1, column 9: syntax error while "
        "parsing object key - unexpected '}'; expected string literal");
  CHECK(parsed.error().offset == 8);  // the '}' where a key was expected

  const Result<json> empty = parse_payload("");
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error().offset == 0);
}

TEST_CASE("rpc: nesting depth is capped", "[miio][rpc]") {
  const auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  CHECK(parse_payload(nested(kMaxJsonDepth)).has_value());
  const Result<json> too_deep = parse_payload(nested(kMaxJsonDepth + 1));
  REQUIRE_FALSE(too_deep.has_value());
  CHECK(too_deep.error().what == "payload nests deeper than 64 levels");
  // The largest miIO payload (65487 bytes) of '[' must neither crash nor recurse.
  CHECK_FALSE(parse_payload(std::string(kMaxPlaintext, '[')).has_value());
  CHECK_FALSE(parse_payload(nested(30000)).has_value());
}

TEST_CASE("rpc: parse_reply result, error and exe_time", "[miio][rpc]") {
  SECTION("result (docs/miio.md §6.7 #4)") {
    const auto reply = parse_reply(R"({"result":["on",32],"id":2})");
    REQUIRE(reply.has_value());
    CHECK(reply->id == 2);
    CHECK(reply->result == json::array({"on", 32}));
    CHECK_FALSE(reply->error);
    CHECK_FALSE(reply->exe_time);
  }
  SECTION("MIoT result with exe_time (docs/miio.md §6.7 #6)") {
    const auto reply = parse_reply(
        R"({"id":3,"result":[{"did":"power","siid":2,"piid":1,"code":0,"value":true},{"did":"electric_power","siid":5,"piid":6,"code":0,"value":1500}],"exe_time":40})");
    REQUIRE(reply.has_value());
    CHECK(reply->id == 3);
    REQUIRE(reply->result.is_array());
    CHECK(reply->result.size() == 2);
    CHECK(reply->result[1]["value"] == 1500);
    CHECK(reply->exe_time == 40);
  }
  SECTION("error (docs/miio.md §6.7 #9)") {
    const auto reply = parse_reply(R"({"id":5,"error":{"code":-32601,"message":"Method not found."}})");
    REQUIRE(reply.has_value());
    CHECK(reply->id == 5);
    REQUIRE(reply->error);
    CHECK(reply->error->code == -32601);
    CHECK(reply->error->message == "Method not found.");
    CHECK(reply->result.is_null());
  }
  SECTION("error with exe_time (aholstenson/miio#298, zhimi.heater.mc2)") {
    const auto reply = parse_reply(R"({"id":4,"error":{"code":-5001,"message":"command error"},"exe_time":680})");
    REQUIRE(reply.has_value());
    REQUIRE(reply->error);
    CHECK(reply->error->code == -5001);
    CHECK(reply->error->message == "command error");
    CHECK(reply->exe_time == 680);
  }
  SECTION("-9999 user ack timeout (python-miio#1265, chuangmi.plug.212a01)") {
    const auto reply = parse_reply(R"({"id":1,"error":{"code":-9999,"message":"user ack timeout"}})");
    REQUIRE(reply.has_value());
    REQUIRE(reply->error);
    CHECK(reply->error->code == -9999);
  }
  SECTION("push-server error shape: text under \"error\" (docs/miio.md §1.4)") {
    const auto reply = parse_reply(R"({"id":1,"error":{"code":-1,"error":"missing method"}})");
    REQUIRE(reply.has_value());
    REQUIRE(reply->error);
    CHECK(reply->error->code == -1);
    CHECK(reply->error->message == "missing method");
  }
  SECTION("bare error string") {
    const auto reply = parse_reply(R"({"id":1,"error":"busy"})");
    REQUIRE(reply.has_value());
    REQUIRE(reply->error);
    CHECK(reply->error->code == 0);
    CHECK(reply->error->message == "busy");
  }
  SECTION("config_router answers a bare 0 (docs/miio.md §4.2, hmi206 fw 1.3.9_0005)") {
    const auto reply = parse_reply(R"({"result":0,"id":17})");
    REQUIRE(reply.has_value());
    CHECK(reply->result == 0);
    CHECK(is_ok_result(reply->result));
  }
  SECTION("repaired empty result (xiaomi.vacuum.b112): no result, exe_time kept") {
    const auto reply = parse_reply(R"({"id":2,"result":,"exe_time":0})");
    REQUIRE(reply.has_value());
    CHECK(reply->id == 2);
    CHECK(reply->result.is_null());
    CHECK_FALSE(reply->error);
    CHECK(reply->exe_time == 0);
  }
  SECTION("no id") {
    const auto reply = parse_reply(R"({"result":["ok"]})");
    REQUIRE(reply.has_value());
    CHECK_FALSE(reply->id);
  }
  SECTION("id that is not an integer") {
    const auto reply = parse_reply(R"({"id":"1","result":["ok"]})");
    REQUIRE_FALSE(reply.has_value());
    CHECK(reply.error().what == R"(reply id is not a 64-bit integer: "1")");
    CHECK_FALSE(parse_reply(R"({"id":1.5,"result":0})").has_value());
    CHECK_FALSE(parse_reply(R"({"id":18446744073709551615,"result":0})").has_value());
  }
  SECTION("not an object") {
    const auto reply = parse_reply(R"(["ok"])");
    REQUIRE_FALSE(reply.has_value());
    CHECK(reply.error().what == "reply is not a JSON object");
  }
}

TEST_CASE("rpc: parse_request", "[miio][rpc]") {
  SECTION("python-miio serialization (docs/miio.md §6.7 #2)") {
    const auto request = parse_request(R"({"id": 1, "method": "miIO.info", "params": []})");
    REQUIRE(request.has_value());
    CHECK(request->id == 1);
    CHECK(request->method == "miIO.info");
    CHECK(request->params == json::array());
  }
  SECTION("method first, id last (docs/miio.md §6.3 capture)") {
    const auto request = parse_request(R"({"method":"miIO.info","params":[],"id":123})");
    REQUIRE(request.has_value());
    CHECK(request->id == 123);
  }
  SECTION("round trip with encode_request") {
    const json params = json::array({json{{"did", "power"}, {"siid", 2}, {"piid", 1}}});
    const auto request = parse_request(encode_request(42, "get_properties", params));
    REQUIRE(request.has_value());
    CHECK(request->id == 42);
    CHECK(request->method == "get_properties");
    CHECK(request->params == params);
  }
  SECTION("params default to []") {
    const auto request = parse_request(R"({"id":3,"method":"get_power"})");
    REQUIRE(request.has_value());
    CHECK(request->params == json::array());
    const auto null_params = parse_request(R"({"id":3,"method":"get_power","params":null})");
    REQUIRE(null_params.has_value());
    CHECK(null_params->params == json::array());
  }
  SECTION("missing or mistyped fields") {
    CHECK(parse_request(R"({"method":"x"})").error().what == "request has no id");
    CHECK(parse_request(R"({"id":1})").error().what == "request has no method");
    CHECK(parse_request(R"({"id":1,"method":5})").error().what == "request method is not a string");
    CHECK(parse_request(R"({"id":"1","method":"x"})").error().what == R"(request id is not a 64-bit integer: "1")");
    CHECK(parse_request(R"([1])").error().what == "request is not a JSON object");
  }
}

TEST_CASE("rpc: is_ok_result", "[miio][rpc]") {
  // Success answers of miIO.config_router and setters (docs/miio.md §4.2, §1.4).
  CHECK(is_ok_result(json(0)));
  CHECK(is_ok_result(json(0u)));
  CHECK(is_ok_result(json("ok")));
  CHECK(is_ok_result(json("OK")));
  CHECK(is_ok_result(json::array({"ok"})));
  CHECK(is_ok_result(parse_ok(R"({"result":["ok"]})")["result"]));

  CHECK_FALSE(is_ok_result(json("error")));
  CHECK_FALSE(is_ok_result(json(1)));
  CHECK_FALSE(is_ok_result(json(-1)));
  CHECK_FALSE(is_ok_result(json::array({"fail"})));
  CHECK_FALSE(is_ok_result(json::array({"ok", "ok"})));
  CHECK_FALSE(is_ok_result(json::array()));
  CHECK_FALSE(is_ok_result(json(nullptr)));
  CHECK_FALSE(is_ok_result(json(false)));
  CHECK_FALSE(is_ok_result(json(0.0)));
  CHECK_FALSE(is_ok_result(json("Ok")));
  CHECK_FALSE(is_ok_result(json::object()));
}
