// The poll loop of every polled device kind (daemon/devices/poll_loop.h).
#include <catch2/catch.hpp>

#include <chrono>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "daemon/devices/poll_loop.h"

using namespace std::chrono_literals;
using cloudless::PollLoop;
using Clock = std::chrono::steady_clock;

namespace {

// Runs the loop until `done` or 2 s (every wait here is bounded).
template <typename Predicate>
bool run_until(boost::asio::io_context& io, Predicate done) {
  const auto end = Clock::now() + 2s;
  while (!done() && Clock::now() < end) {
    io.restart();
    io.run_for(5ms);
  }
  return done();
}

// Runs the loop for `duration` even when nothing else is pending (run_for alone returns at once then).
void run_for(boost::asio::io_context& io, Clock::duration duration) {
  boost::asio::steady_timer keep_busy(io, duration);
  keep_busy.async_wait([](const boost::system::error_code&) {});
  io.restart();
  io.run_for(duration + 50ms);
}

}  // namespace

TEST_CASE("poll loop: the first poll at once, the next on the grid after finished()", "[poll_loop]") {
  boost::asio::io_context io;
  std::vector<Clock::time_point> polls;
  PollLoop loop(io, 100ms, [&] { polls.push_back(Clock::now()); });
  const auto started = Clock::now();
  loop.start();
  REQUIRE(run_until(io, [&] { return polls.size() == 1; }));
  CHECK(polls[0] - started < 50ms);
  CHECK(loop.polling());
  // Until finished() no second poll starts, however long the first one takes.
  run_for(io, 250ms);
  CHECK(polls.size() == 1);
  const auto finished_at = Clock::now();
  loop.finished();
  CHECK_FALSE(loop.polling());
  REQUIRE(run_until(io, [&] { return polls.size() == 2; }));
  // Not at once: at the grid point at least half an interval after the poll ended.
  CHECK(polls[1] - finished_at >= 50ms);
  loop.stop();
}

TEST_CASE("poll loop: a refresh during a poll runs one more right after it, never beside it", "[poll_loop]") {
  boost::asio::io_context io;
  int polls = 0;
  PollLoop loop(io, 10s, [&] { ++polls; });
  loop.start();
  REQUIRE(run_until(io, [&] { return polls == 1; }));
  loop.refresh();
  loop.refresh();
  run_for(io, 50ms);
  CHECK(polls == 1);  // still the first poll's turn
  loop.finished();
  REQUIRE(run_until(io, [&] { return polls == 2; }));  // at once, not 10 s later
  loop.finished();
  run_for(io, 100ms);
  CHECK(polls == 2);  // both refreshes made one extra poll; the next waits for the grid
  // A refresh between polls polls at once.
  loop.refresh();
  REQUIRE(run_until(io, [&] { return polls == 3; }));
  loop.stop();
}

TEST_CASE("poll loop: nothing polls after stop(), and start() begins again", "[poll_loop]") {
  boost::asio::io_context io;
  int polls = 0;
  PollLoop loop(io, 20ms, [&] { ++polls; });
  loop.start();
  REQUIRE(run_until(io, [&] { return polls == 1; }));
  loop.stop();  // the poll in flight is cut short: it never calls finished()
  loop.refresh();
  loop.finished();
  run_for(io, 100ms);
  CHECK(polls == 1);
  loop.start();
  REQUIRE(run_until(io, [&] { return polls == 2; }));
  loop.stop();
}
