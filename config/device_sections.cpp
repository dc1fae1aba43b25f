#include "config/device_sections.h"

namespace cloudless::config {

namespace {

const DeviceSection* const kSections[] = {&kMiioSection, &kMideaSection, &kXiaomiBleSection};

}  // namespace

const DeviceSection* find_device_section(std::string_view protocol) {
  for (const DeviceSection* section : kSections) {
    if (section->protocol == protocol) return section;
  }
  return nullptr;
}

std::string device_protocol_names() {
  std::string names;
  for (const DeviceSection* section : kSections) {
    if (!names.empty()) names += ", ";
    names += section->protocol;
  }
  return names;
}

}  // namespace cloudless::config
