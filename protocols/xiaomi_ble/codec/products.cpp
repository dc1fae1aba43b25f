// The MiBeacon product table. Rows: docs/ble.md §1.6 (ids and crypto notes), key needs from
// ble_monitor's device pages where §1.6 is silent (docs/_devices/*.md "encryption_key"), readings
// from the objects each model is documented to send (§1.5 "typical devices").
#include "protocols/xiaomi_ble/codec/products.h"

#include <algorithm>

namespace cloudless::xiaomi_ble {

namespace {

using Q = Quantity;

std::vector<Product> build_table() {
  // Shorthands for the common reading sets.
  const std::vector<Quantity> kClimate = {Q::temperature, Q::humidity, Q::battery};
  const std::vector<Quantity> kButtons = {Q::button};
  // Locks (objects 0x0006 fingerprint, 0x0007 door, 0x0008 armed, 0x000B lock event): the lock
  // state, the event (action), how and by whom; each lock's extra readings are added to its row.
  const std::vector<Quantity> kLock = {Q::locked, Q::lock_event, Q::lock_method, Q::key_id, Q::battery};
  const auto lock_with = [&kLock](std::vector<Quantity> extra) {
    std::vector<Quantity> out = kLock;
    out.insert(out.end(), extra.begin(), extra.end());
    return out;
  };
  const std::vector<Quantity> kLockDoor = {Q::opening, Q::door_left_open, Q::door_pried};
  // Device-specific objects (ids 0x4800 and up, docs/ble.md §1.5) by family. The MIoT climate ids
  // mean the same on every thermo-hygrometer that uses them: 0x4801/0x4C01 temperature float32,
  // 0x4802/0x4C02 humidity u8, 0x4803/0x4C03 battery u8, 0x4808/0x4C08 humidity float32.
  const std::vector<std::uint16_t> kMiotClimate = {0x4801, 0x4802, 0x4803, 0x4808, 0x4C01, 0x4C02, 0x4C03, 0x4C08};
  const std::vector<std::uint16_t> kPress4A = {0x4A0C, 0x4A0D, 0x4A0E};  // single, double, long
  const std::vector<std::uint16_t> kPress4E = {0x4E0C, 0x4E0D, 0x4E0E};
  const std::vector<std::uint16_t> kPress56 = {0x560C, 0x560D, 0x560E};
  const auto joined = [](std::vector<std::uint16_t> a, const std::vector<std::uint16_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  constexpr KeyNeed none = KeyNeed::none;
  constexpr KeyNeed bind = KeyNeed::bind_key;
  constexpr KeyNeed legacy = KeyNeed::legacy_key;
  constexpr KeyNeed unknown = KeyNeed::unknown;
  constexpr bool sleepy = true;
  constexpr bool chatty = false;  // advertises on a fixed interval
  std::vector<Product> table = {
      // Thermo-hygrometers.
      {0x01AA, "LYWSDCGQ", "Mijia thermo-hygrometer (round)", none, chatty, kClimate, kMiotClimate},
      {0x045B, "LYWSD02", "Mijia e-ink clock thermo-hygrometer", none, chatty, kClimate, kMiotClimate},
      {0x16E4, "LYWSD02MMC", "Mijia clock thermo-hygrometer", bind, chatty, kClimate, kMiotClimate},
      {0x2542, "LYWSD02MMC", "Mijia clock thermo-hygrometer (2nd revision)", bind, chatty, kClimate, kMiotClimate},
      // Stock firmware encrypts; pvvx/ATC custom firmware in "Mi" mode sends v3 plain frames.
      {0x055B, "LYWSD03MMC", "Mijia thermo-hygrometer 2", bind, chatty, kClimate, kMiotClimate},
      {0x0387, "MHO-C401", "Miaomiaoce e-ink thermo-hygrometer", bind, chatty, kClimate, kMiotClimate},
      {0x06D3, "MHO-C303", "Miaomiaoce alarm clock thermo-hygrometer", unknown, chatty, kClimate, kMiotClimate},
      {0x0347, "CGG1", "Qingping thermo-hygrometer", none, chatty, kClimate, kMiotClimate},
      {0x0B48, "CGG1-ENCRYPTED", "Qingping thermo-hygrometer (encrypting firmware)", bind, chatty, kClimate,
       kMiotClimate},
      {0x066F, "CGDK2", "Qingping thermo-hygrometer Lite", bind, chatty, kClimate, kMiotClimate},
      {0x4F59, "CGDK3", "Qingping thermo-hygrometer", bind, chatty, kClimate, kMiotClimate},
      {0x0576, "CGD1", "Qingping alarm clock", unknown, chatty, kClimate, kMiotClimate},
      {0x0C3C, "CGC1", "Qingping alarm clock", unknown, chatty, kClimate, kMiotClimate},
      {0x1203, "XMWSDJ04MMC", "Mijia e-ink thermometer", bind, chatty, kClimate, kMiotClimate},
      {0x2832, "MJWSD05MMC", "Mijia thermo-hygrometer 3", bind, chatty, kClimate, kMiotClimate},
      {0x4C47, "MJWSD05MMC", "Mijia thermo-hygrometer 3 (2nd revision)", bind, chatty, kClimate, kMiotClimate},
      {0x55B5, "MJWSD06MMC", "Mijia thermo-hygrometer 3 mini", bind, chatty, kClimate, kMiotClimate},
      {0x5BEA, "MJWSD06MMC", "Mijia thermo-hygrometer 3 mini (2nd revision)", bind, chatty, kClimate, kMiotClimate},
      {0x5DB1, "MBS17", "Mijia thermo-hygrometer", bind, chatty, kClimate, kMiotClimate},
      {0x78DB, "ESM787", "Yanmi thermo-hygrometer", none, chatty, kClimate, kMiotClimate},
      // Doors, windows, motion, presence.
      {0x03D6, "CGH1", "Qingping door/window sensor", none, sleepy, {Q::opening, Q::door_left_open, Q::battery}},
      // 0x480C: 1 byte, 0 open / 1 closed.
      {0x78D1, "MC-COMM", "Door/window sensor", unknown, sleepy, {Q::opening}, {0x480C}},
      {0x098B, "MCCGQ02HL", "Mijia door/window sensor 2", bind, sleepy,
       {Q::opening, Q::door_left_open, Q::light, Q::battery}},
      {0x1889, "MS1BB(MI)", "Linptech door/window sensor", bind, sleepy,
       {Q::opening, Q::door_left_open, Q::tamper, Q::button, Q::battery},
       {0x4803, 0x4804, 0x4A0F, 0x4A12, 0x4A13, 0x4A1A}},
      // Upstream disagrees (plain v4 frames in xiaomi-ble's tests, "encrypted" in ble_monitor's docs).
      {0x07F6, "MJYD02YL", "Mijia motion-activated night light", unknown, sleepy,
       {Q::motion, Q::light, Q::no_motion_time, Q::battery}},
      {0x0A83, "CGPR1", "Qingping motion and light sensor", unknown, sleepy,
       {Q::motion, Q::illuminance, Q::no_motion_time, Q::battery}},
      {0x0A8D, "RTCGQ02LM", "Mi motion sensor 2", bind, sleepy,
       {Q::motion, Q::light, Q::no_motion_time, Q::button, Q::battery}},
      {0x3531, "XMPIRO2SXS", "Xiaomi human body sensor 2S", bind, sleepy,
       {Q::motion, Q::illuminance, Q::no_motion_time, Q::battery}, {0x4803, 0x4818, 0x4A08}},
      {0x4C60, "XMPIRO2GSXS", "Xiaomi human body sensor 2S (2nd revision)", bind, sleepy,
       {Q::motion, Q::illuminance, Q::no_motion_time, Q::battery}, {0x4803, 0x4818, 0x4A08}},
      {0x2AEB, "HS1BB(MI)", "Linptech motion sensor", bind, sleepy,
       {Q::motion, Q::illuminance, Q::no_motion_time, Q::battery}, {0x4803, 0x4818, 0x4A08, 0x4C03}},
      {0x4683, "XMOSB01XS", "Xiaomi occupancy sensor", bind, sleepy, {Q::occupancy, Q::illuminance, Q::battery},
       {0x4803, 0x4805, 0x484E}},
      {0x50FB, "ES3", "Linptech human presence sensor", bind, sleepy, {Q::occupancy, Q::illuminance},
       {0x4805, 0x484E}},
      // 0x5413: occupancy close to the sensor, same values as 0x484E.
      {0x6A0F, "ES5BB", "Linptech human presence sensor", bind, sleepy,
       {Q::occupancy, Q::occupancy_close_range, Q::illuminance}, {0x4805, 0x484E, 0x5413}},
      {0x3F4C, "PS1BB", "Linptech seat pressure sensor", bind, sleepy,
       {Q::occupancy, Q::pressure_present_time, Q::pressure_absent_time, Q::battery},
       {0x4803, 0x483C, 0x483D, 0x483E}},
      {0x03DD, "MUE4094RT", "Philips bedside night light", none, sleepy, {Q::motion_event}},
      // Safety.
      {0x0997, "JTYJGD03MI", "Mijia smoke detector", bind, sleepy, {Q::smoke, Q::button, Q::battery}},
      {0x0863, "SJWS01LM", "Mijia flood detector", unknown, sleepy, {Q::water_leak, Q::button, Q::battery}},
      // Two sensors: 0x4806 the bottom one (water_leak), 0x487B the top one (top_splash), 0x4A68
      // the alarm/clear events of both.
      {0x6375, "SJWS02LM", "Xiaomi water leak sensor 2", bind, sleepy, {Q::water_leak, Q::top_splash, Q::battery},
       {0x4803, 0x4806, 0x487B, 0x4A68, 0x4C03}},
      {0x3F0F, "RS1BB(MI)", "Linptech flood and rain sensor", bind, sleepy, {Q::water_leak, Q::battery},
       {0x4803, 0x4806}},
      {0x02DF, "JQJCY01YM", "Mijia formaldehyde monitor", none, chatty,
       {Q::temperature, Q::humidity, Q::formaldehyde, Q::battery}},
      // Plants (battery of the plant sensors is read over GATT, not advertised).
      {0x0098, "HHCCJCY01", "MiFlora plant sensor", none, chatty,
       {Q::temperature, Q::illuminance, Q::moisture, Q::conductivity}},
      {0x03BC, "GCLS002", "Grow care garden plant sensor", none, chatty,
       {Q::temperature, Q::illuminance, Q::moisture, Q::conductivity}},
      {0x015D, "HHCCPOT002", "Smart flower pot", none, chatty, {Q::moisture, Q::conductivity}},
      // Appliances.
      {0x0083, "YM-K1501", "Mi smart kettle", none, chatty, {Q::kettle_state, Q::temperature}},
      {0x0113, "YM-K1501EU", "Mi smart kettle (EU)", none, chatty, {Q::kettle_state, Q::temperature}},
      {0x045C, "V-SK152", "Viomi smart kettle", none, chatty, {Q::kettle_state, Q::temperature}},
      {0x040A, "WX08ZM", "Mijia mosquito repellent", none, chatty, {Q::power, Q::consumable, Q::battery}},
      {0x0DE7, "SU001-T", "Odor eliminator", unknown, chatty, {}},
      // Remotes, switches, dimmers.
      // The on and off buttons also say what the light now is (power).
      {0x0153, "YLYK01YL", "Yeelight remote control", legacy, sleepy, {Q::button, Q::power}},
      {0x068E, "YLYK01YL-FANCL", "Yeelight fan remote control", legacy, sleepy, kButtons},
      {0x04E6, "YLYK01YL-VENFAN", "Yeelight ventilator fan remote control", legacy, sleepy, kButtons},
      {0x03BF, "YLYB01YL-BHFRC", "Yeelight bathroom heater remote", legacy, sleepy, kButtons},
      // Newer units of the dimmer send v5 frames and need a 16-byte bind key instead.
      {0x03B6, "YLKG07YL/YLKG08YL", "Yeelight dimmer", legacy, sleepy, kButtons},
      {0x07BF, "YLAI003", "Yeelight wireless switch", bind, sleepy, kButtons},
      {0x38BB, "PTX_YK1_QMIMB", "PTX wireless switch", bind, sleepy, kButtons, kPress4A},
      {0x04E1, "XMMF01JQD", "Mi magic cube", none, sleepy, kButtons},
      {0x1568, "K9B-1BTN", "Linptech wireless switch (1 button)", unknown, sleepy, kButtons},
      {0x1569, "K9B-2BTN", "Linptech wireless switch (2 buttons)", unknown, sleepy, kButtons},
      {0x0DFD, "K9B-3BTN", "Linptech wireless switch (3 buttons)", unknown, sleepy, kButtons},
      {0x1C10, "K9BB-1BTN", "Linptech wireless switch (1 button)", unknown, sleepy, kButtons, {0x4E0C}},
      {0x3A61, "KS1", "Linptech wireless switch (4 buttons)", unknown, sleepy, {Q::button, Q::battery},
       joined({0x4803}, kPress56)},
      {0x3E17, "KS1BP", "Linptech wireless switch (4 buttons)", unknown, sleepy, {Q::button, Q::battery},
       joined({0x4803}, kPress56)},
      {0x520B, "KS2BB", "Linptech thermometer with buttons", bind, sleepy,
       {Q::button, Q::temperature, Q::humidity, Q::battery}, joined(kMiotClimate, kPress56)},
      {0x1949, "XMWXKG01YL", "Xiaomi wireless switch (2 buttons)", bind, sleepy, kButtons, kPress4E},
      {0x2387, "XMWXKG01LM", "Xiaomi wireless button", bind, sleepy, kButtons, kPress4E},
      {0x5968, "XMWS01XS", "Xiaomi wireless switch (2 buttons)", bind, sleepy, kButtons, kPress4A},
      // Personal care.
      {0x0489, "M1S-T500", "Mi smart toothbrush T500", none, sleepy,
       {Q::toothbrush, Q::toothbrush_counter, Q::toothbrush_score, Q::battery}},
      {0x0806, "T700", "Mi smart toothbrush T700", bind, sleepy, {Q::toothbrush, Q::toothbrush_score}},
      {0x1790, "T700i", "Mi smart toothbrush T700i", bind, sleepy, {Q::toothbrush, Q::toothbrush_score}},
      {0x00DB, "MMC-T201-1", "Miaomiaoce digital baby thermometer", none, chatty, {Q::temperature, Q::battery}},
      {0x0391, "MMC-W505", "Miaomiaoce body thermometer", none, chatty, {Q::temperature}},
      // Scales. S400 (MJTZC01YM, MJTZC03YM): 0x6E16 profile, weight, heart rate and impedance;
      // S200 (MJTZC02YM): 0x4E16 profile and weight.
      {0x30D9, "MJTZC01YM", "Mi body composition scale S400", bind, sleepy,
       {Q::weight, Q::impedance_low, Q::impedance_high, Q::heart_rate, Q::profile_id, Q::stabilized}, {0x6E16}},
      {0x3BD5, "MJTZC01YM", "Mi body composition scale S400", bind, sleepy,
       {Q::weight, Q::impedance_low, Q::impedance_high, Q::heart_rate, Q::profile_id, Q::stabilized}, {0x6E16}},
      {0x48CF, "MJTZC01YM", "Mi body composition scale S400", bind, sleepy,
       {Q::weight, Q::impedance_low, Q::impedance_high, Q::heart_rate, Q::profile_id, Q::stabilized}, {0x6E16}},
      {0x4B05, "MJTZC03YM", "Mi body composition scale S400", bind, sleepy,
       {Q::weight, Q::impedance_low, Q::impedance_high, Q::heart_rate, Q::profile_id, Q::stabilized}, {0x6E16}},
      {0x45C9, "MJTZC02YM", "Mi smart scale S200", bind, sleepy, {Q::weight, Q::profile_id}, {0x4E16}},
      {0x4C04, "MJTZC02YM", "Mi smart scale S200", bind, sleepy, {Q::weight, Q::profile_id}, {0x4E16}},
      {0x4DCB, "MJTZC02YM", "Mi smart scale S200", bind, sleepy, {Q::weight, Q::profile_id}, {0x4E16}},
      // Locks (readings: kLock above). Key needs as xiaomi-ble's vectors show them: ZNMS16LM and
      // DSL-C08 plain v4, XMZNMS08LM and Lockin-SV40 encrypted v5.
      {0x04E9, "MJZNMSQ01YD", "Mijia smart door lock", bind, sleepy, kLock},
      {0x098C, "XMZNMST02YD", "Xiaomi smart door lock", unknown, sleepy, kLock},
      {0x0599, "MJZNMS03LM", "Mijia smart door lock", unknown, sleepy, kLock},
      {0x0784, "XMZNMS04LM", "Xiaomi smart door lock", unknown, sleepy, kLock},
      {0x0E39, "XMZNMS08LM", "Xiaomi smart door lock", bind, sleepy, lock_with(kLockDoor)},
      {0x069E, "ZNMS16LM", "Aqara smart door lock", none, sleepy, lock_with({Q::fingerprint})},
      {0x069F, "ZNMS17LM", "Aqara smart door lock", unknown, sleepy, lock_with({Q::fingerprint})},
      {0x0380, "DSL-C08", "Xiaomi smart door lock", none, sleepy, lock_with({Q::armed})},
      {0x11C2, "Lockin-SV40", "Lockin smart door lock", bind, sleepy, lock_with(kLockDoor)},
  };
  // Lookups binary-search by id.
  std::sort(table.begin(), table.end(),
            [](const Product& a, const Product& b) { return a.product_id < b.product_id; });
  return table;
}

}  // namespace

std::string_view key_need_name(KeyNeed need) {
  switch (need) {
    case KeyNeed::none:
      return "none";
    case KeyNeed::bind_key:
      return "bind_key";
    case KeyNeed::legacy_key:
      return "legacy_key";
    case KeyNeed::unknown:
      return "unknown";
  }
  return "unknown";
}

bool Product::sends(Quantity quantity) const {
  return std::find(quantities.begin(), quantities.end(), quantity) != quantities.end();
}

bool Product::defines(std::uint16_t object_id) const {
  return std::find(device_objects.begin(), device_objects.end(), object_id) != device_objects.end();
}

const std::vector<Product>& products() {
  static const std::vector<Product> table = build_table();
  return table;
}

const Product* find_product(std::uint16_t product_id) {
  const std::vector<Product>& table = products();
  const auto found = std::lower_bound(table.begin(), table.end(), product_id,
                                      [](const Product& product, std::uint16_t id) { return product.product_id < id; });
  if (found == table.end() || found->product_id != product_id) return nullptr;
  return &*found;
}

}  // namespace cloudless::xiaomi_ble
