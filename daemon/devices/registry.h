// The one place that knows every device kind: config entry → Device. Adding a kind is one row here
// plus its own files; the MQTT layer does not change.
#pragma once

#include <memory>

#include "config/config.h"
#include "daemon/devices/device_context.h"
#include "daemon/model/device.h"

namespace cloudless {

// nullptr (with a logged reason) when this build cannot bridge the protocol yet.
std::unique_ptr<model::Device> make_device(const config::DeviceConfig& config, DeviceContext context);

}  // namespace cloudless
