#include "daemon/devices/registry.h"

#include <spdlog/spdlog.h>

#include "daemon/devices/miio_plug.h"

namespace cloudless {

std::unique_ptr<model::Device> make_device(const config::DeviceConfig& config, DeviceContext context) {
  if (const auto* miio = std::get_if<config::MiioDeviceConfig>(&config.settings))
    return std::make_unique<MiioPlug>(config.id, *miio, context);
  spdlog::error("{}: protocol '{}' is not bridged by this version yet; the device is skipped", config.id,
                config.protocol);
  return nullptr;
}

}  // namespace cloudless
