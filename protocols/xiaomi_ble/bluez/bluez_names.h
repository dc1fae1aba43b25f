// BlueZ' D-Bus names and the property-map shapes of its ObjectManager, shared by the advert scanner
// and the GATT client (docs/ble.md §6).
#pragma once

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <string>

#include <sdbus-c++/sdbus-c++.h>

namespace cloudless::xiaomi_ble::bluez {

inline constexpr const char* kService = "org.bluez";
inline constexpr const char* kAdapterInterface = "org.bluez.Adapter1";
inline constexpr const char* kDeviceInterface = "org.bluez.Device1";
inline constexpr const char* kServiceInterface = "org.bluez.GattService1";
inline constexpr const char* kCharacteristicInterface = "org.bluez.GattCharacteristic1";
inline constexpr const char* kObjectManager = "org.freedesktop.DBus.ObjectManager";
inline constexpr const char* kProperties = "org.freedesktop.DBus.Properties";
inline constexpr const char* kBroker = "org.freedesktop.DBus";
inline constexpr const char* kBrokerPath = "/org/freedesktop/DBus";

using PropertyMap = std::map<std::string, sdbus::Variant>;
using InterfaceMap = std::map<std::string, PropertyMap>;

// A GetManagedObjects reply (a{oa{sa{sv}}}) read one object at a time, `visit(path, interfaces)`
// returning false to stop. Read whole into one map, the reply of a BlueZ that knows many devices
// keeps every property of every object alive at once as a variant, and each variant is an sd-bus
// message of its own (about 800 bytes): 50 sensors and an adapter made a 0.93 MB peak at start, for
// good in the resident peak. Throws sdbus::Error on a reply of another shape, as operator>> does.
template <typename Visit>
void for_each_managed_object(sdbus::Message& reply, Visit visit) {
  static const std::string kEntry = "oa{sa{sv}}";
  static const std::string kArray = "{" + kEntry + "}";
  if (!reply.enterContainer(kArray)) return;
  while (reply.enterDictEntry(kEntry)) {
    sdbus::ObjectPath path;
    InterfaceMap interfaces;
    reply >> path >> interfaces;
    reply.exitDictEntry();
    if (!visit(path, interfaces)) return;
  }
  reply.clearFlags();
  reply.exitContainer();
}

// The value of `key` when present and of type T; BlueZ versions and fakes differ (docs/ble.md §7.2 Bug 1).
template <typename T>
std::optional<T> property(const PropertyMap& properties, const char* key) {
  const auto it = properties.find(key);
  if (it == properties.end()) return std::nullopt;
  try {
    if (it->second.containsValueOfType<T>()) return it->second.get<T>();
  } catch (const sdbus::Error&) {
  }
  return std::nullopt;
}

inline std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

inline std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

}  // namespace cloudless::xiaomi_ble::bluez
