// One row per protocol a device entry can name (`protocol: miio`): the keys its entry takes and the
// function that reads them, each in its own file (config/<protocol>_section.cpp). A new protocol is
// its settings struct in config/config.h, its section file, and its row in device_sections.cpp.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "config/config.h"
#include "config/loader.h"

namespace cloudless::config {

struct DeviceSection {
  std::string_view protocol;
  std::span<const std::string_view> keys;  // "protocol" included
  // Reads the entry's fields (unknown keys already reported); problems go to the reader.
  DeviceSettings (*load)(Reader& reader, const Fields& fields, const Field& entry);
};

extern const DeviceSection kMiioSection;
extern const DeviceSection kMideaSection;
extern const DeviceSection kXiaomiBleSection;

// nullptr for a protocol no section reads.
const DeviceSection* find_device_section(std::string_view protocol);
// "miio, midea, xiaomi_ble": for the message about an unknown protocol.
std::string device_protocol_names();

}  // namespace cloudless::config
