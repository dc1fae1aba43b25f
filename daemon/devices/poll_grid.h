// When a polled device polls next: on a grid shared by every device with the same interval.
//
// Why: each device's timer firing on its own wakes the event loop once per device per interval; 50
// plugs at 1 s are 50 wake-ups a second, each paying for epoll, the timer queue and Paho's threads.
// On a common grid (multiples of the interval since the steady clock's epoch) their timers expire
// together and the loop serves them in one wake-up. The period stays the interval; a poll that ran
// past half of it waits for the grid point after (never two polls back to back).
#pragma once

#include <chrono>

namespace cloudless {

// The first multiple of `interval` (counted from the steady clock's epoch) at or after
// now + interval / 2. An interval of zero or less gives `now`.
inline std::chrono::steady_clock::time_point next_grid_point(std::chrono::steady_clock::time_point now,
                                                             std::chrono::steady_clock::duration interval) {
  if (interval <= std::chrono::steady_clock::duration::zero()) return now;
  const auto earliest = (now + interval / 2).time_since_epoch();
  const auto steps = (earliest + interval - std::chrono::steady_clock::duration(1)) / interval;  // round up
  return std::chrono::steady_clock::time_point(steps * interval);
}

}  // namespace cloudless
