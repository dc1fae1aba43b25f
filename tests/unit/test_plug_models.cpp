// Plug model table and the pure decoders from device replies to readings (docs/miio.md §5).
#include <catch2/catch.hpp>

#include "protocols/miio/plug_models.h"
#include "protocols/miio/rpc.h"

using namespace cloudless::miio;
using nlohmann::json;

TEST_CASE("every table model declares a switch, a call for each switch it has, and sane MIoT batches") {
  for (const PlugModel& model : plug_models()) {
    CAPTURE(model.model);
    CHECK(model.has(Quantity::on));
    CHECK(switch_call(model, Quantity::on, true).has_value());
    // A USB or LED the model has is declared as a settable switch: it must have a call both ways.
    for (const Quantity secondary : {Quantity::usb, Quantity::led}) {
      if (!model.has(secondary)) continue;
      CAPTURE(quantity_name(secondary));
      CHECK(switch_call(model, secondary, true).has_value());
      CHECK(switch_call(model, secondary, false).has_value());
    }
    if (model.dialect == Dialect::miot) {
      std::size_t total = 0;
      for (const json& batch : miot_get_batches(model)) {
        CHECK(batch.size() <= static_cast<std::size_t>(model.max_properties_per_request));
        total += batch.size();
      }
      CHECK(total == model.miot.size());
    }
  }
}

TEST_CASE("chuangmi.plug.v3: get_prop bools, wifi_led string, get_power in 0.01 W") {
  const PlugModel* v3 = find_plug_model("chuangmi.plug.v3");
  REQUIRE(v3);
  CHECK(legacy_get_prop_params(*v3) == json::parse(R"(["on","usb_on","temperature","wifi_led"])"));
  // HA #31653: a real v3 answered three values to four names.
  auto reading = decode_legacy_props(*v3, json::parse("[false, false, 42]"));
  REQUIRE(reading);
  CHECK(reading->on == false);
  CHECK(reading->usb == false);
  CHECK(reading->temperature == 42);
  CHECK_FALSE(reading->led.has_value());
  // python-miio test: get_power [300] = 3.0 W.
  auto watts = decode_get_power(json::parse("[300]"));
  REQUIRE(watts);
  CHECK(*watts == Approx(3.0));
  CHECK_FALSE(decode_get_power(json::parse(R"(["x"])")));
  CHECK(switch_call(*v3, Quantity::on, false)->method == "set_power");
  CHECK(switch_call(*v3, Quantity::on, false)->params == json::parse(R"(["off"])"));
  CHECK(switch_call(*v3, Quantity::usb, true)->method == "set_usb_on");
  CHECK(switch_call(*v3, Quantity::led, true)->params == json::parse(R"(["on"])"));
}

TEST_CASE("chuangmi.plug.v1 switches with set_on/set_off and no params") {
  const PlugModel* v1 = find_plug_model("chuangmi.plug.v1");
  REQUIRE(v1);
  CHECK(switch_call(*v1, Quantity::on, true)->method == "set_on");
  CHECK(switch_call(*v1, Quantity::on, false)->method == "set_off");
  CHECK(switch_call(*v1, Quantity::on, false)->params == json::array());
  CHECK_FALSE(switch_call(*v1, Quantity::led, true));
}

TEST_CASE("chuangmi.plug.m1: 'on'/'off' strings; reply seen ['off', 25]") {
  const PlugModel* m1 = find_plug_model("chuangmi.plug.m1");
  REQUIRE(m1);
  auto reading = decode_legacy_props(*m1, json::parse(R"(["off", 25])"));
  REQUIRE(reading);
  CHECK(reading->on == false);
  CHECK(reading->temperature == 25);
  CHECK(decode_legacy_props(*m1, json::parse(R"(["ON", null])"))->on == true);
  CHECK_FALSE(decode_legacy_props(*m1, json::parse(R"({"power":"on"})")));
}

TEST_CASE("power strip: power_consume_rate is the load in W") {
  const PlugModel* strip = find_plug_model("zimi.powerstrip.v2");
  REQUIRE(strip);
  // Values from python-miio's zimi.powerstrip.v2 fixture.
  auto reading = decode_legacy_props(*strip, json::parse(R"(["on", 48.7, 0.05, 4.09, "off"])"));
  REQUIRE(reading);
  CHECK(reading->power == Approx(4.09));
  CHECK(reading->current == Approx(0.05));
  CHECK(reading->temperature == Approx(48.7));
  CHECK(reading->led == false);
}

TEST_CASE("chuangmi.plug.212a01: MIoT scaling (5/6 ×0.01 W, 5/1 Wh → kWh)") {
  const PlugModel* plug = find_plug_model("chuangmi.plug.212a01");
  REQUIRE(plug);
  // docs/miio.md §6.7 vector 6, plus the energy counter.
  const json result = json::parse(R"([
    {"did":"on","siid":2,"piid":1,"code":0,"value":true},
    {"did":"power","siid":5,"piid":6,"code":0,"value":1500},
    {"did":"energy","siid":5,"piid":1,"code":0,"value":3215},
    {"did":"voltage","siid":5,"piid":3,"code":0,"value":220},
    {"did":"x","siid":9,"piid":9,"code":-4003}])");
  auto reading = decode_miot_properties(*plug, result);
  REQUIRE(reading);
  CHECK(reading->on == true);
  CHECK(reading->power == Approx(15.0));
  CHECK(reading->energy == Approx(3.215));
  CHECK(reading->voltage == Approx(220));
  CHECK(miot_get_batches(*plug).front().front() == json::parse(R"({"did":"on","siid":2,"piid":1})"));
  const auto off = switch_call(*plug, Quantity::on, false);
  REQUIRE(off);
  CHECK(off->method == "set_properties");
  CHECK(off->params == json::parse(R"([{"did":"on","siid":2,"piid":1,"value":false}])"));
  CHECK_FALSE(switch_call(*plug, Quantity::power, true));  // read-only
}

TEST_CASE("MIoT entries with an error code, wrong types or unknown ids are skipped") {
  const PlugModel* plug = find_plug_model("chuangmi.plug.212a01");
  REQUIRE(plug);
  auto reading = decode_miot_properties(*plug, json::parse(R"([
    {"did":"on","siid":2,"piid":1,"code":-4001},
    {"did":"power","siid":"5","piid":6,"code":0,"value":100},
    {"did":"power","siid":5,"piid":6,"code":0,"value":"lots"},
    7, null])"));
  REQUIRE(reading);
  CHECK_FALSE(reading->on);
  CHECK_FALSE(reading->power);
  CHECK_FALSE(decode_miot_properties(*plug, json::parse(R"({"code":0})")));
}

namespace {

// A reply read both ways: straight through a `Reader` when read_reply takes it, and through
// parse_reply. Returns whether the reader took it; when it did, both ways give the same id and no
// error, and `compare(reader, result)` checks that what each way decodes is the same.
template <typename Reader, typename Compare>
bool read_both_ways(const std::string& text, Compare compare) {
  CAPTURE(text);
  Reader reader;
  const std::optional<std::int64_t> id = read_reply(text, reader);
  if (!id) return false;
  const auto reply = parse_reply(text);
  REQUIRE(reply);
  CHECK(reply->id == id);
  CHECK_FALSE(reply->error);
  compare(reader, reply->result);
  return true;
}

// get_properties: MiotPropertiesReader against decode_miot_properties, from an empty reading and
// from a full one.
bool read_like_the_dom(const PlugModel& model, const std::string& text) {
  return read_both_ways<MiotPropertiesReader>(text, [&](const MiotPropertiesReader& reader, const json& result) {
    PlugReading full;
    full.on = full.usb = full.led = true;
    full.power = full.energy = full.voltage = full.current = full.temperature = 1.5;
    for (const PlugReading& start : {PlugReading{}, full}) {
      const auto decoded = decode_miot_properties(model, result, start);
      REQUIRE(decoded);
      CHECK(merge_miot_values(model, reader.values(), start) == *decoded);
    }
  });
}

}  // namespace

TEST_CASE("get_properties answers read without a DOM give what the DOM gives, or are left to it") {
  const PlugModel* plug = find_plug_model("chuangmi.plug.212a01");
  REQUIRE(plug);
  // docs/miio.md §6.7 vector 6, then the shapes firmware and forgers send.
  const std::string vector6 =
      R"({"id":1,"result":[{"did":"on","siid":2,"piid":1,"code":0,"value":true},)"
      R"({"did":"power","siid":5,"piid":6,"code":0,"value":1500}],"exe_time":30})";
  CHECK(read_like_the_dom(*plug, vector6));
  MiotPropertiesReader reader;
  REQUIRE(read_reply(vector6, reader) == 1);
  REQUIRE(reader.values().size() == 2);
  CHECK(merge_miot_values(*plug, reader.values(), {}).power == Approx(15.0));

  const char* read[] = {
      R"({"id":7,"result":[]})",
      R"({"result":[{"siid":2,"piid":1,"value":false}],"id":9})",  // members in any order
      R"({"id":7,"result":[{"siid":2,"piid":1,"code":-4001},{"siid":5,"piid":6,"code":0,"value":"lots"}]})",
      R"({"id":7,"result":[{"siid":"5","piid":6,"value":100},{"siid":5.0,"piid":6,"value":100},7,null,"x",[1,[2]]]})",
      R"({"id":7,"result":[{"siid":2,"piid":1,"value":true},{"siid":2,"piid":1,"value":"maybe"}]})",  // flag unset again
      R"({"id":7,"result":[{"siid":2,"piid":1,"value":{"a":[true]}},{"siid":5,"piid":6,"value":[1500]}]})",
      R"({"id":7,"result":[{"siid":2,"piid":1,"value":true,"value":false,"siid":9}]})",  // repeated members: the last
      R"({"id":7,"result":[{"siid":2,"piid":1,"code":null,"value":true},{"siid":2,"piid":1,"code":0.0,"value":true}]})",
      R"({"id":7,"result":[{"siid":5,"piid":6,"value":1e308},{"siid":5,"piid":3,"value":-0.0},{"siid":5,"piid":1,"value":18446744073709551615}]})",
      R"({"id":7,"result":[{"siid":2,"piid":1,"value":"ON","did":{"x":[{"siid":5,"piid":6,"value":1}]}}]})",
      R"({"id":18446744073709551,"extra":{"deep":[[[1]]]},"result":[{"siid":5,"piid":6,"value":-25}]})",
  };
  for (const char* text : read) CHECK(read_like_the_dom(*plug, text));

  // Left to parse_reply: it answers them with an error, a repair, or no id to match.
  const char* left[] = {
      R"({"id":7,"error":{"code":-9999,"message":"user ack timeout"}})",
      R"({"id":7,"result":[],"error":"x"})",
      R"({"id":7,"result":{"code":0}})",  // not a list: the general way says so
      R"({"id":7,"result":5})",
      R"({"result":[]})",                 // no id
      R"({"id":"7","result":[]})",
      R"({"id":7.5,"result":[]})",
      R"({"id":[7],"result":[]})",
      R"({"id":9223372036854775808,"result":[]})",  // beyond a 64-bit signed id
      R"({"id":7})",                                 // no result
      R"({"id":7,"id":8,"result":[]})",              // repeated id
      R"({"id":7,"result":[],"result":[]})",
      R"([{"id":7,"result":[]}])",
      R"({"id":7,"result":[{"siid":2,"piid":1,"value":00}]})",  // repaired by parse_reply
      R"({"id":7,,"result":[]})",
      R"({"id":7,"result":[]}garbage)",
      "{\"id\":7,\"result\":[\"\xff\"]}",  // not UTF-8
      "",
  };
  for (const char* text : left) {
    CAPTURE(text);
    CHECK_FALSE(read_reply(text, reader));
  }
  // Nesting: up to the cap inside another member is read, beyond it is left.
  const std::string deep_ok = R"({"id":7,"x":)" + std::string(kMaxJsonDepth - 1, '[') +
                              std::string(kMaxJsonDepth - 1, ']') + R"(,"result":[]})";
  const std::string too_deep = R"({"id":7,"x":)" + std::string(kMaxJsonDepth, '[') +
                               std::string(kMaxJsonDepth, ']') + R"(,"result":[]})";
  CHECK(read_like_the_dom(*plug, deep_ok));
  CHECK_FALSE(read_reply(too_deep, reader));
  CHECK_FALSE(parse_reply(too_deep));
}

namespace {

// get_prop and get_power: ScalarListReader against decode_legacy_props and decode_get_power.
bool list_read_like_the_dom(const PlugModel& model, const std::string& text) {
  return read_both_ways<ScalarListReader>(text, [&](const ScalarListReader& reader, const json& result) {
    const auto decoded = decode_legacy_props(model, result);
    REQUIRE(decoded);
    CHECK(decode_legacy_values(model, reader.values()) == *decoded);
    const auto watts = decode_get_power(result);
    const auto read_watts = decode_get_power_values(reader.values());
    REQUIRE(watts.has_value() == read_watts.has_value());
    if (watts) CHECK(*read_watts == *watts);
  });
}

}  // namespace

TEST_CASE("get_prop and get_power answers read without a DOM give what the DOM gives, or are left to it") {
  const PlugModel* v3 = find_plug_model("chuangmi.plug.v3");  // on, usb_on, temperature, wifi_led
  REQUIRE(v3);
  ScalarListReader reader;
  REQUIRE(read_reply(R"({"id":41,"result":[true,false,38,"on"],"exe_time":20})", reader) == 41);
  const PlugReading read = decode_legacy_values(*v3, reader.values());
  CHECK(read.on == true);
  CHECK(read.usb == false);
  CHECK(read.temperature == Approx(38));
  CHECK(read.led == true);
  REQUIRE(read_reply(R"({"id":42,"result":[1240]})", reader) == 42);  // reset() between replies
  REQUIRE(reader.values().size() == 1);
  CHECK(*decode_get_power_values(reader.values()) == Approx(12.4));

  const char* read_both_ways[] = {
      R"({"id":7,"result":[]})",
      R"({"result":["off",25],"id":9})",  // members in any order
      R"({"id":7,"result":["ON",null,1e308,-0.0]})",
      R"({"id":7,"result":[1,"x",true,18446744073709551615,-3,2.5]})",
      R"({"id":7,"result":[null,null,null,null,null]})",  // more values than names: the rest is ignored
      R"({"id":7,"result":["\u006fn",300]})",
      R"({"id":7,"extra":{"deep":[[1]]},"result":[300]})",
      R"({"id":7,"result":[300],"exe_time":{"x":[1]}})",
  };
  for (const char* text : read_both_ways) CHECK(list_read_like_the_dom(*v3, text));

  // Left to parse_reply: not a flat list, or not the plain reply.
  const char* left[] = {
      R"({"id":7,"result":300})",  // a bare number: decode_get_power reads it the general way
      R"({"id":7,"result":"ok"})",
      R"({"id":7,"result":[[300]]})",
      R"({"id":7,"result":[1,{"a":1}]})",
      R"({"id":7,"result":{"power":"on"}})",
      R"({"id":7,"error":{"code":-9999,"message":"user ack timeout"}})",
      R"({"id":7,"result":["on",00]})",  // repaired by parse_reply
      R"({"id":7,"result":[],"result":[]})",
      R"({"result":[1]})",
  };
  for (const char* text : left) {
    CAPTURE(text);
    CHECK_FALSE(read_reply(text, reader));
  }
  // What the general way makes of two of them.
  CHECK(*decode_get_power(nlohmann::json::parse("300")) == Approx(3.0));
  CHECK_FALSE(decode_legacy_props(*v3, nlohmann::json::parse(R"({"power":"on"})")));
}

TEST_CASE("set_properties succeeds only when every entry has code 0") {
  CHECK(miot_set_succeeded(json::parse(R"([{"did":"on","siid":2,"piid":1,"code":0}])")));  // §6.7 vector 8
  CHECK_FALSE(miot_set_succeeded(json::parse(R"([{"did":"on","siid":2,"piid":1,"code":-4002}])")));
  CHECK_FALSE(miot_set_succeeded(json::parse(R"([])")));
  CHECK_FALSE(miot_set_succeeded(json::parse(R"(["ok"])")));
}

TEST_CASE("unknown models fall back to generic on/off") {
  CHECK(find_plug_model("acme.plug.x1") == nullptr);
  const PlugModel miot = generic_miot_plug("acme.plug.x1");
  CHECK(miot.dialect == Dialect::miot);
  CHECK(switch_call(miot, Quantity::on, true)->method == "set_properties");
  const PlugModel legacy = generic_legacy_plug("acme.plug.x1");
  CHECK(switch_call(legacy, Quantity::on, true)->method == "set_power");
  CHECK_FALSE(legacy.has(Quantity::power));
}
