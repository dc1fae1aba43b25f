// GATT client over BlueZ' D-Bus API (docs/ble.md §6.3), on the daemon's io_context.
//
//   GattClient (one per adapter) ── connect(mac) ──▶ queue: one connection *being set up* at a time
//     │  (BlueZ answers a second concurrent LE connect with org.bluez.Error.InProgress)
//     ├─ GetManagedObjects: device known? ── no ──▶ discovery (our own session) until it appears
//     ├─ Device1.Connect ─▶ wait ServicesResolved=true ─▶ GetManagedObjects: GattService1 /
//     │  GattCharacteristic1 objects under the device → UUID → object path
//     ├─ failure ─▶ retryable? another attempt after a backoff (2 s, 4 s, … capped), else the error
//     └─▶ GattConnection (a GattLink): ReadValue / WriteValue(type request|command) / StartNotify,
//         notifications = PropertiesChanged(Value) of the characteristic; every operation has a timeout
//
// One subscription serves every connection of the client: PropertiesChanged of Device1 (Connected,
// ServicesResolved) and GattCharacteristic1 (Value), InterfacesRemoved, NameOwnerChanged(org.bluez),
// dispatched by object path. A connection ends when the device disconnects (Connected=false), its
// object is removed, bluetoothd goes away or the bus is lost: pending operations then fail with
// `disconnected` and on_disconnected runs once.
//
// Its own D-Bus connection, opened at the first connect(): the advert scanner's connection is torn
// down and rebuilt on every scanner restart (and on a config reload), which must not cut a kettle's
// session; both run on the same io_context, so connections never block advert reception.
//
// No logging (protocols/ layer): failures come back as GattError, attempts are counted.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "protocols/xiaomi_ble/bluez/bluez_bus.h"
#include "protocols/xiaomi_ble/auth/gatt_link.h"

namespace cloudless::xiaomi_ble {

class GattClient;

struct GattClientOptions {
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(20)};   // Device1.Connect
  std::chrono::milliseconds services_timeout{std::chrono::seconds(20)};  // Connect → ServicesResolved
  std::chrono::milliseconds operation_timeout{std::chrono::seconds(10)};  // each read/write/StartNotify
  std::chrono::milliseconds discovery_timeout{std::chrono::seconds(30)};  // waiting for an unknown device
  int attempts = 3;  // connect attempts per connect() for retryable failures
  std::chrono::milliseconds backoff_initial{std::chrono::seconds(2)};
  std::chrono::milliseconds backoff_max{std::chrono::seconds(30)};
  // How to reach the bus; default BluezBus::open_system (sd-bus honours DBUS_SYSTEM_BUS_ADDRESS).
  std::function<BusOpenResult(boost::asio::io_context&)> open_bus;
};

struct GattClientCounters {
  std::uint64_t connects = 0;          // connections established
  std::uint64_t connect_attempts = 0;  // Device1.Connect calls
  std::uint64_t connect_failures = 0;  // connect() calls that ended in an error
  std::uint64_t disconnects = 0;       // established connections that ended (any reason)
  std::uint64_t operations = 0;        // reads, writes, StartNotify
  std::uint64_t operation_failures = 0;
  std::uint64_t notifications = 0;
};

// One established connection. Created by GattClient; the owner keeps the shared_ptr while it uses the
// device and calls disconnect() (or just drops it: the destructor disconnects).
class GattConnection : public GattLink, public std::enable_shared_from_this<GattConnection> {
 public:
  using DisconnectHandler = std::function<void(const GattError& why)>;

  ~GattConnection() override;
  GattConnection(const GattConnection&) = delete;
  GattConnection& operator=(const GattConnection&) = delete;

  const std::string& mac() const override { return mac_; }
  bool has_characteristic(std::string_view uuid) const override;
  void read(std::string_view uuid, ReadHandler done) override;
  void write(std::string_view uuid, Bytes value, WriteType type, DoneHandler done) override;
  void subscribe(std::string_view uuid, NotifyHandler on_value, DoneHandler done) override;

  // Runs once, posted, when the connection ends for a reason other than disconnect().
  void on_disconnected(DisconnectHandler handler) { on_disconnected_ = std::move(handler); }
  // Device1.Disconnect (sent, not awaited); pending operations fail with `cancelled`. Idempotent.
  void disconnect();
  bool connected() const { return connected_; }
  const std::string& device_path() const { return device_path_; }
  // UUID → characteristic object path, as resolved at connect time.
  const std::map<std::string, std::string>& characteristics() const { return characteristics_; }

 private:
  friend class GattClient;
  struct Pending {
    std::uint64_t id = 0;
    std::shared_ptr<boost::asio::steady_timer> timer;
    std::function<void(const std::optional<GattError>&, Bytes)> finish;
  };

  GattConnection(boost::asio::io_context& io, std::weak_ptr<GattClient> client, std::string mac,
                 std::string device_path, std::map<std::string, std::string> characteristics,
                 std::chrono::milliseconds operation_timeout);

  // Starts one D-Bus call with a timeout; `finish` runs exactly once (posted).
  void start_operation(const std::string& path, const std::string& method, const BluezBus::ArgsWriter& args,
                       bool returns_bytes, std::function<void(const std::optional<GattError>&, Bytes)> finish);
  void complete(std::uint64_t id, const std::optional<GattError>& error, Bytes value);
  void fail_all(const GattError& why);
  // From GattClient's dispatch:
  void on_value(const std::string& char_path, const Bytes& value);
  void on_lost(const GattError& why);
  std::optional<std::string> path_of(std::string_view uuid) const;

  boost::asio::io_context& io_;
  std::weak_ptr<GattClient> client_;
  std::string mac_;
  std::string device_path_;
  std::map<std::string, std::string> characteristics_;  // uuid → path
  std::map<std::string, NotifyHandler> notify_;         // char path → handler
  std::map<std::uint64_t, Pending> pending_;
  std::uint64_t next_id_ = 1;
  std::chrono::milliseconds operation_timeout_;
  bool connected_ = true;
  DisconnectHandler on_disconnected_;
};

// Handle of one queued connect(); destroying it (or cancel()) withdraws the request, and a connection
// being set up for it is abandoned (disconnected). Move-only.
class GattConnectRequest {
 public:
  GattConnectRequest() = default;
  GattConnectRequest(GattConnectRequest&& other) noexcept;
  GattConnectRequest& operator=(GattConnectRequest&& other) noexcept;
  GattConnectRequest(const GattConnectRequest&) = delete;
  GattConnectRequest& operator=(const GattConnectRequest&) = delete;
  ~GattConnectRequest() { cancel(); }
  void cancel();
  explicit operator bool() const { return !client_.expired(); }

 private:
  friend class GattClient;
  GattConnectRequest(std::weak_ptr<GattClient> client, std::uint64_t id) : client_(std::move(client)), id_(id) {}
  std::weak_ptr<GattClient> client_;
  std::uint64_t id_ = 0;
};

class GattClient : public std::enable_shared_from_this<GattClient> {
 public:
  using ConnectHandler =
      std::function<void(const std::optional<GattError>& error, std::shared_ptr<GattConnection> connection)>;

  static std::shared_ptr<GattClient> create(boost::asio::io_context& io, std::string adapter,
                                            GattClientOptions options = {});
  ~GattClient();
  GattClient(const GattClient&) = delete;
  GattClient& operator=(const GattClient&) = delete;

  // Queues a connection to `mac` (any case). `done` runs once on the io thread: with a connection, or
  // with the last error after `options.attempts` attempts (non-retryable errors end at once).
  [[nodiscard]] GattConnectRequest connect(const std::string& mac, ConnectHandler done);

  // Fails every queued request with `cancelled`, disconnects every connection (its on_disconnected
  // handler gets `cancelled`), closes the bus. Those handlers are posted; nothing else runs afterwards.
  // Idempotent.
  void stop();

  const std::string& adapter() const { return adapter_; }
  std::size_t queued() const { return queue_.size(); }
  const GattClientCounters& counters() const { return counters_; }

 private:
  friend class GattConnection;
  friend class GattConnectRequest;
  enum class Phase { queued, finding, discovering, connecting, waiting_services, resolving, backoff };
  struct Request {
    std::uint64_t id = 0;
    std::string mac;
    std::string device_path;
    ConnectHandler done;
    int attempt = 0;
    Phase phase = Phase::queued;
    bool services_seen = false;  // ServicesResolved=true signalled during this attempt
    bool withdrawn = false;      // the requester gave up; a connection it produces is dropped
  };

  GattClient(boost::asio::io_context& io, std::string adapter, GattClientOptions options);

  using ObjectTree = std::map<sdbus::ObjectPath, std::map<std::string, std::map<std::string, sdbus::Variant>>>;

  std::optional<GattError> ensure_bus();
  void read_objects(std::uint64_t id, std::function<void(GattClient&, const ObjectTree&)> use);
  void next();
  void attempt(std::uint64_t id);
  void find_device(std::uint64_t id);
  void wait_for_device(std::uint64_t id);
  void connect_device(std::uint64_t id);
  void wait_services(std::uint64_t id);
  void resolve(std::uint64_t id);
  void attempt_failed(std::uint64_t id, GattError error);
  void finish(std::uint64_t id, const std::optional<GattError>& error, std::shared_ptr<GattConnection> connection);
  void withdraw(std::uint64_t id);
  void stop_discovery();
  void on_properties_changed(sdbus::Message& signal);
  void on_interfaces_added(sdbus::Message& signal);
  void on_interfaces_removed(sdbus::Message& signal);
  void on_bluez_owner(sdbus::Message& signal);
  void lose_everything(const GattError& why);
  void call(const std::string& path, const std::string& interface, const std::string& method,
            const BluezBus::ArgsWriter& args, BluezBus::ReplyHandler done, std::chrono::milliseconds timeout);
  bool is_current(std::uint64_t id) const { return !queue_.empty() && queue_.front().id == id; }

  boost::asio::io_context& io_;
  std::string adapter_;
  std::string adapter_path_;  // /org/bluez/hci0
  GattClientOptions options_;
  std::shared_ptr<BluezBus> bus_;
  std::deque<Request> queue_;  // front = the one being set up
  std::uint64_t next_id_ = 1;
  bool busy_ = false;          // front is being worked on
  bool discovering_ = false;   // our discovery session is active (waiting for an unknown device)
  bool stopped_ = false;
  boost::asio::steady_timer timer_;  // backoff, services and discovery waits of the front request
  std::map<std::string, std::weak_ptr<GattConnection>> connections_;  // device path → connection
  GattClientCounters counters_;
};

}  // namespace cloudless::xiaomi_ble
