#include "protocols/xiaomi_ble/bluez/bluez_scanner.h"

#include "protocols/xiaomi_ble/bluez/bluez_names.h"

#include <algorithm>
#include <cctype>

namespace cloudless::xiaomi_ble {

namespace asio = boost::asio;

namespace {

constexpr const char* kBluez = bluez::kService;
using bluez::kAdapterInterface;
using bluez::kBroker;
using bluez::kBrokerPath;
using bluez::kDeviceInterface;
using bluez::kObjectManager;
using bluez::kProperties;

// BlueZ knows every advertiser in range (hundreds in a flat); past this many we still report adverts
// but stop remembering identities, so memory stays bounded whatever the neighbourhood sends.
constexpr std::size_t kMaxDevices = 4096;

using bluez::InterfaceMap;
using bluez::PropertyMap;

std::string describe(const sdbus::Error& error) {
  if (error.getName().empty()) return error.getMessage();
  return error.getName() + ": " + error.getMessage();
}

std::string seconds_text(std::chrono::milliseconds duration) {
  const auto ms = duration.count();
  if (ms < 1000) return std::to_string(ms) + " ms";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) + " s";
}

bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

using bluez::lower;
using bluez::upper;

// "AA:BB:CC:DD:EE:FF" with any separator `sep`.
bool is_mac(std::string_view text, char sep) {
  if (text.size() != 17) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i % 3 == 2 ? text[i] != sep : !is_hex(text[i])) return false;
  }
  return true;
}

template <typename T>
std::optional<T> get_as(const sdbus::Variant& value, int& malformed) {
  try {
    if (value.containsValueOfType<T>()) return value.get<T>();
  } catch (const sdbus::Error&) {
  }
  ++malformed;
  return std::nullopt;
}

}  // namespace

std::string_view address_type_name(AddressType type) {
  switch (type) {
    case AddressType::unknown: return "unknown";
    case AddressType::public_address: return "public";
    case AddressType::random: return "random";
  }
  return "unknown";
}

std::string_view advert_source_name(AdvertSource source) {
  switch (source) {
    case AdvertSource::cached: return "cached";
    case AdvertSource::added: return "added";
    case AdvertSource::changed: return "changed";
  }
  return "changed";
}

std::string_view scan_state_name(ScanState state) {
  switch (state) {
    case ScanState::stopped: return "stopped";
    case ScanState::bus_unavailable: return "bus_unavailable";
    case ScanState::bluez_gone: return "bluez_gone";
    case ScanState::no_adapter: return "no_adapter";
    case ScanState::adapter_off: return "adapter_off";
    case ScanState::starting: return "starting";
    case ScanState::discovering: return "discovering";
    case ScanState::failed: return "failed";
  }
  return "stopped";
}

// ------------------------------------------------------------------------------------------------
// pure helpers

namespace bluez {

std::optional<std::string> mac_from_device_path(std::string_view path) {
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view leaf = path.substr(slash + 1);
  if (!leaf.starts_with("dev_")) return std::nullopt;
  leaf.remove_prefix(4);
  if (!is_mac(leaf, '_')) return std::nullopt;
  std::string mac(leaf);
  std::replace(mac.begin(), mac.end(), '_', ':');
  return upper(std::move(mac));
}

std::map<std::string, sdbus::Variant> discovery_filter(const ScannerOptions& options) {
  std::map<std::string, sdbus::Variant> filter;
  filter["Transport"] = sdbus::Variant(std::string("le"));
  filter["DuplicateData"] = sdbus::Variant(options.duplicate_data);
  if (!options.uuids.empty()) filter["UUIDs"] = sdbus::Variant(options.uuids);
  return filter;
}

DeviceUpdate decode_device_properties(const std::map<std::string, sdbus::Variant>& properties) {
  DeviceUpdate update;
  for (const auto& [key, value] : properties) {
    if (key == "Address") {
      update.address = get_as<std::string>(value, update.malformed);
    } else if (key == "AddressType") {
      if (const auto text = get_as<std::string>(value, update.malformed)) {
        update.address_type = *text == "public"   ? AddressType::public_address
                              : *text == "random" ? AddressType::random
                                                  : AddressType::unknown;
      }
    } else if (key == "Name") {
      update.name = get_as<std::string>(value, update.malformed);
    } else if (key == "RSSI") {
      update.rssi = get_as<std::int16_t>(value, update.malformed);
    } else if (key == "ServiceData") {
      // a{sv}, each value an ay. (python-dbusmock's AddDevice sends aa{sv}: counted, skipped.)
      const auto entries = get_as<std::map<std::string, sdbus::Variant>>(value, update.malformed);
      if (!entries) continue;
      std::map<std::string, Bytes> data;
      for (const auto& [uuid, bytes] : *entries) {
        if (auto payload = get_as<std::vector<std::uint8_t>>(bytes, update.malformed))
          data[lower(uuid)] = std::move(*payload);
      }
      update.service_data = std::move(data);
    } else if (key == "ManufacturerData") {
      const auto entries = get_as<std::map<std::uint16_t, sdbus::Variant>>(value, update.malformed);
      if (!entries) continue;
      std::map<std::uint16_t, Bytes> data;
      for (const auto& [company, bytes] : *entries) {
        if (auto payload = get_as<std::vector<std::uint8_t>>(bytes, update.malformed))
          data[company] = std::move(*payload);
      }
      update.manufacturer_data = std::move(data);
    }
  }
  return update;
}

}  // namespace bluez

// ------------------------------------------------------------------------------------------------
// life cycle

std::shared_ptr<AdvertScanner> AdvertScanner::create(asio::io_context& io, ScannerOptions options) {
  return std::shared_ptr<AdvertScanner>(new AdvertScanner(io, std::move(options)));
}

AdvertScanner::AdvertScanner(asio::io_context& io, ScannerOptions options)
    : io_(io), options_(std::move(options)), retry_timer_(io), watchdog_timer_(io) {
  if (!options_.open_bus) options_.open_bus = [](asio::io_context& context) { return BluezBus::open_system(context); };
}

AdvertScanner::~AdvertScanner() { stop(); }

void AdvertScanner::start(const std::string& adapter) {
  if (started_) return;
  started_ = true;
  ++epoch_;
  adapter_ = adapter;
  adapter_path_ = "/org/bluez/" + adapter;
  connect();
}

void AdvertScanner::stop() {
  if (!started_) return;
  started_ = false;
  ++epoch_;
  retry_timer_.cancel();
  watchdog_timer_.cancel();
  if (bus_) {
    // Only our own session: BlueZ keeps one per client, other clients' scanning goes on. The call is
    // queued now and flushed when the connection closes (BlueZ would also end the session of a
    // client that leaves the bus, so nothing lingers even if this never arrives).
    if (session_ && adapter_present_) {
      bus_->call(kBluez, adapter_path_, kAdapterInterface, "StopDiscovery", {},
                 [](const sdbus::Error*, sdbus::MethodReply*) {}, options_.call_timeout);
    }
    bus_->close();
    bus_.reset();
  }
  bluez_owner_.clear();
  adapter_present_ = adapter_powered_ = adapter_discovering_ = false;
  phase_ = Phase::idle;
  session_ = false;
  devices_.clear();
  status_ = {ScanState::stopped, "stopped"};  // no callback after stop()
}

void AdvertScanner::retry_later(std::function<void()> action) {
  retry_timer_.expires_after(options_.retry_interval);
  retry_timer_.async_wait([weak = weak_from_this(), epoch = epoch_, action = std::move(action)](
                              const boost::system::error_code& error) {
    if (error) return;
    const auto self = weak.lock();
    if (!self || !self->started_ || self->epoch_ != epoch) return;
    action();
  });
}

void AdvertScanner::set_status(ScanState state, std::string text) {
  if (state == status_.state && text == status_.text) return;
  status_ = {state, std::move(text)};
  if (on_status_) on_status_(status_);
}

void AdvertScanner::bus_call(const std::string& path, const std::string& interface, const std::string& method,
                             const BluezBus::ArgsWriter& args, BluezBus::ReplyHandler done) {
  if (!bus_ || !started_) return;
  bus_->call(kBluez, path, interface, method, args, std::move(done), options_.call_timeout);
}

// Replies and timers are only acted upon while the world they were made for still exists.
std::shared_ptr<AdvertScanner> AdvertScanner::current(const std::weak_ptr<AdvertScanner>& weak, std::uint64_t epoch) {
  auto self = weak.lock();
  if (!self || !self->started_ || self->epoch_ != epoch) return nullptr;
  return self;
}

void AdvertScanner::call_failed(const std::string& what, const sdbus::Error& error, std::function<void()> retry) {
  ++counters_.errors;
  phase_ = Phase::idle;
  session_ = false;
  watchdog_timer_.cancel();
  retry_later(std::move(retry));
  set_status(ScanState::failed,
             what + " failed (" + describe(error) + "); retrying in " + seconds_text(options_.retry_interval));
}

// ------------------------------------------------------------------------------------------------
// bus and bluetoothd

void AdvertScanner::connect() {
  if (!started_) return;
  BusOpenResult opened = options_.open_bus(io_);
  std::string error = opened.error;
  if (opened.bus) {
    bus_ = std::move(opened.bus);
    const std::weak_ptr<AdvertScanner> weak = weak_from_this();
    bus_->set_disconnect_handler([weak](const std::string& why) {
      if (const auto self = weak.lock()) self->on_bus_lost(why);
    });
    // Subscribe before asking, so that no change can fall between an answer and the subscription.
    // One rule per signal kind for the whole org.bluez tree: no per-device proxies or rules.
    const auto subscribe = [&](const std::string& rule, void (AdvertScanner::*handler)(sdbus::Message&)) {
      return bus_->add_match(rule, [weak, handler, bus = bus_.get()](sdbus::Message& signal) {
        const auto self = weak.lock();
        if (!self || !self->started_ || self->bus_.get() != bus) return;
        (self.get()->*handler)(signal);
      });
    };
    const std::pair<std::string, void (AdvertScanner::*)(sdbus::Message&)> rules[] = {
        {"type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
         "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='org.bluez'",
         &AdvertScanner::on_name_owner_changed},
        {"type='signal',sender='org.bluez',interface='org.freedesktop.DBus.ObjectManager',member='InterfacesAdded'",
         &AdvertScanner::on_interfaces_added},
        {"type='signal',sender='org.bluez',interface='org.freedesktop.DBus.ObjectManager',member='InterfacesRemoved'",
         &AdvertScanner::on_interfaces_removed},
        {"type='signal',sender='org.bluez',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
         "arg0='org.bluez.Device1'",
         &AdvertScanner::on_properties_changed},
        {"type='signal',sender='org.bluez',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
         "arg0='org.bluez.Adapter1'",
         &AdvertScanner::on_properties_changed},
    };
    for (const auto& [rule, handler] : rules) {
      error = subscribe(rule, handler);
      if (!error.empty()) break;
    }
    if (error.empty()) {
      query_owner();
      return;
    }
    bus_->close();
    bus_.reset();
  }
  ++counters_.errors;
  retry_later([this] { connect(); });
  set_status(ScanState::bus_unavailable, error + "; retrying in " + seconds_text(options_.retry_interval));
}

void AdvertScanner::on_bus_lost(const std::string& why) {
  if (!started_) return;
  ++counters_.errors;
  ++epoch_;
  if (bus_) {
    bus_->close();
    bus_.reset();
  }
  bluez_owner_.clear();
  adapter_present_ = adapter_powered_ = adapter_discovering_ = false;
  phase_ = Phase::idle;
  session_ = false;
  devices_.clear();
  watchdog_timer_.cancel();
  retry_later([this] { connect(); });
  set_status(ScanState::bus_unavailable, why + "; reconnecting in " + seconds_text(options_.retry_interval));
}

void AdvertScanner::query_owner() {
  if (!bus_) return;
  // GetNameOwner, not a call to org.bluez: that would D-Bus-activate bluetoothd on a real system.
  bus_->call(
      kBroker, kBrokerPath, kBroker, "GetNameOwner", [](sdbus::MethodCall& call) { call << std::string(kBluez); },
      [weak = weak_from_this(), epoch = epoch_](const sdbus::Error* error, sdbus::MethodReply* reply) {
        const auto self = current(weak, epoch);
        if (!self) return;
        if (error) {
          if (error->getName() == "org.freedesktop.DBus.Error.NameHasNoOwner") {
            self->bluez_vanished("bluetoothd is not running (no owner of org.bluez on the system bus)");
          } else {
            self->call_failed("GetNameOwner(org.bluez)", *error, [raw = self.get()] { raw->query_owner(); });
          }
          return;
        }
        std::string owner;
        try {
          *reply >> owner;
        } catch (const sdbus::Error& e) {
          ++self->counters_.malformed;
          self->call_failed("GetNameOwner(org.bluez)", e, [raw = self.get()] { raw->query_owner(); });
          return;
        }
        self->bluez_appeared(owner);
      },
      options_.call_timeout);
}

void AdvertScanner::on_name_owner_changed(sdbus::Message& signal) {
  std::string name, old_owner, new_owner;
  try {
    signal >> name >> old_owner >> new_owner;
  } catch (const sdbus::Error&) {
    ++counters_.malformed;
    return;
  }
  if (name != kBluez) return;
  if (new_owner.empty()) {
    if (!bluez_owner_.empty()) bluez_vanished("bluetoothd left the system bus (org.bluez has no owner)");
    return;
  }
  bluez_appeared(new_owner);
}

void AdvertScanner::bluez_appeared(const std::string& owner) {
  if (owner == bluez_owner_) return;  // GetNameOwner and NameOwnerChanged both told us
  ++counters_.bluez_appeared;
  ++epoch_;
  bluez_owner_ = owner;
  adapter_present_ = adapter_powered_ = adapter_discovering_ = false;
  phase_ = Phase::idle;
  session_ = false;  // a new bluetoothd knows nothing of our old session
  devices_.clear();
  watchdog_timer_.cancel();
  retry_timer_.cancel();
  read_objects();
}

void AdvertScanner::bluez_vanished(const std::string& why) {
  ++epoch_;
  bluez_owner_.clear();
  adapter_present_ = adapter_powered_ = adapter_discovering_ = false;
  phase_ = Phase::idle;
  session_ = false;
  devices_.clear();
  watchdog_timer_.cancel();
  retry_timer_.cancel();
  set_status(ScanState::bluez_gone, why + "; waiting for it");
}

void AdvertScanner::read_objects() {
  bus_call("/", kObjectManager, "GetManagedObjects", {},
           [weak = weak_from_this(), epoch = epoch_](const sdbus::Error* error, sdbus::MethodReply* reply) {
             const auto self = current(weak, epoch);
        if (!self) return;
             const auto retry = [raw = self.get()] { raw->read_objects(); };
             if (error) {
               self->call_failed("GetManagedObjects", *error, retry);
               return;
             }
             // Devices as they come (their adverts are BlueZ' cached values), then the adapter, which
             // may start discovery. Every callback may stop us: check after each.
             std::optional<PropertyMap> adapter;
             bool stopped = false;
             try {
               bluez::for_each_managed_object(*reply, [&](const sdbus::ObjectPath& path, InterfaceMap& interfaces) {
                 if (path == self->adapter_path_) {
                   if (const auto properties = interfaces.find(kAdapterInterface); properties != interfaces.end())
                     adapter = std::move(properties->second);
                   return true;
                 }
                 if (!self->is_our_device(path)) return true;
                 const auto device = interfaces.find(kDeviceInterface);
                 if (device == interfaces.end()) return true;
                 self->on_device_properties(path, device->second, AdvertSource::cached);
                 stopped = !self->started_ || self->epoch_ != epoch;
                 return !stopped;
               });
             } catch (const sdbus::Error& e) {
               ++self->counters_.malformed;
               self->call_failed("GetManagedObjects", e, retry);
               return;
             }
             if (stopped) return;
             if (adapter) {
               self->adapter_found(*adapter);
               return;
             }
             self->set_status(ScanState::no_adapter,
                              "bluetoothd runs but has no adapter " + self->adapter_ + "; waiting for it");
           });
}

// ------------------------------------------------------------------------------------------------
// adapter and discovery

void AdvertScanner::adapter_found(const PropertyMap& properties) {
  if (!adapter_present_) ++counters_.adapter_appeared;
  adapter_present_ = true;
  int malformed = 0;
  if (const auto it = properties.find("Powered"); it != properties.end())
    adapter_powered_ = get_as<bool>(it->second, malformed).value_or(false);
  if (const auto it = properties.find("Discovering"); it != properties.end())
    adapter_discovering_ = get_as<bool>(it->second, malformed).value_or(false);
  counters_.malformed += static_cast<std::uint64_t>(malformed);
  if (phase_ != Phase::idle) return;  // told twice (GetManagedObjects and InterfacesAdded): already on it
  if (!adapter_powered_) {
    set_status(ScanState::adapter_off,
               "adapter " + adapter_ + " is powered off; waiting (cloudless never powers it on)");
    return;
  }
  begin_discovery("adapter " + adapter_ + " found");
}

void AdvertScanner::adapter_lost(const std::string& why) {
  if (!adapter_present_) return;
  ++epoch_;
  adapter_present_ = adapter_powered_ = adapter_discovering_ = false;
  phase_ = Phase::idle;
  session_ = false;
  devices_.clear();
  watchdog_timer_.cancel();
  retry_timer_.cancel();
  set_status(ScanState::no_adapter, why + "; waiting for it to come back");
}

void AdvertScanner::begin_discovery(const std::string& why) {
  if (phase_ != Phase::idle || !adapter_present_ || !adapter_powered_) return;
  phase_ = Phase::starting;
  set_status(ScanState::starting, "starting discovery on " + adapter_ + " (" + why + ")");
  set_filter_then_start(epoch_);
}

void AdvertScanner::set_filter_then_start(std::uint64_t epoch) {
  if (!started_ || epoch_ != epoch) return;
  // Set before every StartDiscovery: BlueZ versions differ in whether a client's filter survives its
  // StopDiscovery, and the call is cheap.
  bus_call(
      adapter_path_, kAdapterInterface, "SetDiscoveryFilter",
      [this](sdbus::MethodCall& call) { call << bluez::discovery_filter(options_); },
      [weak = weak_from_this(), epoch](const sdbus::Error* error, sdbus::MethodReply*) {
        const auto self = current(weak, epoch);
        if (!self) return;
        if (error) {
          self->filter_applied_ = false;
          self->filter_note_ = "BlueZ refused the discovery filter (" + describe(*error) + "): scanning unfiltered";
        } else {
          self->filter_applied_ = true;
          self->filter_note_.clear();
        }
        self->start_discovery(epoch);
      });
}

void AdvertScanner::start_discovery(std::uint64_t epoch) {
  bus_call(adapter_path_, kAdapterInterface, "StartDiscovery", {},
           [weak = weak_from_this(), epoch](const sdbus::Error* error, sdbus::MethodReply*) {
             const auto self = current(weak, epoch);
        if (!self) return;
             // InProgress: BlueZ already holds a session for this client (one per client) — ours.
             if (error && error->getName() != "org.bluez.Error.InProgress") {
               self->call_failed("StartDiscovery on " + self->adapter_, *error,
                                 [raw = self.get()] { raw->begin_discovery("retry"); });
               return;
             }
             self->session_ = true;
             self->phase_ = Phase::discovering;
             self->last_advert_ = std::chrono::steady_clock::now();
             self->arm_watchdog();
             std::string text = "discovering on " + self->adapter_;
             if (!self->filter_note_.empty()) {
               text += " (" + self->filter_note_ + ")";
             } else {
               text += " (filter: LE";
               for (const auto& uuid : self->options_.uuids) text += ", " + uuid;
               text += self->options_.duplicate_data ? ", duplicate data)" : ")";
             }
             self->set_status(ScanState::discovering, std::move(text));
           });
}

void AdvertScanner::restart_discovery(const std::string& why, bool by_watchdog) {
  if (phase_ != Phase::discovering) return;
  ++counters_.restarts;
  if (by_watchdog) ++counters_.watchdog_restarts;
  phase_ = Phase::restarting;
  watchdog_timer_.cancel();
  const auto epoch = epoch_;
  const auto restart = [weak = weak_from_this(), epoch] {
    const auto self = current(weak, epoch);
        if (!self) return;
    self->session_ = false;
    self->phase_ = Phase::starting;
    self->set_filter_then_start(epoch);
  };
  set_status(ScanState::starting, why + "; restarting discovery on " + adapter_);
  if (!started_ || epoch_ != epoch) return;
  if (!session_) {
    restart();
    return;
  }
  // Errors tolerated ("No discovery started" when BlueZ already dropped the session).
  bus_call(adapter_path_, kAdapterInterface, "StopDiscovery", {},
           [restart](const sdbus::Error*, sdbus::MethodReply*) { restart(); });
}

void AdvertScanner::arm_watchdog() {
  if (options_.watchdog.count() <= 0 || phase_ != Phase::discovering) return;
  watchdog_timer_.expires_at(last_advert_ + options_.watchdog);
  watchdog_timer_.async_wait([weak = weak_from_this(), epoch = epoch_](const boost::system::error_code& error) {
    if (error) return;
    const auto self = current(weak, epoch);
        if (!self) return;
    self->on_watchdog();
  });
}

void AdvertScanner::on_watchdog() {
  if (phase_ != Phase::discovering) return;
  // Adverts only move last_advert_ forward (no timer work per advert); sleep until its new deadline.
  if (std::chrono::steady_clock::now() - last_advert_ < options_.watchdog) {
    arm_watchdog();
    return;
  }
  restart_discovery("watchdog: no advert for " + seconds_text(options_.watchdog), true);
}

// ------------------------------------------------------------------------------------------------
// signals

void AdvertScanner::on_interfaces_added(sdbus::Message& signal) {
  if (bluez_owner_.empty() || signal.getSender() != bluez_owner_) return;
  sdbus::ObjectPath path;
  InterfaceMap interfaces;
  try {
    signal >> path >> interfaces;
  } catch (const sdbus::Error&) {
    ++counters_.malformed;
    return;
  }
  if (path == adapter_path_) {
    const auto adapter = interfaces.find(kAdapterInterface);
    if (adapter != interfaces.end()) adapter_found(adapter->second);
    return;
  }
  if (!is_our_device(path)) return;
  const auto device = interfaces.find(kDeviceInterface);
  if (device != interfaces.end()) on_device_properties(path, device->second, AdvertSource::added);
}

void AdvertScanner::on_interfaces_removed(sdbus::Message& signal) {
  if (bluez_owner_.empty() || signal.getSender() != bluez_owner_) return;
  sdbus::ObjectPath path;
  std::vector<std::string> interfaces;
  try {
    signal >> path >> interfaces;
  } catch (const sdbus::Error&) {
    ++counters_.malformed;
    return;
  }
  const auto has = [&](const char* name) { return std::find(interfaces.begin(), interfaces.end(), name) != interfaces.end(); };
  if (path == adapter_path_ && has(kAdapterInterface)) {
    adapter_lost("adapter " + adapter_ + " was removed");
    return;
  }
  // BlueZ forgets unseen devices after ~30 s (TemporaryTimeout); they come back with InterfacesAdded.
  if (has(kDeviceInterface)) devices_.erase(path);
}

void AdvertScanner::on_properties_changed(sdbus::Message& signal) {
  if (bluez_owner_.empty() || signal.getSender() != bluez_owner_) return;
  const std::string path = signal.getPath();
  std::string interface;
  PropertyMap changed;
  std::vector<std::string> invalidated;
  try {
    signal >> interface >> changed >> invalidated;
  } catch (const sdbus::Error&) {
    ++counters_.malformed;
    return;
  }
  if (interface == kAdapterInterface) {
    if (path == adapter_path_ && adapter_present_) on_adapter_properties(changed);
    return;
  }
  if (interface != kDeviceInterface || !is_our_device(path)) return;
  const auto epoch = epoch_;
  on_device_properties(path, changed, AdvertSource::changed);
  if (!started_ || epoch_ != epoch) return;
  // BlueZ invalidates RSSI when a device is no longer in range.
  if (std::find(invalidated.begin(), invalidated.end(), "RSSI") != invalidated.end()) {
    if (const auto it = devices_.find(path); it != devices_.end()) it->second.rssi.reset();
  }
}

void AdvertScanner::on_adapter_properties(const PropertyMap& changed) {
  int malformed = 0;
  if (const auto it = changed.find("Powered"); it != changed.end()) {
    const auto powered = get_as<bool>(it->second, malformed);
    if (powered && *powered != adapter_powered_) {
      adapter_powered_ = *powered;
      if (!adapter_powered_) {
        // BlueZ drops every discovery session when the adapter powers down.
        ++epoch_;
        phase_ = Phase::idle;
        session_ = false;
        watchdog_timer_.cancel();
        retry_timer_.cancel();
        set_status(ScanState::adapter_off,
                   "adapter " + adapter_ + " was powered off; waiting (cloudless never powers it on)");
      } else {
        begin_discovery("adapter " + adapter_ + " powered on");
      }
    }
  }
  if (!started_) return;
  if (const auto it = changed.find("Discovering"); it != changed.end()) {
    if (const auto discovering = get_as<bool>(it->second, malformed)) {
      adapter_discovering_ = *discovering;
      if (!adapter_discovering_ && phase_ == Phase::discovering && adapter_powered_) {
        // Not our stop(): the controller or bluetoothd ended scanning. Wait a moment (a power-off or
        // another client's restart may explain it), then restart if it is still off.
        retry_timer_.expires_after(options_.rediscover_delay);
        retry_timer_.async_wait([weak = weak_from_this(), epoch = epoch_](const boost::system::error_code& error) {
          if (error) return;
          const auto self = current(weak, epoch);
        if (!self) return;
          if (self->phase_ != Phase::discovering || self->adapter_discovering_ || !self->adapter_powered_) return;
          self->restart_discovery("adapter " + self->adapter_ + " stopped discovering without our stop", false);
        });
      }
    }
  }
  counters_.malformed += static_cast<std::uint64_t>(malformed);
}

bool AdvertScanner::is_our_device(const std::string& path) const {
  return path.size() > adapter_path_.size() + 1 && path.compare(0, adapter_path_.size(), adapter_path_) == 0 &&
         path[adapter_path_.size()] == '/';
}

void AdvertScanner::on_device_properties(const std::string& path, const PropertyMap& properties,
                                         AdvertSource source) {
  bluez::DeviceUpdate update = bluez::decode_device_properties(properties);
  counters_.malformed += static_cast<std::uint64_t>(update.malformed);

  DeviceInfo scratch;  // when the map is full: report, but do not remember
  auto it = devices_.find(path);
  if (it == devices_.end() && devices_.size() < kMaxDevices) it = devices_.emplace(path, DeviceInfo{}).first;
  DeviceInfo& info = it != devices_.end() ? it->second : scratch;
  if (info.mac.empty()) {
    if (auto mac = bluez::mac_from_device_path(path)) info.mac = std::move(*mac);
  }
  if (update.address && is_mac(*update.address, ':')) info.mac = upper(*update.address);
  if (info.mac.empty()) {  // neither a MAC property nor a device-shaped path: not a device we can name
    ++counters_.malformed;
    if (it != devices_.end()) devices_.erase(it);
    return;
  }
  if (update.address_type) info.address_type = *update.address_type;
  if (update.name) info.name = update.name;
  if (update.rssi) info.rssi = update.rssi;

  if (!update.is_advert()) return;  // e.g. Connected, Paired or UUIDs changed: no advertisement

  Advert advert;
  advert.mac = info.mac;
  advert.address_type = info.address_type;
  advert.name = info.name;
  advert.rssi = info.rssi;
  if (update.service_data) advert.service_data = std::move(*update.service_data);
  if (update.manufacturer_data) advert.manufacturer_data = std::move(*update.manufacturer_data);
  advert.source = source;
  advert.object_path = path;
  // BlueZ' cached values are no sign that the radio works now; only live reports feed the watchdog.
  if (source != AdvertSource::cached) last_advert_ = std::chrono::steady_clock::now();
  ++counters_.adverts;
  if (on_advert_) on_advert_(advert);
}

}  // namespace cloudless::xiaomi_ble
