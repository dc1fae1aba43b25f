// Frame-counter de-duplication (protocols/xiaomi_ble/codec/frame_counter_filter.h): repeats, wrap-around
// of the 8-bit counter, 32-bit counters of encrypted frames, stale repeats and device restarts.
#include <catch2/catch.hpp>

#include <chrono>

#include "protocols/common/bytes.h"
#include "protocols/xiaomi_ble/codec/frame_counter_filter.h"
#include "protocols/xiaomi_ble/codec/mibeacon.h"

using namespace cloudless;
using namespace cloudless::xiaomi_ble;
using namespace std::chrono_literals;

namespace {

using Clock = FrameCounterFilter::Clock;
const Clock::time_point kT0 = Clock::time_point{} + 1000h;

}  // namespace

TEST_CASE("counter filter: the first frame is accepted, its repeats are not", "[xiaomi_ble][counter]") {
  FrameCounterFilter filter;
  CHECK_FALSE(filter.last_counter());
  CHECK(filter.check(80, false, kT0) == CounterVerdict::first);
  CHECK(filter.last_counter() == 80u);
  // A device repeats each event 8–10 times with the same counter; BlueZ reports each copy.
  for (int i = 1; i <= 10; ++i) CHECK(filter.check(80, false, kT0 + i * 100ms) == CounterVerdict::duplicate);
  // Even much later: the device's next frame has a new counter, so nothing is lost by waiting.
  CHECK(filter.check(80, false, kT0 + 24h) == CounterVerdict::duplicate);
  CHECK(filter.check(81, false, kT0 + 24h) == CounterVerdict::newer);
  CHECK(is_accepted(CounterVerdict::first));
  CHECK(is_accepted(CounterVerdict::newer));
  CHECK(is_accepted(CounterVerdict::restarted));
  CHECK_FALSE(is_accepted(CounterVerdict::duplicate));
  CHECK_FALSE(is_accepted(CounterVerdict::stale));
}

TEST_CASE("counter filter: 8-bit wrap-around and forward jumps", "[xiaomi_ble][counter]") {
  FrameCounterFilter filter;
  CHECK(filter.check(254, false, kT0) == CounterVerdict::first);
  CHECK(filter.check(255, false, kT0 + 1s) == CounterVerdict::newer);
  CHECK(filter.check(0, false, kT0 + 2s) == CounterVerdict::newer);  // 255 → 0 is one step
  CHECK(filter.check(1, false, kT0 + 3s) == CounterVerdict::newer);
  // Missed frames: any jump forward by up to 127 is new.
  CHECK(filter.check(128, false, kT0 + 4s) == CounterVerdict::newer);  // +127
  // +128 is as far back as forward: counted as back (128 > restart_jump 32 → restart).
  CHECK(filter.check(0, false, kT0 + 5s) == CounterVerdict::restarted);
}

TEST_CASE("counter filter: stale repeats and device restarts", "[xiaomi_ble][counter]") {
  FrameCounterFilter filter;  // restart_jump 32, restart_after 60 s
  CHECK(filter.check(100, false, kT0) == CounterVerdict::first);
  CHECK(filter.check(101, false, kT0 + 1s) == CounterVerdict::newer);
  // An older frame arriving late: dropped.
  CHECK(filter.check(100, false, kT0 + 2s) == CounterVerdict::stale);
  CHECK(filter.check(69, false, kT0 + 2s) == CounterVerdict::stale);  // back 32: not more than restart_jump
  // Back by more than 32: the device restarted (counters restart from 0 or anywhere).
  CHECK(filter.check(68, false, kT0 + 3s) == CounterVerdict::restarted);
  CHECK(filter.last_counter() == 68u);
  CHECK(filter.check(69, false, kT0 + 4s) == CounterVerdict::newer);
  // Back a little but long after the last accepted frame: also a restart (batteries changed).
  CHECK(filter.check(60, false, kT0 + 4s + 59s) == CounterVerdict::stale);
  CHECK(filter.check(60, false, kT0 + 4s + 60s) == CounterVerdict::restarted);
  // A stale frame does not move the clock: the 60 s count from the last *accepted* frame.
  FrameCounterFilter timing;
  CHECK(timing.check(10, false, kT0) == CounterVerdict::first);
  CHECK(timing.check(9, false, kT0 + 30s) == CounterVerdict::stale);
  CHECK(timing.check(9, false, kT0 + 60s) == CounterVerdict::restarted);
}

TEST_CASE("counter filter: options", "[xiaomi_ble][counter]") {
  FrameCounterFilter::Options options;
  options.restart_jump = 4;
  options.restart_after = 5s;
  FrameCounterFilter filter(options);
  CHECK(filter.check(10, false, kT0) == CounterVerdict::first);
  CHECK(filter.check(6, false, kT0 + 1s) == CounterVerdict::stale);      // back 4
  CHECK(filter.check(5, false, kT0 + 1s) == CounterVerdict::restarted);  // back 5
  CHECK(filter.check(4, false, kT0 + 6s) == CounterVerdict::restarted);  // back 1, 5 s later
  filter.reset();
  CHECK_FALSE(filter.last_counter());
  CHECK(filter.check(4, false, kT0 + 7s) == CounterVerdict::first);
}

TEST_CASE("counter filter: 32-bit counters of encrypted frames", "[xiaomi_ble][counter]") {
  FrameCounterFilter filter;
  // 0x00002650: V16's frame counter 0x50 with extended counter 0x000026.
  CHECK(filter.check(0x00002650, true, kT0) == CounterVerdict::first);
  // Same low byte, higher extended counter: 256 frames later, not a duplicate.
  CHECK(filter.check(0x00002750, true, kT0 + 1s) == CounterVerdict::newer);
  CHECK(filter.check(0x0000274f, true, kT0 + 2s) == CounterVerdict::stale);  // one back
  // A lower 32-bit value whose low byte is higher: the 8-bit view (0x50 → 0x60, +16) would call it
  // newer; the 32-bit view sees it 240 back.
  FrameCounterFilter::Options patient;
  patient.restart_jump = 1000;
  FrameCounterFilter wide(patient);
  CHECK(wide.check(0x00002750, true, kT0) == CounterVerdict::first);
  CHECK(wide.check(0x00002660, true, kT0 + 1s) == CounterVerdict::stale);
  FrameCounterFilter narrow(patient);
  CHECK(narrow.check(0x50, false, kT0) == CounterVerdict::first);
  CHECK(narrow.check(0x60, false, kT0 + 1s) == CounterVerdict::newer);
  // 32-bit wrap-around.
  FrameCounterFilter wrap;
  CHECK(wrap.check(0xffffffff, true, kT0) == CounterVerdict::first);
  CHECK(wrap.check(0x00000000, true, kT0 + 1s) == CounterVerdict::newer);
  // A plain frame after an encrypted one compares the low bytes only.
  CHECK(wrap.check(0x00000000, false, kT0 + 2s) == CounterVerdict::duplicate);
  CHECK(wrap.check(0x00000001, false, kT0 + 2s) == CounterVerdict::newer);
}

TEST_CASE("counter filter: fed with parsed frames", "[xiaomi_ble][counter]") {
  const auto parse = [](std::string_view text) {
    const Result<MiBeacon> beacon = parse_mibeacon(*from_hex(text));
    REQUIRE(beacon);
    return *beacon;
  };
  // docs/ble.md §3.2 V16 (fcnt 0x50, ext 0x000026) and §3.1 V3 (plain, fcnt 3).
  const MiBeacon v16 = parse("58585b0550f4830238c1a495ef58763c26000097e2abb5");
  const MiBeacon v3 = parse("50305b05034c94b438c1a40d10041001ea01");
  FrameCounterFilter filter;
  CHECK(filter.check(v16, kT0) == CounterVerdict::first);
  CHECK(filter.last_counter() == 0x2650u);
  CHECK(filter.check(v16, kT0 + 100ms) == CounterVerdict::duplicate);
  FrameCounterFilter plain;
  CHECK(plain.check(v3, kT0) == CounterVerdict::first);
  CHECK(plain.last_counter() == 3u);
  CHECK(plain.check(v3, kT0 + 1s) == CounterVerdict::duplicate);
  CHECK(verdict_name(CounterVerdict::duplicate) == "duplicate");
  CHECK(verdict_name(CounterVerdict::restarted) == "restarted");
}
