// Frame-counter de-duplication. Rules: frame_counter_filter.h.
#include "protocols/xiaomi_ble/codec/frame_counter_filter.h"

#include "protocols/xiaomi_ble/codec/mibeacon.h"

namespace cloudless::xiaomi_ble {

std::string_view verdict_name(CounterVerdict verdict) {
  switch (verdict) {
    case CounterVerdict::first:
      return "first";
    case CounterVerdict::newer:
      return "newer";
    case CounterVerdict::restarted:
      return "restarted";
    case CounterVerdict::duplicate:
      return "duplicate";
    case CounterVerdict::stale:
      return "stale";
  }
  return "duplicate";
}

CounterVerdict FrameCounterFilter::check(std::uint32_t counter, bool full_counter, Clock::time_point now) {
  const auto accept = [&](CounterVerdict verdict) {
    last_ = Accepted{counter, full_counter, now};
    return verdict;
  };
  if (!last_) return accept(CounterVerdict::first);

  // Compare 32-bit counters when both frames have one, else the frame-counter bytes.
  const bool wide = full_counter && last_->full;
  const std::uint64_t modulus = wide ? 1ULL << 32 : 1ULL << 8;
  const std::uint64_t mask = modulus - 1;
  const std::uint64_t current = counter & mask;
  const std::uint64_t previous = last_->counter & mask;
  const std::uint64_t forward = (current + modulus - previous) & mask;

  if (forward == 0) return CounterVerdict::duplicate;
  if (forward < modulus / 2) return accept(CounterVerdict::newer);
  const std::uint64_t back = modulus - forward;
  if (back > options_.restart_jump || now - last_->when >= options_.restart_after) {
    return accept(CounterVerdict::restarted);
  }
  return CounterVerdict::stale;
}

CounterVerdict FrameCounterFilter::check(const MiBeacon& beacon, Clock::time_point now) {
  return check(beacon.full_counter(), beacon.has_full_counter(), now);
}

}  // namespace cloudless::xiaomi_ble
