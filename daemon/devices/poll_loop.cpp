#include "daemon/devices/poll_loop.h"

#include "daemon/devices/poll_grid.h"

namespace cloudless {

PollLoop::PollLoop(boost::asio::io_context& io, std::chrono::steady_clock::duration interval,
                   std::function<void()> poll)
    : timer_(io), interval_(interval), poll_(std::move(poll)) {}

void PollLoop::start() {
  if (running_) return;
  running_ = true;
  schedule(std::chrono::steady_clock::duration::zero());
}

void PollLoop::stop() {
  running_ = false;
  polling_ = false;  // a poll cut short by stop() never calls finished(); a later start() polls again
  again_ = false;
  timer_.cancel();
}

void PollLoop::refresh() {
  if (!running_) return;
  if (polling_) {
    again_ = true;
    return;
  }
  schedule(std::chrono::steady_clock::duration::zero());
}

void PollLoop::finished() {
  polling_ = false;
  if (!running_) return;
  if (again_) {
    again_ = false;
    schedule(std::chrono::steady_clock::duration::zero());
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  schedule(next_grid_point(now, interval_) - now);
}

void PollLoop::schedule(std::chrono::steady_clock::duration delay) {
  timer_.expires_after(delay);
  timer_.async_wait([alive = std::weak_ptr<int>(alive_), this](const boost::system::error_code& error) {
    if (error || alive.expired() || !running_ || polling_) return;
    polling_ = true;
    poll_();
  });
}

}  // namespace cloudless
