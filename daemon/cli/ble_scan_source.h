// `cloudless ble scan`, the BlueZ half: runs one AdvertScanner (protocols/xiaomi_ble/bluez/bluez_scanner.h)
// on a private io_context for a fixed time and hands every advert that carries MiBeacon service data
// (UUID 0xFE95) to a callback. The MiBeacon half (decoding, the table) is in ble_commands.cpp.
//
// Why two files: bluez_scanner.h and mibeacon.h both define xiaomi_ble::kMiBeaconServiceUuid, so one
// translation unit cannot include both; this interface carries no type of either header.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "protocols/common/bytes.h"

namespace cloudless::cli {

struct HeardAdvert {
  std::string mac;                   // "A4:C1:38:02:83:F4", as BlueZ shows it
  std::optional<std::string> name;   // BlueZ' Name, when the device ever sent one
  std::optional<std::int16_t> rssi;  // dBm
  Bytes mibeacon;                    // the 0xFE95 service data (never empty here)
  bool cached = false;               // BlueZ' last known value, read at start: possibly old
};

struct BleScanRun {
  // Discovery ran. False: the scan never got that far, and `problem` says why.
  bool discovered = false;
  // The scanner's state name when it stopped short ("bus_unavailable", "bluez_gone", "no_adapter",
  // "adapter_off", "failed") and its sentence; empty when `discovered`.
  std::string problem_state;
  std::string problem_text;
  bool interrupted = false;             // SIGINT/SIGTERM ended the scan early
  std::vector<std::string> notes;       // status changes after discovery began (bluetoothd restarted, ...)
  bool filter_applied = false;          // BlueZ accepted our discovery filter
  std::uint64_t adverts = 0;            // every advert the scanner reported (any service data)
};

// Scans `adapter` for `duration` (or until SIGINT/SIGTERM), calling `heard` on the io thread for each
// advert carrying MiBeacon data and `progress` for each status sentence. Stops at once, before the
// time is up, when the scan cannot start: no system bus, no bluetoothd, no adapter, adapter off, or a
// BlueZ call refused. Blocks the calling thread (a one-shot command, not the daemon).
BleScanRun run_ble_scan(const std::string& adapter, std::chrono::milliseconds duration,
                        const std::function<void(const HeardAdvert&)>& heard,
                        const std::function<void(const std::string&)>& progress);

}  // namespace cloudless::cli
