// Per-device de-duplication of MiBeacon frame counters. Pure: the caller passes the time, owns one
// filter per device (never a shared or static one: ESPHome's function-local static is what not to
// do, STYLE.md §3) and feeds it only frames that decoded (and, when encrypted, passed their MIC: an
// unauthenticated counter must not move the state, docs/ble.md §2.1).
//
// Why: a device repeats every event 8–10 times with the same counter (docs/ble.md §1.1), and BlueZ
// with DuplicateData reports each copy; a reading or a button press must be published once.
//
// Rules (counter C, last accepted counter L, both taken modulo 2^w):
//  * w = 32 when both frames carry the 32-bit counter of encrypted frames (frame counter |
//    extended counter << 8), else w = 8 (the frame counter byte alone; plain frames have no more).
//  * d = (C − L) mod 2^w.
//  * d = 0: duplicate → drop. Always: if the 8-bit counter wrapped exactly onto L while we heard
//    nothing, the cost is one frame, since the device's next frame has a new counter.
//  * 0 < d < 2^(w−1): newer → accept. Wrap-around is this case: 255 → 0 is d = 1.
//  * otherwise the counter moved back by b = 2^w − d (1..128 for w = 8). Accept it as a device
//    restart (batteries changed, watchdog reset: counters restart) when b > restart_jump, or when
//    the last accepted frame is at least restart_after old; otherwise it is a stale repeat → drop.
//    A restart onto a value just below the old one therefore loses at most restart_after of data.
// Limits: this de-duplicates; it is no guarantee against a deliberate replay. 8-bit counters of
// plain frames cannot give one, and a replayed old encrypted frame far enough back passes as a
// restart. Nothing published is wrong in that case, only old.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace cloudless::xiaomi_ble {

struct MiBeacon;

enum class CounterVerdict {
  first,      // no frame accepted before (or after reset): accepted
  newer,      // accepted
  restarted,  // moved back far enough or late enough: accepted as a device restart
  duplicate,  // same counter as the last accepted frame: dropped
  stale,      // moved back a little, soon after the last accepted frame: dropped
};

inline bool is_accepted(CounterVerdict verdict) {
  return verdict == CounterVerdict::first || verdict == CounterVerdict::newer || verdict == CounterVerdict::restarted;
}

std::string_view verdict_name(CounterVerdict verdict);  // "first", "newer", ...

class FrameCounterFilter {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    std::uint32_t restart_jump = 32;                       // b above this: restart
    Clock::duration restart_after = std::chrono::seconds(60);  // or the last accepted frame this old
  };

  FrameCounterFilter() = default;
  explicit FrameCounterFilter(Options options) : options_(options) {}

  // Judges a frame and, when it is accepted, remembers its counter and `now`.
  CounterVerdict check(std::uint32_t counter, bool full_counter, Clock::time_point now);
  CounterVerdict check(const MiBeacon& beacon, Clock::time_point now);

  void reset() { last_.reset(); }
  std::optional<std::uint32_t> last_counter() const {
    return last_ ? std::optional<std::uint32_t>(last_->counter) : std::nullopt;
  }

 private:
  struct Accepted {
    std::uint32_t counter = 0;
    bool full = false;
    Clock::time_point when{};
  };

  Options options_{};
  std::optional<Accepted> last_;
};

}  // namespace cloudless::xiaomi_ble
