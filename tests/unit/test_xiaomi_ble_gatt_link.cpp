// BlueZ error names → what the GATT client reports, and the UUID helper.
#include <catch2/catch.hpp>

#include "protocols/xiaomi_ble/auth/gatt_link.h"

using namespace cloudless::xiaomi_ble;

TEST_CASE("short ids expand in the Bluetooth base UUID, lower case") {
  CHECK(uuid16(0x0010) == "00000010-0000-1000-8000-00805f9b34fb");
  CHECK(uuid16(0xAA02) == "0000aa02-0000-1000-8000-00805f9b34fb");
  CHECK(uuid16(0xFE95) == "0000fe95-0000-1000-8000-00805f9b34fb");
}

TEST_CASE("every org.bluez.Error name maps to a kind, with the original kept for the log") {
  struct Case {
    const char* name;
    const char* message;
    GattErrorKind kind;
    bool retryable;
  };
  const Case cases[] = {
      {"org.bluez.Error.InProgress", "In Progress", GattErrorKind::in_progress, true},
      {"org.bluez.Error.NotPermitted", "Write not permitted", GattErrorKind::not_permitted, false},
      {"org.bluez.Error.NotAuthorized", "", GattErrorKind::not_authorized, false},
      {"org.bluez.Error.AuthenticationFailed", "", GattErrorKind::not_authorized, false},
      {"org.bluez.Error.NotSupported", "", GattErrorKind::not_supported, false},
      {"org.bluez.Error.InvalidValueLength", "", GattErrorKind::invalid_value, false},
      {"org.bluez.Error.InvalidArguments", "", GattErrorKind::invalid_value, false},
      {"org.bluez.Error.DoesNotExist", "", GattErrorKind::device_unknown, true},
      {"org.bluez.Error.NotReady", "Resource Not Ready", GattErrorKind::adapter, true},
      {"org.bluez.Error.Failed", "Not connected", GattErrorKind::disconnected, true},
      {"org.bluez.Error.Failed", "le-connection-abort-by-local", GattErrorKind::disconnected, true},
      {"org.bluez.Error.Failed", "Operation failed with ATT error: 0x0e", GattErrorKind::failed, true},
      {"org.bluez.Error.SomethingNew", "", GattErrorKind::failed, true},
      {"org.freedesktop.DBus.Error.NoReply", "", GattErrorKind::timeout, true},
      {"org.freedesktop.DBus.Error.ServiceUnknown", "", GattErrorKind::bluez_gone, true},
      {"org.freedesktop.DBus.Error.UnknownObject", "", GattErrorKind::disconnected, true},
  };
  for (const Case& c : cases) {
    INFO(c.name << " / " << c.message);
    const GattError error = gatt_error_from_dbus(c.name, c.message);
    CHECK(error.kind == c.kind);
    CHECK(error.retryable() == c.retryable);
    CHECK(error.name == c.name);
    CHECK(error.describe().find(c.name) != std::string::npos);
  }
}

TEST_CASE("a description without a D-Bus name is only the sentence") {
  GattError error;
  error.kind = GattErrorKind::no_characteristic;
  CHECK(error.describe() == "the device has no such characteristic");
  CHECK_FALSE(error.retryable());
  CHECK(gatt_error_kind_name(GattErrorKind::bluez_gone) == "bluez_gone");
}
