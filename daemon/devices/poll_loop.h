// The poll loop every polled device kind runs (ESPHome's PollingComponent idea, with our grid):
//
//   start() ──▶ poll ──▶ … the device's calls … ──▶ finished() ──▶ next grid point ──▶ poll ──▶ …
//
// One poll at a time. A refresh asked while a poll runs (a command went out, the reading may be
// stale) runs one more right after it, never a second one beside it. Between polls the timer waits
// for the grid point all devices with this interval share (poll_grid.h), so they poll in one wake-up.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace cloudless {

class PollLoop {
 public:
  // `poll` starts one poll; the device calls finished() once that poll is over, whatever its outcome.
  PollLoop(boost::asio::io_context& io, std::chrono::steady_clock::duration interval, std::function<void()> poll);

  void start();     // the first poll at once
  void stop();      // no poll starts after this (finished() from the one running does nothing)
  void refresh();   // a poll now, or right after the one running
  void finished();  // the running poll is over: the next one at once after a refresh, else on the grid
  bool polling() const { return polling_; }

 private:
  void schedule(std::chrono::steady_clock::duration delay);

  boost::asio::steady_timer timer_;
  std::chrono::steady_clock::duration interval_;
  std::function<void()> poll_;
  bool running_ = false;
  bool polling_ = false;
  bool again_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // the timer's handler holds a weak_ptr to it
};

}  // namespace cloudless
