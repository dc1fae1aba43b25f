#include "protocols/xiaomi_ble/bluez/bluez_bus.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>

#include <boost/asio/post.hpp>

namespace cloudless::xiaomi_ble {

namespace asio = boost::asio;

namespace {

// A burst of adverts must not starve the rest of the daemon (MQTT, other devices): after this many
// dispatched messages the pump yields to the io_context and continues in a posted handler.
constexpr int kMaxDispatchPerTurn = 256;

// Bounds the synchronous exchanges with the broker (AddMatch). Every call() passes its own timeout.
constexpr std::chrono::seconds kBrokerTimeout{2};

std::string describe(const sdbus::Error& error) {
  if (error.getName().empty()) return error.getMessage();
  return error.getName() + ": " + error.getMessage();
}

BusOpenResult wrap(asio::io_context& io, std::unique_ptr<sdbus::IConnection> (*open)(const std::string&),
                   const std::string& argument, const char* what) {
  std::unique_ptr<sdbus::IConnection> connection;
  try {
    connection = open(argument);
  } catch (const sdbus::Error& error) {
    return {nullptr, std::string("cannot connect to the ") + what + ": " + describe(error)};
  } catch (const std::exception& error) {
    return {nullptr, std::string("cannot connect to the ") + what + ": " + error.what()};
  }
  return BluezBus::adopt(io, std::move(connection));
}

}  // namespace

BusOpenResult BluezBus::open_system(asio::io_context& io) {
  return wrap(io, [](const std::string&) { return sdbus::createSystemBusConnection(); }, {}, "system bus");
}

BusOpenResult BluezBus::open_address(asio::io_context& io, const std::string& address) {
  return wrap(
      io, [](const std::string& a) { return sdbus::createSessionBusConnectionWithAddress(a); }, address,
      "D-Bus bus");
}

BusOpenResult BluezBus::adopt(asio::io_context& io, std::unique_ptr<sdbus::IConnection> connection) {
  if (!connection) return {nullptr, "no D-Bus connection"};
  std::shared_ptr<BluezBus> bus(new BluezBus(io, std::move(connection)));
  int fd = -1;
  try {
    bus->connection_->setMethodCallTimeout(kBrokerTimeout);
    fd = bus->connection_->getEventLoopPollData().fd;
  } catch (const sdbus::Error& error) {
    return {nullptr, "D-Bus connection unusable: " + describe(error)};
  }
  // Asio owns (and closes) the descriptor it watches, so it gets its own copy of sd-bus' fd.
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) return {nullptr, std::string("cannot duplicate the D-Bus fd: ") + std::strerror(errno)};
  boost::system::error_code error;
  bus->descriptor_.assign(copy, error);
  if (error) {
    ::close(copy);
    return {nullptr, "cannot watch the D-Bus fd: " + error.message()};
  }
  bus->start();
  return {std::move(bus), {}};
}

BluezBus::BluezBus(asio::io_context& io, std::unique_ptr<sdbus::IConnection> connection)
    : io_(io), connection_(std::move(connection)), descriptor_(io), timer_(io) {}

BluezBus::~BluezBus() {
  boost::system::error_code ignored;
  timer_.cancel();
  descriptor_.close(ignored);
  // Members then go in reverse order: proxies (their pending calls are dropped unanswered) and match
  // slots before the connection, whose destructor flushes queued output (a last StopDiscovery).
}

void BluezBus::start() {
  // The handshake may have left messages in sd-bus' queue (read while it waited): look at once.
  schedule_pump();
  arm();
}

std::string BluezBus::add_match(const std::string& rule, SignalHandler handler) {
  if (closed_) return "the D-Bus connection is closed";
  try {
    matches_.push_back(connection_->addMatch(
        rule, [weak = weak_from_this(), handler = std::move(handler)](sdbus::Message& message) {
          const auto self = weak.lock();
          if (!self || self->closed_) return;
          ++self->counters_.signals;
          // Nothing may propagate into sd-bus' C dispatcher.
          try {
            handler(message);
          } catch (...) {
            ++self->counters_.handler_exceptions;
          }
        }));
  } catch (const sdbus::Error& error) {
    return "cannot add match rule: " + describe(error);
  }
  // sd_bus_add_match() waited for the broker; anything that arrived meanwhile sits in sd-bus' queue
  // with nothing left to read on the socket, so the fd will not wake us for it.
  schedule_pump();
  return {};
}

void BluezBus::call(const std::string& destination, const std::string& path, const std::string& interface,
                    const std::string& method, const ArgsWriter& write_args, ReplyHandler done,
                    std::chrono::milliseconds timeout) {
  const auto fail_later = [this, &done](sdbus::Error error) {
    ++counters_.failed_sends;
    asio::post(io_, [weak = weak_from_this(), done = std::move(done), error = std::move(error)] {
      const auto self = weak.lock();
      if (!self || self->closed_) return;
      try {
        done(&error, nullptr);
      } catch (...) {
        ++self->counters_.handler_exceptions;
      }
    });
  };
  if (closed_) {
    fail_later(sdbus::Error("org.cloudless.Error.Closed", "the D-Bus connection is closed"));
    return;
  }
  try {
    sdbus::IProxy& proxy = proxy_for(destination, path);
    sdbus::MethodCall message = proxy.createMethodCall(interface, method);
    if (write_args) write_args(message);
    const auto usec = std::chrono::duration_cast<std::chrono::microseconds>(timeout);
    proxy.callMethod(
        message,
        [weak = weak_from_this(), done](sdbus::MethodReply& reply, const sdbus::Error* error) {
          const auto self = weak.lock();  // always alive here: pump() holds it while dispatching
          if (!self || self->closed_) return;
          try {
            if (error)
              done(error, nullptr);
            else
              done(nullptr, &reply);
          } catch (...) {
            ++self->counters_.handler_exceptions;
          }
        },
        usec);
    ++counters_.calls;
  } catch (const sdbus::Error& error) {
    fail_later(error);
    return;
  } catch (const std::exception& error) {
    fail_later(sdbus::Error("org.cloudless.Error.Failed", error.what()));
    return;
  }
  // The call changed sd-bus' poll events (queued output) and its next timeout: look again.
  schedule_pump();
}

sdbus::IProxy& BluezBus::proxy_for(const std::string& destination, const std::string& path) {
  auto& slot = proxies_[{destination, path}];
  // A proxy on a connection reference starts no thread and sends nothing; it only builds messages
  // and keeps its pending calls. BlueZ calls go to a handful of paths (/, the adapter), so few exist.
  if (!slot) slot = sdbus::createProxy(*connection_, destination, path);
  return *slot;
}

void BluezBus::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  timer_.cancel();
  descriptor_.cancel(ignored);
}

std::string BluezBus::unique_name() const {
  try {
    return connection_->getUniqueName();
  } catch (const sdbus::Error&) {
    return {};
  }
}

void BluezBus::schedule_pump() {
  if (pump_posted_ || closed_) return;
  pump_posted_ = true;
  asio::post(io_, [weak = weak_from_this()] {
    if (const auto self = weak.lock()) {
      self->pump_posted_ = false;
      self->pump();
    }
  });
}

void BluezBus::pump() {
  if (closed_ || pumping_) return;
  const auto keep_alive = shared_from_this();  // handlers may drop every other reference to us
  pumping_ = true;
  ++counters_.pumps;
  bool drained = false;
  std::string lost;
  try {
    for (int i = 0; i < kMaxDispatchPerTurn && !closed_; ++i) {
      if (!connection_->processPendingRequest()) {
        drained = true;
        break;
      }
    }
  } catch (const sdbus::Error& error) {
    lost = describe(error);
  } catch (const std::exception& error) {
    lost = error.what();
  }
  pumping_ = false;
  if (!lost.empty()) {
    fail("D-Bus connection lost (" + lost + ")");
    return;
  }
  if (closed_) return;
  if (!drained) schedule_pump();  // more to do: continue after the other handlers had their turn
  arm();
}

void BluezBus::arm() {
  if (closed_) return;
  sdbus::IConnection::PollData poll{};
  try {
    poll = connection_->getEventLoopPollData();
  } catch (const sdbus::Error& error) {
    fail("D-Bus connection lost (" + describe(error) + ")");
    return;
  }
  const auto on_ready = [weak = weak_from_this()](bool BluezBus::*waiting, const boost::system::error_code& error) {
    const auto self = weak.lock();
    if (!self) return;
    (*self).*waiting = false;
    if (self->closed_ || error == asio::error::operation_aborted) return;
    if (error) {
      self->fail("D-Bus socket error (" + error.message() + ")");
      return;
    }
    self->pump();
  };
  if (!read_waiting_) {
    read_waiting_ = true;
    descriptor_.async_wait(asio::posix::stream_descriptor::wait_read,
                           [on_ready](const boost::system::error_code& e) { on_ready(&BluezBus::read_waiting_, e); });
  }
  if ((poll.events & POLLOUT) && !write_waiting_) {
    write_waiting_ = true;
    descriptor_.async_wait(asio::posix::stream_descriptor::wait_write,
                           [on_ready](const boost::system::error_code& e) { on_ready(&BluezBus::write_waiting_, e); });
  }
  const auto timeout = poll.getRelativeTimeout();
  if (!timeout) {
    timer_.cancel();
    return;
  }
  if (timeout->count() == 0) {
    timer_.cancel();
    schedule_pump();
    return;
  }
  timer_.expires_after(*timeout);
  timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& error) {
    if (error) return;  // re-armed or cancelled
    if (const auto self = weak.lock()) self->pump();
  });
}

void BluezBus::fail(const std::string& why) {
  if (closed_) return;
  close();
  asio::post(io_, [weak = weak_from_this(), why] {
    const auto self = weak.lock();
    if (self && self->on_disconnect_) self->on_disconnect_(why);
  });
}

}  // namespace cloudless::xiaomi_ble
