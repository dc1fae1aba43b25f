// midea::AcClient (protocols/midea/ac_client) against a scripted requester: the test sees every frame
// the client sends, in order, and answers it by hand with the real frames of docs/midea.md §7.3 (the
// same captures test_midea_ac_device uses end to end), or with a failure. Nothing runs in the
// background: each answer is one call.
#include <catch2/catch.hpp>

#include <deque>
#include <string>
#include <vector>

#include "protocols/midea/ac_client.h"
#include "protocols/midea/ac_commands.h"
#include "protocols/midea/ac_frame.h"
#include "protocols/midea/ac_state.h"
#include "tests/unit/test_support.h"

using namespace cloudless;
using namespace cloudless::midea;
using cloudless::test::hex;

namespace {

// docs/midea.md §7.3, msmart test_command.py: no energy stats (0x0216 = 1), no humidity; one page.
const char* const kCapsNoMeter =
    "aa29ac00000000000303b5071202010113020101140201011502010116020101170201001a020101dedb";
// docs/midea.md §7.3, midea-ac-py #60: page 1 of 2 (humidity sensor 0x021F = 3, no energy stats 0x0216 = 0,
// more pages), then page 2.
const char* const kCapsPage1 =
    "aa3dac00000000000303b50a12020101430001011402010115020101160201001a020101100201011f020103250207203c203c203c05"
    "400001000100c805";
const char* const kCapsPage2 = "aa23ac00000000000303b5051e020101130201012202010019020100390001010000febe";
// docs/midea.md §7.3, Toshiba window unit: no 0x0216 at all, so group 4 is tried.
const char* const kCapsNoEnergyId =
    "aa29ac00000000000303b507120201021402010015020102170201021a0201021002010524020101990d";
// docs/midea.md §7.3 group 4, binary format: total 150.4 kWh, power 279.5 W; and every field zero.
const char* const kGroup4Binary = "aa22ac00000000000803c1210144000005e00000000000000006000aeb000000487a5e";
const char* const kGroup4Empty = "aa20ac00000000000303c1210144000000000000000000000000000000000843bc";

AcFrame frame_of(const char* hex_text) {
  const auto parsed = parse_ac_frame(hex(hex_text));
  REQUIRE(parsed);
  return *parsed;
}

AcState cooling(double target) {
  AcState state;
  state.power = true;
  state.mode = AcMode::cool;
  state.target_temperature = target;
  state.fan_speed = kFanAuto;
  state.display_on = true;
  return state;
}

AcFrame state_frame(const AcState& state) {
  AcFrame frame;
  frame.frame_type = static_cast<std::uint8_t>(FrameType::query);
  frame.body = encode_ac_state_body(state);
  return frame;
}

RequestResult answer(AcFrame frame) { return {RequestFailure::none, std::move(frame), {}}; }
RequestResult failure(RequestFailure kind) { return {kind, {}, "scripted"}; }

// Records what the client sends; the test answers the oldest request.
struct ScriptedUnit {
  struct Sent {
    AcFrame frame;
    std::uint8_t reply_type = 0;
    LanSession::Callback done;
  };
  std::deque<Sent> sent;

  AcClient::Requester requester() {
    return [this](Bytes frame, std::uint8_t reply_type, LanSession::Callback done) {
      const auto parsed = parse_ac_frame(frame);
      REQUIRE(parsed);
      sent.push_back({*parsed, reply_type, std::move(done)});
    };
  }

  // "caps", "state", "group4", "group5", "set", "display" for the oldest request not answered yet.
  std::string next() const {
    REQUIRE(!sent.empty());
    const Sent& request = sent.front();
    switch (request.reply_type) {
      case body_type::kCapabilities:
        return "caps";
      case body_type::kGroupData:
        return "group" + std::to_string(request.frame.body.at(3) & 0x0F);
      case body_type::kState:
        if (request.frame.body_type() == body_type::kSetState) return "set";
        return request.frame.body_type() == body_type::kQuery && request.frame.body.at(1) == 0x81 ? "state"
                                                                                                  : "display";
      default:
        return "other";
    }
  }

  void reply(const RequestResult& result) {
    REQUIRE(!sent.empty());
    Sent request = std::move(sent.front());
    sent.pop_front();
    request.done(result);
  }
};

struct Recorder {
  std::vector<AcStateSource> states;
  std::vector<AcGroupData> groups;
  std::vector<std::string> rejects, meter_absent, unanswered_caps;
  std::vector<std::pair<RequestFailure, std::string>> change_failures;
  int capability_events = 0;
  std::vector<AcPollOutcome> outcomes;

  AcClientEvents events() {
    AcClientEvents events;
    events.state = [this](const AcState&, AcStateSource source) { states.push_back(source); };
    events.capabilities = [this](const AcCapabilities&, bool) { ++capability_events; };
    events.capabilities_unanswered = [this](const std::string& why) { unanswered_caps.push_back(why); };
    events.group_data = [this](const AcGroupData& data, bool) { groups.push_back(data); };
    events.meter_absent = [this](const std::string& why) { meter_absent.push_back(why); };
    events.reject = [this](const std::string& what) { rejects.push_back(what); };
    events.change_failed = [this](const RequestResult& result, const std::string& step) {
      change_failures.emplace_back(result.failure, step);
    };
    return events;
  }
  std::function<void(const AcPollOutcome&)> done() {
    return [this](const AcPollOutcome& outcome) { outcomes.push_back(outcome); };
  }
};

}  // namespace

TEST_CASE("ac client: the first poll reads every capability page, then state, power/energy and humidity",
          "[midea][client]") {
  ScriptedUnit unit;
  Recorder seen;
  AcClient client(unit.requester(), EnergyFormat::bcd, seen.events());

  client.poll(seen.done());
  CHECK(unit.next() == "caps");
  unit.reply(answer(frame_of(kCapsPage1)));
  CHECK(unit.next() == "caps");  // page 1 announced more
  unit.reply(answer(frame_of(kCapsPage2)));
  CHECK(seen.capability_events == 1);
  CHECK(client.capabilities_known());
  CHECK(client.capability_pages().size() == 2);
  CHECK(client.features().humidity);
  CHECK(unit.next() == "state");
  unit.reply(answer(state_frame(cooling(24.5))));
  REQUIRE(seen.states.size() == 1);
  CHECK(seen.states[0] == AcStateSource::poll);
  REQUIRE(client.last_state());
  CHECK(client.last_state()->target_temperature == 24.5);
  CHECK(unit.next() == "group5");  // page 1: a humidity sensor, and no energy stats (0x0216 = 0): no group 4
  unit.reply(failure(RequestFailure::timeout));
  REQUIRE(seen.outcomes.size() == 1);
  CHECK(seen.outcomes[0].state_read);
  REQUIRE(seen.outcomes[0].failure);  // the last step: reported, though the state came
  CHECK(seen.outcomes[0].step == "humidity query");
  CHECK(seen.groups.empty());
  CHECK(unit.sent.empty());

  SECTION("later polls go straight to the state") {
    client.poll(seen.done());
    CHECK(unit.next() == "state");
  }
}

TEST_CASE("ac client: a unit without a meter is asked for group 4 only until it shows it", "[midea][client]") {
  ScriptedUnit unit;
  Recorder seen;
  AcClient client(unit.requester(), EnergyFormat::binary, seen.events());
  const auto poll_once = [&](const RequestResult& group4) {
    client.poll(seen.done());
    if (unit.next() == "caps") unit.reply(answer(frame_of(kCapsNoEnergyId)));
    REQUIRE(unit.next() == "state");
    unit.reply(answer(state_frame(cooling(22))));
    if (unit.sent.empty()) return false;
    REQUIRE(unit.next() == "group4");
    unit.reply(group4);
    return true;
  };

  SECTION("silent twice") {
    CHECK(poll_once(failure(RequestFailure::timeout)));
    CHECK(seen.meter_absent.empty());
    REQUIRE(seen.outcomes.size() == 1);
    CHECK_FALSE(seen.outcomes[0].failure);  // a silent group 4 does not end the poll
    CHECK(seen.outcomes[0].unanswered == std::vector<std::string>{"power/energy (group 4)"});
    CHECK(poll_once(failure(RequestFailure::timeout)));
    CHECK(seen.meter_absent.size() == 1);
    CHECK_FALSE(poll_once(failure(RequestFailure::timeout)));  // not asked a third time
  }
  SECTION("a reading: the meter is found once") {
    CHECK(poll_once(answer(frame_of(kGroup4Binary))));
    CHECK(client.meter());
    REQUIRE(seen.groups.size() == 1);
    REQUIRE(seen.groups[0].power);
    CHECK(*seen.groups[0].power == Approx(279.5));
    CHECK(poll_once(answer(frame_of(kGroup4Binary))));
    CHECK(seen.groups.size() == 2);
    CHECK(seen.meter_absent.empty());
  }
  SECTION("all zero once") {
    CHECK(poll_once(answer(frame_of(kGroup4Empty))));
    CHECK(seen.meter_absent == std::vector<std::string>{"the unit reports no power/energy meter"});
    CHECK(seen.groups.empty());
    CHECK_FALSE(poll_once(answer(frame_of(kGroup4Empty))));
  }
  SECTION("unreachable ends the poll after the state") {
    CHECK(poll_once(failure(RequestFailure::unreachable)));
    REQUIRE(seen.outcomes.size() == 1);
    CHECK(seen.outcomes[0].state_read);
    REQUIRE(seen.outcomes[0].failure);
    CHECK(seen.outcomes[0].failure->failure == RequestFailure::unreachable);
    CHECK(seen.outcomes[0].step == "power/energy query");
  }
}

TEST_CASE("ac client: capability trouble never stops the state query; unreachable ends the poll",
          "[midea][client]") {
  ScriptedUnit unit;
  Recorder seen;
  AcClient client(unit.requester(), EnergyFormat::bcd, seen.events());

  SECTION("a silent unit keeps the assumed features and is not asked again this run") {
    client.poll(seen.done());
    unit.reply(failure(RequestFailure::timeout));
    CHECK(seen.unanswered_caps.size() == 1);
    CHECK_FALSE(client.capabilities_known());
    CHECK(client.features() == assumed_ac_features());
    CHECK(unit.next() == "state");
    unit.reply(answer(state_frame(cooling(23))));
    unit.reply(failure(RequestFailure::timeout));  // group 4: assumed features say nothing of a meter
    REQUIRE(seen.outcomes.size() == 1);
    client.poll(seen.done());
    CHECK(unit.next() == "state");
  }
  SECTION("an unreadable first page is a reject, and the state is still asked") {
    client.poll(seen.done());
    unit.reply(answer(state_frame(cooling(23))));  // a C0 where a B5 belongs
    CHECK(seen.rejects.size() == 1);
    CHECK(seen.rejects[0].rfind("capabilities: ", 0) == 0);
    CHECK(unit.next() == "state");
  }
  SECTION("unreachable: no state, the first page again next time") {
    client.poll(seen.done());
    unit.reply(failure(RequestFailure::unreachable));
    REQUIRE(seen.outcomes.size() == 1);
    CHECK_FALSE(seen.outcomes[0].state_read);
    CHECK(seen.outcomes[0].step == "capabilities query");
    CHECK(unit.sent.empty());
    client.poll(seen.done());
    CHECK(unit.next() == "caps");
  }
  SECTION("an unreadable state answer fails the poll") {
    client.poll(seen.done());
    unit.reply(answer(frame_of(kCapsNoMeter)));
    CHECK(unit.next() == "state");
    unit.reply(answer(frame_of(kGroup4Binary)));  // not a C0 body
    REQUIRE(seen.outcomes.size() == 1);
    CHECK_FALSE(seen.outcomes[0].state_read);
    REQUIRE(seen.outcomes[0].failure);
    CHECK(seen.outcomes[0].failure->detail == "unreadable state answer");
    CHECK(seen.rejects.size() == 1);
  }
  SECTION("saved pages make the capabilities known before any answer") {
    CHECK(client.restore_capabilities({hex("00"), frame_of(kCapsPage1).body}));
    CHECK(client.capabilities_known());
    CHECK(client.capability_pages().size() == 1);  // the unreadable one is dropped
    CHECK(client.features().humidity);
  }
}

TEST_CASE("ac client: commands are one change at a time, later ones merged into one queued change",
          "[midea][client]") {
  ScriptedUnit unit;
  Recorder seen;
  AcClient client(unit.requester(), EnergyFormat::bcd, seen.events());
  client.poll(seen.done());
  unit.reply(answer(frame_of(kCapsNoMeter)));
  unit.reply(answer(state_frame(cooling(24))));
  REQUIRE(seen.outcomes.size() == 1);
  REQUIRE(unit.sent.empty());

  AcState first = *client.command_base();
  first.target_temperature = 21;
  client.queue_change(first, std::nullopt);
  client.send_queued();
  CHECK(client.change_running());
  REQUIRE(unit.next() == "set");

  // While the first set is out: two more commands become one change built on the first.
  REQUIRE(client.command_base());
  CHECK(client.command_base()->target_temperature == 21);
  AcState second = *client.command_base();
  second.target_temperature = 22;
  client.queue_change(second, std::nullopt);
  CHECK(client.display_for_toggle());
  client.queue_change(std::nullopt, false);  // display off: the toggle follows the set
  client.send_queued();                      // a change is running: nothing more is sent yet
  CHECK(unit.sent.size() == 1);

  AcState answered_first = first;
  unit.reply(answer(state_frame(answered_first)));
  REQUIRE(unit.next() == "set");
  const auto sent = parse_ac_set_state(unit.sent.front().frame.body);
  REQUIRE(sent);
  CHECK(sent->state.target_temperature == 22);
  AcState answered_second = second;
  unit.reply(answer(state_frame(answered_second)));
  REQUIRE(unit.next() == "display");
  AcState dark = second;
  dark.display_on = false;
  unit.reply(answer(state_frame(dark)));
  CHECK_FALSE(client.change_running());
  CHECK(unit.sent.empty());
  CHECK(seen.states == std::vector<AcStateSource>{AcStateSource::poll, AcStateSource::set_answer,
                                                  AcStateSource::set_answer, AcStateSource::display_answer});

  SECTION("a display already as wanted sends no toggle") {
    client.queue_change(std::nullopt, false);
    client.send_queued();
    CHECK(unit.sent.empty());
    CHECK_FALSE(client.change_running());
  }
  SECTION("a failed set is reported, and the next change goes out") {
    AcState third = *client.command_base();
    third.target_temperature = 25;
    client.queue_change(third, std::nullopt);
    client.send_queued();
    third.target_temperature = 26;
    client.queue_change(third, std::nullopt);
    unit.reply(failure(RequestFailure::timeout));
    REQUIRE(seen.change_failures.size() == 1);
    CHECK(seen.change_failures[0] == std::make_pair(RequestFailure::timeout, std::string("set")));
    CHECK(unit.next() == "set");
  }
}

TEST_CASE("ac client: a pushed C0 is read like an answer; other frames are left to the caller", "[midea][client]") {
  ScriptedUnit unit;
  Recorder seen;
  AcClient client(unit.requester(), EnergyFormat::bcd, seen.events());
  AcFrame pushed = state_frame(cooling(19));
  pushed.frame_type = static_cast<std::uint8_t>(FrameType::notify1);
  CHECK(client.take_unsolicited(pushed));
  REQUIRE(client.last_state());
  CHECK(client.last_state()->target_temperature == 19);
  CHECK(seen.states == std::vector<AcStateSource>{AcStateSource::unsolicited});
  CHECK_FALSE(client.take_unsolicited(frame_of(kCapsNoMeter)));
  CHECK(seen.states.size() == 1);
}

TEST_CASE("ac client: answers arriving after the client is gone are dropped", "[midea][client]") {
  ScriptedUnit unit;
  Recorder seen;
  {
    AcClient client(unit.requester(), EnergyFormat::bcd, seen.events());
    client.poll(seen.done());
  }
  REQUIRE(unit.sent.size() == 1);
  unit.reply(answer(frame_of(kCapsNoMeter)));
  CHECK(seen.capability_events == 0);
  CHECK(seen.outcomes.empty());
}
