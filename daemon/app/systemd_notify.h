// systemd notifications (sd_notify): READY, STATUS, RELOADING, STOPPING, and the watchdog pinged from a
// timer on the event loop, so a wedged loop stops the pings and systemd restarts us. All of it is a
// no-op when not started by systemd (no NOTIFY_SOCKET).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace cloudless {

class SystemdNotifier {
 public:
  explicit SystemdNotifier(boost::asio::io_context& io);
  void ready();
  void reloading();
  void stopping();
  void status(const std::string& text);
  void start_watchdog();  // pings at half of WATCHDOG_USEC, when the unit sets WatchdogSec
  void stop_watchdog();

 private:
  void ping();

  boost::asio::steady_timer timer_;
  std::chrono::microseconds interval_{0};
  std::string last_status_;
};

}  // namespace cloudless
