#include "daemon/app/systemd_notify.h"

#include <systemd/sd-daemon.h>

namespace cloudless {

SystemdNotifier::SystemdNotifier(boost::asio::io_context& io) : timer_(io) {}

void SystemdNotifier::ready() { sd_notify(0, "READY=1"); }

void SystemdNotifier::reloading() { sd_notify(0, "RELOADING=1"); }

void SystemdNotifier::stopping() { sd_notify(0, "STOPPING=1"); }

void SystemdNotifier::status(const std::string& text) {
  if (text == last_status_) return;
  last_status_ = text;
  sd_notify(0, ("STATUS=" + text).c_str());
}

void SystemdNotifier::start_watchdog() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
  interval_ = std::chrono::microseconds(usec / 2);
  ping();
}

void SystemdNotifier::stop_watchdog() {
  interval_ = std::chrono::microseconds(0);
  timer_.cancel();
}

void SystemdNotifier::ping() {
  if (interval_.count() == 0) return;
  sd_notify(0, "WATCHDOG=1");
  timer_.expires_after(interval_);
  timer_.async_wait([this](const boost::system::error_code& error) {
    if (!error) ping();
  });
}

}  // namespace cloudless
