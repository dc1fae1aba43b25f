// What every device kind gets from the daemon when it is created.
#pragma once

#include <string>

#include <boost/asio/io_context.hpp>

#include "daemon/model/device.h"

namespace cloudless {

struct DeviceContext {
  boost::asio::io_context& io;
  model::DeviceListener& listener;
  std::string state_dir;
};

}  // namespace cloudless
