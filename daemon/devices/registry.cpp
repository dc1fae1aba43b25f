#include "daemon/devices/registry.h"

#include <spdlog/spdlog.h>

#include "daemon/devices/mi_kettle.h"
#include "daemon/devices/midea_ac.h"
#include "daemon/devices/miio_plug.h"
#include "daemon/devices/xiaomi_ble_sensor.h"

namespace cloudless {

std::unique_ptr<model::Device> make_device(const config::DeviceConfig& config, DeviceContext context) {
  if (const auto* miio = std::get_if<config::MiioDeviceConfig>(&config.settings))
    return std::make_unique<MiioPlug>(config.id, *miio, context);
  if (const auto* midea = std::get_if<config::MideaDeviceConfig>(&config.settings))
    return std::make_unique<MideaAc>(config.id, *midea, context);
  if (const auto* ble = std::get_if<config::BleDeviceConfig>(&config.settings)) {
    if (is_mi_kettle(*ble)) return std::make_unique<MiKettle>(config.id, *ble, context);  // product id 131 / 275
    return std::make_unique<XiaomiBleSensor>(config.id, *ble, context);
  }
  spdlog::error("{}: protocol '{}' is not bridged by this version yet; the device is skipped", config.id,
                config.protocol);
  return nullptr;
}

}  // namespace cloudless
