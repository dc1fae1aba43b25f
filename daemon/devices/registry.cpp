#include "daemon/devices/registry.h"

#include <string_view>

#include <spdlog/spdlog.h>

#include "daemon/devices/mi_kettle.h"
#include "daemon/devices/midea_ac.h"
#include "daemon/devices/miio_plug.h"
#include "daemon/devices/xiaomi_ble_sensor.h"

namespace cloudless {

namespace {

template <typename Settings>
const Settings* settings_of(const config::DeviceConfig& config) {
  return std::get_if<Settings>(&config.settings);
}

template <typename Settings>
bool any_of_protocol(const config::DeviceConfig& config) {
  return settings_of<Settings>(config) != nullptr;
}

template <typename Kind, typename Settings>
std::unique_ptr<model::Device> make(const config::DeviceConfig& config, DeviceContext context) {
  return std::make_unique<Kind>(config.id, *settings_of<Settings>(config), context);
}

// One row per device kind: which config entries it takes and how it is made. The first row that
// takes an entry makes it (the kettle before the BLE sensor, which takes every other BLE device).
struct DeviceKind {
  std::string_view name;  // for the log
  bool (*takes)(const config::DeviceConfig&);
  std::unique_ptr<model::Device> (*make)(const config::DeviceConfig&, DeviceContext);
};

const DeviceKind kKinds[] = {
    {"miIO plug", any_of_protocol<config::MiioDeviceConfig>, make<MiioPlug, config::MiioDeviceConfig>},
    {"Midea air conditioner", any_of_protocol<config::MideaDeviceConfig>, make<MideaAc, config::MideaDeviceConfig>},
    {"Mi kettle",  // product id 131 / 275
     [](const config::DeviceConfig& config) {
       const auto* ble = settings_of<config::BleDeviceConfig>(config);
       return ble != nullptr && is_mi_kettle(*ble);
     },
     make<MiKettle, config::BleDeviceConfig>},
    {"Xiaomi BLE sensor", any_of_protocol<config::BleDeviceConfig>, make<XiaomiBleSensor, config::BleDeviceConfig>},
};

}  // namespace

std::unique_ptr<model::Device> make_device(const config::DeviceConfig& config, DeviceContext context) {
  for (const DeviceKind& kind : kKinds) {
    if (!kind.takes(config)) continue;
    spdlog::debug("{}: a {}", config.id, kind.name);
    return kind.make(config, context);
  }
  spdlog::error("{}: protocol '{}' is not bridged by this version yet; the device is skipped", config.id,
                config.protocol);
  return nullptr;
}

}  // namespace cloudless
