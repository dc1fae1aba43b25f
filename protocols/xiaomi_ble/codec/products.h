// The MiBeacon product-id table (docs/ble.md §1.6: xiaomi-ble devices.py cross-checked with
// ble_monitor): which model a 16-bit product id names, what it advertises and whether its adverts
// are encrypted on stock firmware. Data, not code: a new hardware revision is one more row.
//
// The table informs; it does not decide. The frame's own control bits say whether a frame is
// encrypted and which scheme it uses, and objects of an unknown product are still decoded with the
// generic rules (the most common user report upstream is "unknown product id", docs/ble.md §1.6).
// It is also the one place that says which device-specific objects (ids 0x4800 and up, whose
// meaning each model defines) a product sends: the object decoder decodes those only for it.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "protocols/xiaomi_ble/codec/mibeacon_objects.h"

namespace cloudless::xiaomi_ble {

// What a product needs before its readings can be read, on stock firmware.
enum class KeyNeed {
  none,        // plain adverts
  bind_key,    // MiBeacon v4/v5 AES-CCM: a 16-byte bind key (32 hex digits)
  legacy_key,  // MiBeacon v2/v3: a 12-byte beacon key (24 hex digits)
  unknown,     // not confirmed upstream either way
};

std::string_view key_need_name(KeyNeed need);  // "none", "bind_key", "legacy_key", "unknown"

struct Product {
  std::uint16_t product_id = 0;
  std::string_view model;  // "LYWSD03MMC": the code printed on the device / used upstream
  std::string_view name;   // "Mijia temperature and humidity sensor 2"
  KeyNeed key = KeyNeed::unknown;
  // "Sleepy" devices advertise only when something happens (door, motion, buttons): their
  // entities must not expire after a few minutes of silence (docs/ble.md §1.7 item 9).
  bool sleepy = false;
  // The readings the product is known to send (what a device kind declares as entities).
  std::vector<Quantity> quantities;
  // The device-specific objects (is_device_specific ids) it defines; other ids of that range are
  // kept raw for it.
  std::vector<std::uint16_t> device_objects = {};

  bool sends(Quantity quantity) const;
  bool defines(std::uint16_t object_id) const;
};

// nullptr for an id that is not in the table.
const Product* find_product(std::uint16_t product_id);
const std::vector<Product>& products();

}  // namespace cloudless::xiaomi_ble
