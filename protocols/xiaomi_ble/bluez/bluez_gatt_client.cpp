#include "protocols/xiaomi_ble/bluez/bluez_gatt_client.h"

#include "protocols/xiaomi_ble/bluez/bluez_names.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include <boost/asio/post.hpp>

namespace cloudless::xiaomi_ble {

namespace asio = boost::asio;

namespace {

constexpr const char* kBluez = bluez::kService;
using bluez::kAdapterInterface;
using bluez::kCharacteristicInterface;
using bluez::kDeviceInterface;
using bluez::kObjectManager;
using bluez::InterfaceMap;
using bluez::lower;
using bluez::property;
using bluez::PropertyMap;
using bluez::upper;

// D-Bus' own deadline is a backstop behind ours: our timer reports `timeout` first.
constexpr std::chrono::milliseconds kBusSlack{1000};

GattError error_of(const sdbus::Error& error) { return gatt_error_from_dbus(error.getName(), error.getMessage()); }

GattError make_error(GattErrorKind kind, std::string message) {
  GattError error;
  error.kind = kind;
  error.message = std::move(message);
  return error;
}

bool under(const std::string& path, const std::string& parent) {
  return path.size() > parent.size() && path.compare(0, parent.size(), parent) == 0 && path[parent.size()] == '/';
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// GattConnection

GattConnection::GattConnection(asio::io_context& io, std::weak_ptr<GattClient> client, std::string mac,
                               std::string device_path, std::map<std::string, std::string> characteristics,
                               std::chrono::milliseconds operation_timeout)
    : io_(io),
      client_(std::move(client)),
      mac_(std::move(mac)),
      device_path_(std::move(device_path)),
      characteristics_(std::move(characteristics)),
      operation_timeout_(operation_timeout) {}

GattConnection::~GattConnection() { disconnect(); }

std::optional<std::string> GattConnection::path_of(std::string_view uuid) const {
  const auto it = characteristics_.find(lower(std::string(uuid)));
  if (it == characteristics_.end()) return std::nullopt;
  return it->second;
}

bool GattConnection::has_characteristic(std::string_view uuid) const { return path_of(uuid).has_value(); }

void GattConnection::read(std::string_view uuid, ReadHandler done) {
  const auto path = path_of(uuid);
  if (!path) {
    asio::post(io_, [done = std::move(done), uuid = std::string(uuid)] {
      done(make_error(GattErrorKind::no_characteristic, uuid), {});
    });
    return;
  }
  start_operation(*path, "ReadValue", [](sdbus::MethodCall& call) { call << PropertyMap{}; }, true,
                  [done = std::move(done)](const std::optional<GattError>& error, Bytes value) {
                    done(error, std::move(value));
                  });
}

void GattConnection::write(std::string_view uuid, Bytes value, WriteType type, DoneHandler done) {
  const auto path = path_of(uuid);
  if (!path) {
    asio::post(io_, [done = std::move(done), uuid = std::string(uuid)] {
      done(make_error(GattErrorKind::no_characteristic, uuid));
    });
    return;
  }
  // BlueZ' WriteValue(ay value, a{sv} options): "type" = "request" (ATT Write Request, acknowledged)
  // or "command" (ATT Write Command, no acknowledgement).
  start_operation(
      *path, "WriteValue",
      [value = std::move(value), type](sdbus::MethodCall& call) {
        PropertyMap options;
        options["type"] = sdbus::Variant(std::string(type == WriteType::request ? "request" : "command"));
        call << value << options;
      },
      false, [done = std::move(done)](const std::optional<GattError>& error, Bytes) { done(error); });
}

void GattConnection::subscribe(std::string_view uuid, NotifyHandler on_value, DoneHandler done) {
  const auto path = path_of(uuid);
  if (!path) {
    asio::post(io_, [done = std::move(done), uuid = std::string(uuid)] {
      done(make_error(GattErrorKind::no_characteristic, uuid));
    });
    return;
  }
  // Installed before StartNotify: the first notification may arrive before StartNotify's reply.
  notify_[*path] = std::move(on_value);
  start_operation(*path, "StartNotify", {}, false,
                  [weak = weak_from_this(), path = *path, done = std::move(done)](
                      const std::optional<GattError>& error, Bytes) {
                    if (error)
                      if (const auto self = weak.lock()) self->notify_.erase(path);
                    done(error);
                  });
}

void GattConnection::start_operation(const std::string& path, const std::string& method,
                                     const BluezBus::ArgsWriter& args, bool returns_bytes,
                                     std::function<void(const std::optional<GattError>&, Bytes)> finish) {
  const auto client = client_.lock();
  if (!connected_ || !client || !client->bus_) {
    asio::post(io_, [finish = std::move(finish), stopped = !client || !client->bus_] {
      finish(stopped ? make_error(GattErrorKind::cancelled, "the GATT client was stopped")
                     : make_error(GattErrorKind::disconnected, "not connected"),
             {});
    });
    return;
  }
  ++client->counters_.operations;
  const std::uint64_t id = next_id_++;
  Pending pending;
  pending.id = id;
  pending.timer = std::make_shared<asio::steady_timer>(io_);
  pending.finish = std::move(finish);
  pending.timer->expires_after(operation_timeout_);
  pending.timer->async_wait([weak = weak_from_this(), id, method, timeout = operation_timeout_](
                                const boost::system::error_code& error) {
    if (error) return;
    if (const auto self = weak.lock())
      self->complete(id, make_error(GattErrorKind::timeout,
                                    method + " got no reply within " + std::to_string(timeout.count()) + " ms"),
                     {});
  });
  pending_.emplace(id, std::move(pending));
  client->call(path, kCharacteristicInterface, method, args,
               [weak = weak_from_this(), id, returns_bytes](const sdbus::Error* error, sdbus::MethodReply* reply) {
                 const auto self = weak.lock();
                 if (!self) return;
                 if (error) {
                   self->complete(id, error_of(*error), {});
                   return;
                 }
                 Bytes value;
                 if (returns_bytes) {
                   try {
                     *reply >> value;
                   } catch (const sdbus::Error& e) {
                     self->complete(id, make_error(GattErrorKind::failed, "unexpected reply: " + e.getMessage()), {});
                     return;
                   }
                 }
                 self->complete(id, std::nullopt, std::move(value));
               },
               operation_timeout_ + kBusSlack);
}

void GattConnection::complete(std::uint64_t id, const std::optional<GattError>& error, Bytes value) {
  const auto it = pending_.find(id);
  if (it == pending_.end()) return;  // already timed out, failed or cancelled
  Pending pending = std::move(it->second);
  pending_.erase(it);
  pending.timer->cancel();
  if (error)
    if (const auto client = client_.lock()) ++client->counters_.operation_failures;
  pending.finish(error, std::move(value));
}

void GattConnection::fail_all(const GattError& why) {
  // Posted: fail_all runs from disconnect(), which callers may invoke from anywhere.
  std::map<std::uint64_t, Pending> pending;
  pending.swap(pending_);
  for (auto& [id, entry] : pending) {
    entry.timer->cancel();
    asio::post(io_, [finish = std::move(entry.finish), why] { finish(why, {}); });
  }
}

void GattConnection::on_value(const std::string& char_path, const Bytes& value) {
  const auto it = notify_.find(char_path);
  if (it == notify_.end() || !connected_) return;
  if (const auto client = client_.lock()) ++client->counters_.notifications;
  const NotifyHandler handler = it->second;  // a copy: the handler may subscribe again or disconnect
  handler(value);
}

void GattConnection::on_lost(const GattError& why) {
  if (!connected_) return;
  connected_ = false;
  notify_.clear();
  fail_all(why);
  if (const auto client = client_.lock()) {
    ++client->counters_.disconnects;
    client->connections_.erase(device_path_);
  }
  if (on_disconnected_) asio::post(io_, [handler = on_disconnected_, why] { handler(why); });
}

void GattConnection::disconnect() {
  if (!connected_) return;
  connected_ = false;
  notify_.clear();
  fail_all(make_error(GattErrorKind::cancelled, "disconnected by us"));
  const auto client = client_.lock();
  if (!client) return;
  ++client->counters_.disconnects;
  const auto it = client->connections_.find(device_path_);
  if (it != client->connections_.end() && (it->second.expired() || it->second.lock().get() == this))
    client->connections_.erase(it);
  // Not awaited: the device is gone from our point of view either way.
  if (client->bus_)
    client->call(device_path_, kDeviceInterface, "Disconnect", {}, [](const sdbus::Error*, sdbus::MethodReply*) {},
                 client->options_.connect_timeout);
}

// ------------------------------------------------------------------------------------------------
// GattConnectRequest

GattConnectRequest::GattConnectRequest(GattConnectRequest&& other) noexcept
    : client_(std::move(other.client_)), id_(other.id_) {
  other.client_.reset();
}

GattConnectRequest& GattConnectRequest::operator=(GattConnectRequest&& other) noexcept {
  if (this != &other) {
    cancel();
    client_ = std::move(other.client_);
    id_ = other.id_;
    other.client_.reset();
  }
  return *this;
}

void GattConnectRequest::cancel() {
  if (const auto client = client_.lock()) client->withdraw(id_);
  client_.reset();
}

// ------------------------------------------------------------------------------------------------
// GattClient: life cycle and bus

std::shared_ptr<GattClient> GattClient::create(asio::io_context& io, std::string adapter, GattClientOptions options) {
  return std::shared_ptr<GattClient>(new GattClient(io, std::move(adapter), std::move(options)));
}

GattClient::GattClient(asio::io_context& io, std::string adapter, GattClientOptions options)
    : io_(io),
      adapter_(std::move(adapter)),
      adapter_path_("/org/bluez/" + adapter_),
      options_(std::move(options)),
      timer_(io) {
  if (!options_.open_bus) options_.open_bus = [](asio::io_context& context) { return BluezBus::open_system(context); };
  if (options_.attempts < 1) options_.attempts = 1;
}

GattClient::~GattClient() { stop(); }

void GattClient::stop() {
  if (stopped_) return;
  stopped_ = true;
  timer_.cancel();
  stop_discovery();
  // Owners hear of it (posted, never from inside stop()): a kettle connected through an adapter that
  // a reload replaced must go offline and connect again through the new one, not stay "online".
  const GattError why = make_error(GattErrorKind::cancelled, "the connection's adapter is no longer used");
  auto queue = std::move(queue_);
  queue_.clear();
  busy_ = false;
  for (Request& request : queue)
    if (request.done && !request.withdrawn) asio::post(io_, [done = std::move(request.done), why] { done(why, nullptr); });
  auto connections = std::move(connections_);
  connections_.clear();
  for (auto& [path, weak] : connections)
    if (const auto connection = weak.lock()) {
      auto owner = std::exchange(connection->on_disconnected_, nullptr);
      connection->disconnect();
      if (owner) asio::post(io_, [owner = std::move(owner), why] { owner(why); });
    }
  if (bus_) {
    bus_->close();
    bus_.reset();
  }
}

void GattClient::call(const std::string& path, const std::string& interface, const std::string& method,
                      const BluezBus::ArgsWriter& args, BluezBus::ReplyHandler done, std::chrono::milliseconds timeout) {
  if (!bus_) return;
  bus_->call(kBluez, path, interface, method, args, std::move(done), timeout);
}

std::optional<GattError> GattClient::ensure_bus() {
  if (bus_ && bus_->is_open()) return std::nullopt;
  BusOpenResult opened = options_.open_bus(io_);
  if (!opened.bus) return make_error(GattErrorKind::bluez_gone, opened.error);
  bus_ = std::move(opened.bus);
  const std::weak_ptr<GattClient> weak = weak_from_this();
  bus_->set_disconnect_handler([weak](const std::string& why) {
    const auto self = weak.lock();
    if (!self || self->stopped_) return;
    if (self->bus_) self->bus_->close();
    self->bus_.reset();
    self->lose_everything(make_error(GattErrorKind::bluez_gone, why));
  });
  // One subscription for every connection of this client, dispatched by object path.
  const std::pair<std::string, void (GattClient::*)(sdbus::Message&)> rules[] = {
      {"type='signal',sender='org.bluez',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
       "arg0='org.bluez.Device1'",
       &GattClient::on_properties_changed},
      {"type='signal',sender='org.bluez',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
       "arg0='org.bluez.GattCharacteristic1'",
       &GattClient::on_properties_changed},
      {"type='signal',sender='org.bluez',interface='org.freedesktop.DBus.ObjectManager',member='InterfacesAdded'",
       &GattClient::on_interfaces_added},
      {"type='signal',sender='org.bluez',interface='org.freedesktop.DBus.ObjectManager',member='InterfacesRemoved'",
       &GattClient::on_interfaces_removed},
      {"type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',"
       "member='NameOwnerChanged',arg0='org.bluez'",
       &GattClient::on_bluez_owner},
  };
  for (const auto& [rule, member] : rules) {
    // A copy of the member pointer: clang 14 cannot capture a structured binding.
    const std::string error = bus_->add_match(rule, [weak, handler = member, bus = bus_.get()](sdbus::Message& signal) {
      const auto self = weak.lock();
      if (!self || self->stopped_ || self->bus_.get() != bus) return;
      (self.get()->*handler)(signal);
    });
    if (!error.empty()) {
      bus_->close();
      bus_.reset();
      return make_error(GattErrorKind::bluez_gone, error);
    }
  }
  return std::nullopt;
}

void GattClient::lose_everything(const GattError& why) {
  auto connections = connections_;
  for (auto& [path, weak] : connections)
    if (const auto connection = weak.lock()) connection->on_lost(why);
  discovering_ = false;
  if (busy_ && !queue_.empty() && queue_.front().phase != Phase::backoff) attempt_failed(queue_.front().id, why);
}

// ------------------------------------------------------------------------------------------------
// GattClient: the queue

GattConnectRequest GattClient::connect(const std::string& mac, ConnectHandler done) {
  Request request;
  request.id = next_id_++;
  request.mac = upper(mac);
  std::string path_mac = request.mac;
  std::replace(path_mac.begin(), path_mac.end(), ':', '_');
  request.device_path = adapter_path_ + "/dev_" + path_mac;
  request.done = std::move(done);
  const std::uint64_t id = request.id;
  if (stopped_) {
    // A stopped client never calls back (see stop()); the caller gets an inert handle.
    return {};
  }
  queue_.push_back(std::move(request));
  asio::post(io_, [weak = weak_from_this()] {
    if (const auto self = weak.lock()) self->next();
  });
  return GattConnectRequest(weak_from_this(), id);
}

void GattClient::next() {
  if (stopped_ || busy_ || queue_.empty()) return;
  busy_ = true;
  queue_.front().attempt = 0;
  attempt(queue_.front().id);
}

void GattClient::withdraw(std::uint64_t id) {
  const auto it = std::find_if(queue_.begin(), queue_.end(), [id](const Request& r) { return r.id == id; });
  if (it == queue_.end()) return;
  if (it != queue_.begin() || !busy_) {
    queue_.erase(it);
    return;
  }
  // The front request. With no Connect or object walk in flight it ends now; otherwise it completes
  // and the connection it produces is dropped (finish() sees `withdrawn`).
  it->withdrawn = true;
  it->done = nullptr;
  if (it->phase == Phase::backoff || it->phase == Phase::discovering) {
    timer_.cancel();
    stop_discovery();
    queue_.pop_front();
    busy_ = false;
    asio::post(io_, [weak = weak_from_this()] {
      if (const auto self = weak.lock()) self->next();
    });
  }
}

void GattClient::attempt(std::uint64_t id) {
  if (!is_current(id) || stopped_) return;
  Request& request = queue_.front();
  ++request.attempt;
  request.services_seen = false;
  if (const auto error = ensure_bus()) {
    attempt_failed(id, *error);
    return;
  }
  find_device(id);
}

// GetManagedObjects for the front request; `use` runs only while that request is still current.
void GattClient::read_objects(std::uint64_t id, std::function<void(GattClient&, const ObjectTree&)> use) {
  call("/", kObjectManager, "GetManagedObjects", {},
       [weak = weak_from_this(), id, use = std::move(use)](const sdbus::Error* error, sdbus::MethodReply* reply) {
         const auto self = weak.lock();
         if (!self || self->stopped_ || !self->is_current(id)) return;
         if (error) {
           self->attempt_failed(id, error_of(*error));
           return;
         }
         // Only the adapter and the request's device with what lies under it: BlueZ' other objects
         // would be read for nothing (for_each_managed_object says what they cost).
         const std::string& device_path = self->queue_.front().device_path;
         ObjectTree objects;
         try {
           bluez::for_each_managed_object(*reply, [&](const sdbus::ObjectPath& path, InterfaceMap& interfaces) {
             if (path == self->adapter_path_ || path == device_path || under(path, device_path))
               objects.emplace(path, std::move(interfaces));
             return true;
           });
         } catch (const sdbus::Error& e) {
           self->attempt_failed(id, make_error(GattErrorKind::failed, "unexpected GetManagedObjects reply: " + e.getMessage()));
           return;
         }
         use(*self, objects);
       },
       options_.operation_timeout);
}

void GattClient::find_device(std::uint64_t id) {
  queue_.front().phase = Phase::finding;
  read_objects(id, [id](GattClient& client, const ObjectTree& objects) {
    GattClient* const self = &client;
    const auto adapter = objects.find(sdbus::ObjectPath(self->adapter_path_));
    if (adapter == objects.end() || !adapter->second.count(kAdapterInterface)) {
      self->attempt_failed(id, make_error(GattErrorKind::adapter, "BlueZ has no adapter " + self->adapter_));
      return;
    }
    if (!property<bool>(adapter->second.at(kAdapterInterface), "Powered").value_or(false)) {
      self->attempt_failed(id, make_error(GattErrorKind::adapter, "adapter " + self->adapter_ + " is powered off"));
      return;
    }
    const Request& request = self->queue_.front();
    const auto device = objects.find(sdbus::ObjectPath(request.device_path));
    if (device == objects.end() || !device->second.count(kDeviceInterface)) {
      self->wait_for_device(id);
      return;
    }
    const PropertyMap& properties = device->second.at(kDeviceInterface);
    if (property<bool>(properties, "Connected").value_or(false) &&
        property<bool>(properties, "ServicesResolved").value_or(false)) {
      self->resolve(id);  // already connected (by us earlier, or by another client): reuse it
      return;
    }
    self->connect_device(id);
  });
}

// BlueZ can connect only to a device it has seen advertise. Run our own discovery session (with the
// same LE filter as the scanner) until the device's object appears, then connect.
void GattClient::wait_for_device(std::uint64_t id) {
  queue_.front().phase = Phase::discovering;
  discovering_ = true;
  call(adapter_path_, kAdapterInterface, "SetDiscoveryFilter",
       [](sdbus::MethodCall& call) {
         PropertyMap filter;
         filter["Transport"] = sdbus::Variant(std::string("le"));
         call << filter;
       },
       [weak = weak_from_this(), id](const sdbus::Error*, sdbus::MethodReply*) {
         const auto self = weak.lock();
         if (!self || self->stopped_ || !self->is_current(id) || !self->discovering_) return;
         self->call(self->adapter_path_, kAdapterInterface, "StartDiscovery", {},
                    [weak, id](const sdbus::Error* error, sdbus::MethodReply*) {
                      const auto self = weak.lock();
                      if (!self || self->stopped_ || !self->is_current(id)) return;
                      if (error && error->getName() != "org.bluez.Error.InProgress") {
                        self->discovering_ = false;
                        self->attempt_failed(id, error_of(*error));
                      }
                    },
                    self->options_.operation_timeout);
       },
       options_.operation_timeout);
  timer_.expires_after(options_.discovery_timeout);
  timer_.async_wait([weak = weak_from_this(), id](const boost::system::error_code& error) {
    const auto self = weak.lock();
    if (error || !self || self->stopped_ || !self->is_current(id)) return;
    if (self->queue_.front().phase != Phase::discovering) return;
    self->stop_discovery();
    self->attempt_failed(
        id, make_error(GattErrorKind::device_unknown,
                       "not seen advertising within " +
                           std::to_string(std::chrono::duration_cast<std::chrono::seconds>(self->options_.discovery_timeout).count()) +
                           " s (out of range, or advertising too rarely)"));
  });
}

void GattClient::stop_discovery() {
  if (!discovering_) return;
  discovering_ = false;
  call(adapter_path_, kAdapterInterface, "StopDiscovery", {}, [](const sdbus::Error*, sdbus::MethodReply*) {},
       options_.operation_timeout);
}

void GattClient::connect_device(std::uint64_t id) {
  Request& request = queue_.front();
  request.phase = Phase::connecting;
  ++counters_.connect_attempts;
  call(request.device_path, kDeviceInterface, "Connect", {},
       [weak = weak_from_this(), id](const sdbus::Error* error, sdbus::MethodReply*) {
         const auto self = weak.lock();
         if (!self || self->stopped_ || !self->is_current(id)) return;
         if (error && error->getName() != "org.bluez.Error.AlreadyConnected") {
           self->attempt_failed(id, error_of(*error));
           return;
         }
         self->wait_services(id);
       },
       options_.connect_timeout);
}

// Connect returns once the link is up; the GATT objects exist only after ServicesResolved turns true
// (which may already have been signalled before Connect's reply arrived: services_seen).
void GattClient::wait_services(std::uint64_t id) {
  Request& request = queue_.front();
  request.phase = Phase::waiting_services;
  if (request.services_seen) {
    resolve(id);
    return;
  }
  timer_.expires_after(options_.services_timeout);
  timer_.async_wait([weak = weak_from_this(), id](const boost::system::error_code& error) {
    const auto self = weak.lock();
    if (error || !self || self->stopped_ || !self->is_current(id)) return;
    if (self->queue_.front().phase != Phase::waiting_services) return;
    self->call(self->queue_.front().device_path, kDeviceInterface, "Disconnect", {},
               [](const sdbus::Error*, sdbus::MethodReply*) {}, self->options_.operation_timeout);
    self->attempt_failed(id, make_error(GattErrorKind::timeout, "connected, but BlueZ did not resolve the services in time"));
  });
  // ServicesResolved may have turned true between Connect's reply and this point without a signal we
  // could attribute (AlreadyConnected): look once.
  call(request.device_path, "org.freedesktop.DBus.Properties", "Get",
       [](sdbus::MethodCall& call) { call << std::string(kDeviceInterface) << std::string("ServicesResolved"); },
       [weak = weak_from_this(), id](const sdbus::Error* error, sdbus::MethodReply* reply) {
         const auto self = weak.lock();
         if (!self || self->stopped_ || !self->is_current(id) || error) return;
         if (self->queue_.front().phase != Phase::waiting_services) return;
         sdbus::Variant value;
         try {
           *reply >> value;
           if (value.containsValueOfType<bool>() && value.get<bool>()) {
             self->timer_.cancel();
             self->resolve(id);
           }
         } catch (const sdbus::Error&) {
         }
       },
       options_.operation_timeout);
}

void GattClient::resolve(std::uint64_t id) {
  queue_.front().phase = Phase::resolving;
  read_objects(id, [id](GattClient& client, const ObjectTree& objects) {
    GattClient* const self = &client;
    const Request& request = self->queue_.front();
    // …/dev_XX/serviceNNNN/charMMMM: match by UUID, never by handle (handles differ per model).
    std::map<std::string, std::string> characteristics;
    for (const auto& [path, interfaces] : objects) {
      if (!under(path, request.device_path)) continue;
      const auto it = interfaces.find(kCharacteristicInterface);
      if (it == interfaces.end()) continue;
      if (const auto uuid = property<std::string>(it->second, "UUID"))
        characteristics.emplace(lower(*uuid), path);  // first one wins if a UUID repeats
    }
    if (characteristics.empty()) {
      self->attempt_failed(id, make_error(GattErrorKind::failed, "connected, but the device offers no GATT characteristics"));
      return;
    }
    auto connection = std::shared_ptr<GattConnection>(
        new GattConnection(self->io_, self->weak_from_this(), request.mac, request.device_path,
                           std::move(characteristics), self->options_.operation_timeout));
    self->connections_[request.device_path] = connection;
    ++self->counters_.connects;
    self->finish(id, std::nullopt, std::move(connection));
  });
}

void GattClient::attempt_failed(std::uint64_t id, GattError error) {
  if (!is_current(id)) return;
  Request& request = queue_.front();
  timer_.cancel();
  stop_discovery();
  if (!request.withdrawn && error.retryable() && request.attempt < options_.attempts) {
    request.phase = Phase::backoff;
    auto delay = options_.backoff_initial * (1 << std::min(request.attempt - 1, 10));
    if (delay > options_.backoff_max) delay = options_.backoff_max;
    timer_.expires_after(delay);
    timer_.async_wait([weak = weak_from_this(), id](const boost::system::error_code& code) {
      const auto self = weak.lock();
      if (code || !self || self->stopped_) return;
      self->attempt(id);
    });
    return;
  }
  ++counters_.connect_failures;
  finish(id, error, nullptr);
}

void GattClient::finish(std::uint64_t id, const std::optional<GattError>& error,
                        std::shared_ptr<GattConnection> connection) {
  if (!is_current(id)) return;
  Request request = std::move(queue_.front());
  queue_.pop_front();
  busy_ = false;
  timer_.cancel();
  if (request.withdrawn) {
    if (connection) connection->disconnect();
  } else if (request.done) {
    asio::post(io_, [done = std::move(request.done), error, connection = std::move(connection)] {
      done(error, connection);
    });
  }
  asio::post(io_, [weak = weak_from_this()] {
    if (const auto self = weak.lock()) self->next();
  });
}

// ------------------------------------------------------------------------------------------------
// GattClient: signals

void GattClient::on_properties_changed(sdbus::Message& signal) {
  std::string interface;
  PropertyMap changed;
  std::vector<std::string> invalidated;
  try {
    signal >> interface >> changed >> invalidated;
  } catch (const sdbus::Error&) {
    return;
  }
  const std::string path = signal.getPath();
  if (interface == kCharacteristicInterface) {
    const auto value = property<std::vector<std::uint8_t>>(changed, "Value");
    if (!value) return;
    for (const auto& [device_path, weak] : connections_) {
      if (!under(path, device_path)) continue;
      if (const auto connection = weak.lock()) connection->on_value(path, *value);
      return;
    }
    return;
  }
  if (interface != kDeviceInterface) return;
  const auto connected = property<bool>(changed, "Connected");
  const auto resolved = property<bool>(changed, "ServicesResolved");
  if (connected == false) {
    const auto it = connections_.find(path);
    if (it != connections_.end())
      if (const auto connection = it->second.lock())
        connection->on_lost(make_error(GattErrorKind::disconnected, "the device disconnected"));
  }
  if (busy_ && !queue_.empty() && queue_.front().device_path == path) {
    Request& request = queue_.front();
    if (connected == false && (request.phase == Phase::waiting_services || request.phase == Phase::resolving)) {
      attempt_failed(request.id, make_error(GattErrorKind::disconnected, "the device dropped the link while connecting"));
      return;
    }
    if (resolved == true) {
      request.services_seen = true;
      if (request.phase == Phase::waiting_services) {
        timer_.cancel();
        resolve(request.id);
      }
    }
  }
}

void GattClient::on_interfaces_added(sdbus::Message& signal) {
  sdbus::ObjectPath path;
  InterfaceMap interfaces;
  try {
    signal >> path >> interfaces;
  } catch (const sdbus::Error&) {
    return;
  }
  if (!busy_ || queue_.empty()) return;
  Request& request = queue_.front();
  if (request.phase != Phase::discovering || path != request.device_path || !interfaces.count(kDeviceInterface)) return;
  timer_.cancel();
  stop_discovery();
  connect_device(request.id);
}

void GattClient::on_interfaces_removed(sdbus::Message& signal) {
  sdbus::ObjectPath path;
  std::vector<std::string> interfaces;
  try {
    signal >> path >> interfaces;
  } catch (const sdbus::Error&) {
    return;
  }
  if (std::find(interfaces.begin(), interfaces.end(), kDeviceInterface) == interfaces.end()) return;
  const auto it = connections_.find(path);
  if (it != connections_.end())
    if (const auto connection = it->second.lock())
      connection->on_lost(make_error(GattErrorKind::disconnected, "BlueZ removed the device"));
}

void GattClient::on_bluez_owner(sdbus::Message& signal) {
  std::string name, old_owner, new_owner;
  try {
    signal >> name >> old_owner >> new_owner;
  } catch (const sdbus::Error&) {
    return;
  }
  if (name != kBluez || !new_owner.empty()) return;
  lose_everything(make_error(GattErrorKind::bluez_gone, "bluetoothd left the system bus"));
}

}  // namespace cloudless::xiaomi_ble
