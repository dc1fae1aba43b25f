// One connected GATT peer, as an auth session or a device kind sees it: read, write and subscribe by
// characteristic UUID. The BlueZ client (bluez_gatt_client.h) implements it over D-Bus; unit tests
// implement it with a scripted device, so the Mi auth handshakes are tested without a bus.
//
// Contract for implementations (sessions rely on it):
//  * every handler runs later on the io thread, never inline from the call that started it;
//  * each operation's handler runs exactly once: with the value, or with a GattError (its own timeout,
//    the link dropped, a BlueZ error);
//  * after the link drops, pending and later operations fail with GattErrorKind::disconnected and no
//    notification is delivered any more.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/common/bytes.h"

namespace cloudless::xiaomi_ble {

// Why a GATT operation failed. BlueZ error names map onto these (bluez_gatt_client.cpp); `name` keeps
// the original for the log.
enum class GattErrorKind {
  timeout,         // no reply within the operation's timeout (ours, or D-Bus NoReply)
  disconnected,    // the device dropped, went out of range, or was never connected
  device_unknown,  // BlueZ has no such device (never seen in a scan, or removed): org.bluez.Error.DoesNotExist
  no_characteristic,  // the device does not offer this characteristic (wrong device or firmware)
  in_progress,     // org.bluez.Error.InProgress: another connect/operation is running
  not_permitted,   // org.bluez.Error.NotPermitted: the characteristic refuses this operation
  not_authorized,  // org.bluez.Error.NotAuthorized / NotPaired / AuthenticationFailed
  not_supported,   // org.bluez.Error.NotSupported
  invalid_value,   // org.bluez.Error.InvalidValueLength / InvalidArguments / InvalidOffset
  adapter,         // adapter missing or off: org.bluez.Error.NotReady, no such adapter
  bluez_gone,      // bluetoothd is not running (no owner of org.bluez), or the bus is unreachable
  failed,          // org.bluez.Error.Failed and anything unrecognised
  cancelled,       // we gave up on it (stop(), the link closed by its owner)
};
std::string_view gatt_error_kind_name(GattErrorKind kind);  // the enumerator's name

struct GattError {
  GattErrorKind kind = GattErrorKind::failed;
  std::string name;     // D-Bus error name when there was one, e.g. "org.bluez.Error.InProgress"
  std::string message;  // BlueZ' message or ours, e.g. "le-connection-abort-by-local"
  // One sentence for the log: "device not connected (org.bluez.Error.Failed: Not connected)".
  std::string describe() const;
  // Worth another attempt later (timeouts, in-progress, drops, Failed); not for a missing
  // characteristic, NotPermitted, NotSupported or an invalid value.
  bool retryable() const;
};

// Maps a D-Bus error name and message onto a GattError (org.bluez.Error.*, org.freedesktop.DBus.Error.*).
GattError gatt_error_from_dbus(const std::string& name, const std::string& message);

enum class WriteType {
  request,  // write with response (ATT Write Request): the reply confirms the device took it
  command,  // write without response (ATT Write Command)
};

// Full lower-case 128-bit UUID of a Bluetooth SIG short id: 0x0010 → "00000010-0000-1000-8000-00805f9b34fb".
// The Mi service characteristics (0001, 0004, 0010, 0014, 0019) and the kettle's (aa01…) are all
// expanded in this base (docs/ble.md §4.1, §10).
std::string uuid16(std::uint16_t short_id);

class GattLink {
 public:
  using DoneHandler = std::function<void(const std::optional<GattError>& error)>;
  using ReadHandler = std::function<void(const std::optional<GattError>& error, Bytes value)>;
  using NotifyHandler = std::function<void(const Bytes& value)>;

  virtual ~GattLink() = default;

  // The peer's address, "AA:BB:CC:DD:EE:FF".
  virtual const std::string& mac() const = 0;
  // Whether the resolved services contain this characteristic (lower-case 128-bit UUID).
  virtual bool has_characteristic(std::string_view uuid) const = 0;

  virtual void read(std::string_view uuid, ReadHandler done) = 0;
  virtual void write(std::string_view uuid, Bytes value, WriteType type, DoneHandler done) = 0;
  // Enables notifications (BlueZ StartNotify writes the CCCD); `on_value` then receives every value
  // the device notifies on that characteristic until the link drops. Subscribing again replaces the
  // handler. `done` reports whether notifications were enabled.
  virtual void subscribe(std::string_view uuid, NotifyHandler on_value, DoneHandler done) = 0;
};

}  // namespace cloudless::xiaomi_ble
