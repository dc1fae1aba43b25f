// Keys a BLE device handed to us over GATT, kept in state_dir (never in the user's config), one JSON
// file per device: <state_dir>/ble_<aabbccddeeff>.json
//   {"mac":"A4:C1:38:02:83:F4","auth":"standard","token":"<24 hex>","bindkey":"<32 hex>",
//    "did":"blt.4.18n58266kgg00","product_id":1371,"registered":"2026-11-22T09:00:00Z"}
// Written by `cloudless ble register` and by the kettle's first login; read by the daemon's device
// kinds (a sensor picks a new file up while running, so a key registered with the daemon up is used
// at once). Only verified keys are ever written: the auth sessions return nothing unconfirmed.
#pragma once

#include <optional>
#include <string>

#include "protocols/common/bytes.h"

namespace cloudless {

struct StoredBleKeys {
  std::string mac;                // "A4:C1:38:02:83:F4"
  std::string auth;               // "standard" | "legacy"
  std::optional<Bytes> token;     // 12 bytes
  std::optional<Bytes> bindkey;   // 16 bytes (standard auth) or 12 (legacy beacon key, char 0x0014)
  std::string did;                // standard auth: the device id from its remote info
  std::optional<int> product_id;  // legacy auth: the product id the token was registered with
  std::string registered;         // ISO 8601 UTC
};

// "<state_dir>/ble_a4c1380283f4.json" for any spelling of the MAC.
std::string ble_key_file(const std::string& state_dir, const std::string& mac);

struct LoadedBleKeys {
  std::optional<StoredBleKeys> keys;  // nullopt: no file, or unreadable (then `error` says why)
  std::string error;                  // "" when the file is simply absent
};
LoadedBleKeys load_ble_keys(const std::string& state_dir, const std::string& mac);

// Writes atomically (creating state_dir if needed, mode 0600: the file holds secrets). "" or the error.
std::string save_ble_keys(const std::string& state_dir, const StoredBleKeys& keys);

}  // namespace cloudless
