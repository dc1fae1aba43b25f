// What every device kind gets from the daemon when it is created.
#pragma once

#include <string>

#include <boost/asio/io_context.hpp>

#include "daemon/model/device.h"

namespace cloudless {

class BleHub;

struct DeviceContext {
  boost::asio::io_context& io;
  model::DeviceListener& listener;
  std::string state_dir;
  // The daemon's shared BLE receiver (daemon/devices/ble_hub.h), owned by the Daemon and outliving
  // every device. A pointer with a default so that `DeviceContext{io, listener, dir}` stays valid for
  // the device kinds (and tests) that have no use for it; nullptr: no BLE in this program. The hub
  // touches D-Bus only when the first BLE device subscribes, so WiFi-only setups never do.
  BleHub* ble_hub = nullptr;
};

}  // namespace cloudless
