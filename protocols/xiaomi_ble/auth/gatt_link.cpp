#include "protocols/xiaomi_ble/auth/gatt_link.h"

#include <cstdio>

namespace cloudless::xiaomi_ble {

std::string_view gatt_error_kind_name(GattErrorKind kind) {
  switch (kind) {
    case GattErrorKind::timeout: return "timeout";
    case GattErrorKind::disconnected: return "disconnected";
    case GattErrorKind::device_unknown: return "device_unknown";
    case GattErrorKind::no_characteristic: return "no_characteristic";
    case GattErrorKind::in_progress: return "in_progress";
    case GattErrorKind::not_permitted: return "not_permitted";
    case GattErrorKind::not_authorized: return "not_authorized";
    case GattErrorKind::not_supported: return "not_supported";
    case GattErrorKind::invalid_value: return "invalid_value";
    case GattErrorKind::adapter: return "adapter";
    case GattErrorKind::bluez_gone: return "bluez_gone";
    case GattErrorKind::failed: return "failed";
    case GattErrorKind::cancelled: return "cancelled";
  }
  return "failed";
}

namespace {

std::string_view kind_sentence(GattErrorKind kind) {
  switch (kind) {
    case GattErrorKind::timeout: return "no answer in time";
    case GattErrorKind::disconnected: return "device not connected (out of range, or it dropped the link)";
    case GattErrorKind::device_unknown: return "BlueZ does not know this device (not seen in a scan)";
    case GattErrorKind::no_characteristic: return "the device has no such characteristic";
    case GattErrorKind::in_progress: return "another operation is in progress";
    case GattErrorKind::not_permitted: return "the device does not permit this operation";
    case GattErrorKind::not_authorized: return "the device requires authentication or pairing";
    case GattErrorKind::not_supported: return "not supported by the device or adapter";
    case GattErrorKind::invalid_value: return "the device refused the value";
    case GattErrorKind::adapter: return "the Bluetooth adapter is missing or powered off";
    case GattErrorKind::bluez_gone: return "BlueZ (bluetoothd) is not reachable on the system bus";
    case GattErrorKind::failed: return "BlueZ reported a failure";
    case GattErrorKind::cancelled: return "cancelled";
  }
  return "failed";
}

bool starts_with(const std::string& text, std::string_view prefix) { return text.rfind(prefix, 0) == 0; }

}  // namespace

std::string GattError::describe() const {
  std::string text(kind_sentence(kind));
  if (!name.empty() || !message.empty()) {
    text += " (";
    text += name;
    if (!name.empty() && !message.empty()) text += ": ";
    text += message;
    text += ")";
  }
  return text;
}

bool GattError::retryable() const {
  switch (kind) {
    case GattErrorKind::timeout:
    case GattErrorKind::disconnected:
    case GattErrorKind::device_unknown:  // it may show up in the next scan
    case GattErrorKind::in_progress:
    case GattErrorKind::adapter:
    case GattErrorKind::bluez_gone:
    case GattErrorKind::failed:
      return true;
    default:
      return false;
  }
}

GattError gatt_error_from_dbus(const std::string& name, const std::string& message) {
  GattError error;
  error.name = name;
  error.message = message;
  const std::string bluez = "org.bluez.Error.";
  if (starts_with(name, bluez)) {
    const std::string tail = name.substr(bluez.size());
    if (tail == "InProgress" || tail == "Busy") error.kind = GattErrorKind::in_progress;
    else if (tail == "NotPermitted") error.kind = GattErrorKind::not_permitted;
    else if (tail == "NotAuthorized" || tail == "NotPaired" || tail == "AuthenticationFailed" ||
             tail == "AuthenticationRejected" || tail == "AuthenticationCanceled")
      error.kind = GattErrorKind::not_authorized;
    else if (tail == "NotSupported") error.kind = GattErrorKind::not_supported;
    else if (tail == "InvalidValueLength" || tail == "InvalidArguments" || tail == "InvalidOffset")
      error.kind = GattErrorKind::invalid_value;
    else if (tail == "DoesNotExist") error.kind = GattErrorKind::device_unknown;
    else if (tail == "NotReady" || tail == "NoSuchAdapter") error.kind = GattErrorKind::adapter;
    else if (tail == "NotConnected" || tail == "AlreadyDisconnected") error.kind = GattErrorKind::disconnected;
    else if (tail == "Failed" && (message == "Not connected" || message.find("abort") != std::string::npos ||
                                  message.find("Disconnected") != std::string::npos))
      error.kind = GattErrorKind::disconnected;
    else error.kind = GattErrorKind::failed;
    return error;
  }
  if (name == "org.freedesktop.DBus.Error.NoReply" || name == "org.freedesktop.DBus.Error.Timeout" ||
      name == "org.freedesktop.DBus.Error.TimedOut")
    error.kind = GattErrorKind::timeout;
  else if (name == "org.freedesktop.DBus.Error.ServiceUnknown" || name == "org.freedesktop.DBus.Error.NameHasNoOwner" ||
           name == "org.freedesktop.DBus.Error.Disconnected" || name == "org.freedesktop.DBus.Error.NoServer")
    error.kind = GattErrorKind::bluez_gone;
  else if (name == "org.freedesktop.DBus.Error.UnknownObject" || name == "org.freedesktop.DBus.Error.UnknownMethod" ||
           name == "org.freedesktop.DBus.Error.UnknownInterface")
    error.kind = GattErrorKind::disconnected;  // the object went away: the device disconnected or was removed
  else
    error.kind = GattErrorKind::failed;
  return error;
}

std::string uuid16(std::uint16_t short_id) {
  char text[40];
  std::snprintf(text, sizeof text, "0000%04x-0000-1000-8000-00805f9b34fb", static_cast<unsigned>(short_id));
  return text;
}

}  // namespace cloudless::xiaomi_ble
