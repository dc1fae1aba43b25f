// One D-Bus connection (sdbus-c++ 1.2) driven entirely by the daemon's io_context: no sdbus thread,
// every sdbus call made from the io thread, the connection's fd watched by Asio.
//
//   socket readable ─┐
//   sd-bus timeout ──┼─▶ pump(): processPendingRequest() until it returns false (bounded per turn)
//   call() sent ─────┘        │   → reply handlers and match handlers run here, on the io thread
//                             └─▶ arm(): re-read getEventLoopPollData(): wait_read always,
//                                 wait_write if POLLOUT, timer at getRelativeTimeout()
//
// Why re-arm after every outgoing call: sdbus-c++ 1.2 has no wake-up fd for an external loop, and a
// new call changes sd-bus' poll events (queued output) and timeout (the call's own deadline).
// Why drain until processPendingRequest() returns false: Asio's epoll reactor is edge-triggered, so
// the socket must be read to EAGAIN before waiting again (sd-bus returns 0 only after EAGAIN).
//
// The only synchronous exchanges are with the bus broker itself, never with a service such as
// bluetoothd: the connect handshake (sdbus-c++ flushes it in its constructor) and AddMatch
// (sd_bus_add_match waits for the broker's confirmation; sdbus-c++ 1.2 has no async variant). Both are
// local round trips to dbus-daemon, made once per connection, bounded by a short method-call timeout.
//
// Lifetime rules (sdbus-c++ 1.2 destroys a Proxy's call data right after the reply callback returns,
// so a Proxy must never die inside its own callback): proxies and match slots live exactly as long
// as this object, and this object is never destroyed inside a dispatch because pump() holds a
// shared_ptr to it while dispatching. Handlers may call close() or drop their last reference freely.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <sdbus-c++/sdbus-c++.h>

namespace cloudless::xiaomi_ble {

class BluezBus;

struct BusOpenResult {
  std::shared_ptr<BluezBus> bus;  // null on failure
  std::string error;              // why, for humans
};

// Counts what the connection itself saw; the owner reports them (no logging in protocols/).
struct BusCounters {
  std::uint64_t calls = 0;               // method calls sent
  std::uint64_t failed_sends = 0;        // calls that could not even be queued
  std::uint64_t signals = 0;             // signals delivered to match handlers
  std::uint64_t handler_exceptions = 0;  // exceptions thrown by our handlers (swallowed, counted)
  std::uint64_t pumps = 0;               // wake-ups that ran processPendingRequest()
};

class BluezBus : public std::enable_shared_from_this<BluezBus> {
 public:
  // `reply` is null when `error` is set (the call failed, timed out, or could not be sent).
  using ReplyHandler = std::function<void(const sdbus::Error* error, sdbus::MethodReply* reply)>;
  using SignalHandler = std::function<void(sdbus::Message& signal)>;
  using ArgsWriter = std::function<void(sdbus::MethodCall& call)>;
  using DisconnectHandler = std::function<void(const std::string& why)>;

  // The system bus; sd-bus honours DBUS_SYSTEM_BUS_ADDRESS (tests point it at a private bus).
  static BusOpenResult open_system(boost::asio::io_context& io);
  // Any bus by address, e.g. "unix:path=/run/dbus/system_bus_socket". Caution: sdbus-c++ 1.2 leaks
  // the sd_bus object (~1.8 KB) when this fails (its sd_bus_open_user_with_address returns without
  // unref on error), so do not retry it in a loop; open_system has no such leak.
  static BusOpenResult open_address(boost::asio::io_context& io, const std::string& address);
  // Wraps an sdbus-c++ connection that nobody else drives (no enterEventLoopAsync on it).
  static BusOpenResult adopt(boost::asio::io_context& io, std::unique_ptr<sdbus::IConnection> connection);

  BluezBus(const BluezBus&) = delete;
  BluezBus& operator=(const BluezBus&) = delete;
  ~BluezBus();

  // Installs a match rule for the life of this connection; `handler` runs on the io thread for each
  // matching message. Synchronous with the broker (see the header comment). Returns "" or the error.
  std::string add_match(const std::string& rule, SignalHandler handler);

  // Sends a method call; `done` runs exactly once on the io thread (from a later pump, or posted when
  // the call cannot be sent), unless this connection is destroyed first. Never calls `done` inline.
  void call(const std::string& destination, const std::string& path, const std::string& interface,
            const std::string& method, const ArgsWriter& write_args, ReplyHandler done,
            std::chrono::milliseconds timeout);

  // Runs (posted, once) when the connection is lost; not after close().
  void set_disconnect_handler(DisconnectHandler handler) { on_disconnect_ = std::move(handler); }

  // Stops watching the fd; pending handlers never run. Idempotent. The sdbus connection itself is
  // flushed and closed when the last reference goes (so a final call such as StopDiscovery is sent).
  void close();
  bool is_open() const { return !closed_; }
  std::string unique_name() const;
  const BusCounters& counters() const { return counters_; }

 private:
  BluezBus(boost::asio::io_context& io, std::unique_ptr<sdbus::IConnection> connection);

  void start();
  void schedule_pump();
  void pump();
  void arm();
  void fail(const std::string& why);
  sdbus::IProxy& proxy_for(const std::string& destination, const std::string& path);

  boost::asio::io_context& io_;
  // Declaration order is destruction order in reverse: proxies and slots go before the connection.
  std::unique_ptr<sdbus::IConnection> connection_;
  std::vector<sdbus::Slot> matches_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<sdbus::IProxy>> proxies_;
  boost::asio::posix::stream_descriptor descriptor_;  // a dup of sd-bus' fd: Asio may close its own
  boost::asio::steady_timer timer_;
  bool read_waiting_ = false;
  bool write_waiting_ = false;
  bool pump_posted_ = false;
  bool pumping_ = false;
  bool closed_ = false;
  DisconnectHandler on_disconnect_;
  BusCounters counters_;
};

}  // namespace cloudless::xiaomi_ble
