// The poll grid: polled devices with one interval share their poll instants (daemon/devices/poll_grid.h).
#include <catch2/catch.hpp>

#include <chrono>

#include "daemon/devices/poll_grid.h"

using cloudless::next_grid_point;

TEST_CASE("poll grid: every device with one interval polls at the same instants, a period apart") {
  using std::chrono::milliseconds;
  using Clock = std::chrono::steady_clock;
  const auto at = [](long long ms) { return Clock::time_point(milliseconds(ms)); };
  const milliseconds second(1000);
  // Two plugs whose polls ended at different moments meet on the same grid point.
  CHECK(next_grid_point(at(10'030), second) == at(11'000));
  CHECK(next_grid_point(at(10'480), second) == at(11'000));
  // Exactly half an interval after a grid point: the next point is half an interval away.
  CHECK(next_grid_point(at(10'500), second) == at(11'000));
  // A poll that ran past half the interval waits for the point after: never two polls back to back.
  CHECK(next_grid_point(at(10'501), second) == at(12'000));
  CHECK(next_grid_point(at(10'999), second) == at(12'000));
  // Over a run, the period is the interval.
  auto t = at(123'456);
  for (int i = 0; i < 5; ++i) {
    const auto next = next_grid_point(t + milliseconds(40), milliseconds(10'000));  // a 40 ms poll
    CHECK(next.time_since_epoch() % milliseconds(10'000) == milliseconds(0));
    if (i > 0) CHECK(next - t == milliseconds(10'000));
    t = next;
  }
  CHECK(next_grid_point(at(777), milliseconds(0)) == at(777));
}
