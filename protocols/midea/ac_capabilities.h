// 0xB5 capabilities of a Midea AC: what the unit says it supports, decoded the way msmart-ng's
// `CapabilitiesResponse` does (docs/midea.md §4.6), and summarised into the lists the Home
// Assistant climate entity needs (AcFeatures).
//
// Reply body (frame body without its CRC; only with frame type 0x03, see classify_ac_frame):
//   0      0xB5
//   1      count
//   2..    count entries: id_lo id_hi len value[len]; len 0 = an empty entry (3 bytes), skipped
//   then   trailing bytes; when there are at least two, the second-to-last ≠ 0 means "more pages":
//          ask again with CapabilitiesPage::additional and merge. With no trailing bytes there are no
//          more pages (docs/midea.md §10: the first real vector ends right after its entries).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "protocols/common/bytes.h"
#include "protocols/common/result.h"
#include "protocols/midea/ac_state.h"

namespace cloudless::midea {

namespace capability_id {
constexpr std::uint16_t kSwingVerticalAngle = 0x0009;
constexpr std::uint16_t kSwingHorizontalAngle = 0x000A;
constexpr std::uint16_t kBreezeless = 0x0018;
constexpr std::uint16_t kSmartEye = 0x0030;
constexpr std::uint16_t kWindOnMe = 0x0032;
constexpr std::uint16_t kWindOffMe = 0x0033;
constexpr std::uint16_t kSelfClean = 0x0039;
constexpr std::uint16_t kUnknown40 = 0x0040;  // seen in many logs, meaning unknown: ignored silently
constexpr std::uint16_t kBreezeAway = 0x0042;
constexpr std::uint16_t kBreezeControl = 0x0043;
constexpr std::uint16_t kRateSelect = 0x0048;
constexpr std::uint16_t kFreshAir = 0x004B;
constexpr std::uint16_t kCascade = 0x0059;
constexpr std::uint16_t kFlash = 0x0067;
constexpr std::uint16_t kAuxFanSpeed = 0x0093;
constexpr std::uint16_t kAuxHeatFanSpeed = 0x0094;
constexpr std::uint16_t kOutSilent = 0x00CD;
constexpr std::uint16_t kIeco = 0x00E3;
constexpr std::uint16_t kFanSpeeds = 0x0210;
constexpr std::uint16_t kEco = 0x0212;
constexpr std::uint16_t kFreezeProtection = 0x0213;
constexpr std::uint16_t kModes = 0x0214;
constexpr std::uint16_t kSwingModes = 0x0215;
constexpr std::uint16_t kEnergy = 0x0216;
constexpr std::uint16_t kFilter = 0x0217;
constexpr std::uint16_t kAuxElectricHeat = 0x0219;
constexpr std::uint16_t kTurbo = 0x021A;
constexpr std::uint16_t kAnion = 0x021E;
constexpr std::uint16_t kHumidity = 0x021F;
constexpr std::uint16_t kFahrenheit = 0x0222;
constexpr std::uint16_t kDisplayControl = 0x0224;
constexpr std::uint16_t kTemperatures = 0x0225;
constexpr std::uint16_t kBuzzer = 0x022C;
}  // namespace capability_id

// Capability 0x0225: value[0..5] = cool min, cool max, auto min, auto max, heat min, heat max in
// 0.5 °C units; value[6] is what msmart-ng calls "decimals" (for a 6-byte value it reads the size
// byte instead, i.e. true). Its meaning is unknown and nothing here acts on it: msmart-ng decodes it,
// never reads it, and sends every unit the half-degree bit whatever it says; it is 0 on 5 of the 21
// capability replies published with msmart-ng's tests. The target step is the device's `temp_step`
// setting (0.5 °C unless the user asks for whole degrees).
struct AcTemperatureRanges {
  double cool_min = 16, cool_max = 30;
  double auto_min = 16, auto_max = 30;
  double heat_min = 16, heat_max = 30;
  bool decimals = true;
  bool operator==(const AcTemperatureRanges&) const = default;
};

// Raw decoded capabilities, one optional per msmart key: set only when the page carried the id (so
// pages merge field by field). The value → flag rules are msmart's; see docs/midea.md §4.6.
struct AcCapabilities {
  // 0x0214 modes: heat ∈{1,2,4,6,7,9,10,11,12,13}; cool ∈{0,1,3,4,5,6,7,8,9,11,13,14,15};
  // dry ∈{0,1,5,6,9,11,13,14,15}; auto ∈{0,1,2,7,8,9,13,14}; aux heat = 9; aux only ∈{9,10,11,13,14,15}
  std::optional<bool> heat_mode, cool_mode, dry_mode, auto_mode, aux_heat_mode, aux_mode;
  // 0x0210 fan: silent ∈{6,9}; low ∈{3,4,5,6,7,9}; medium ∈{5,6,7}; high ∈{3,4,5,6,7,9};
  // auto ∈{4,5,6,9}; custom (1..100 %) = 1
  std::optional<bool> fan_silent, fan_low, fan_medium, fan_high, fan_auto, fan_custom;
  std::optional<bool> swing_horizontal, swing_vertical;  // 0x0215: horizontal ∈{1,3}; vertical ∈{0,1}
  std::optional<bool> eco;                                // 0x0212 ∈{1,2}
  std::optional<bool> freeze_protection;                  // 0x0213 = 1
  std::optional<bool> energy_stats, energy_setting, energy_bcd;  // 0x0216 ∈{2,3,4,5}, ∈{3,5}, ∈{2,3}
  std::optional<bool> filter_notice, filter_clean;        // 0x0217 ∈{1,2,4}, ∈{3,4}
  std::optional<bool> aux_electric_heat;                  // 0x0219 = 1
  std::optional<bool> turbo_heat, turbo_cool;             // 0x021A ∈{1,3}, ∈{0,1}
  std::optional<bool> anion;                              // 0x021E = 1
  std::optional<bool> humidity_auto_set, humidity_manual_set;  // 0x021F ∈{1,2}, ∈{2,3}
  std::optional<bool> fahrenheit;                         // 0x0222 = 0 (sic)
  std::optional<bool> display_control;                    // 0x0224 ∈{1,2,100}
  std::optional<AcTemperatureRanges> temperatures;        // 0x0225, value ≥ 6 bytes
  std::optional<bool> buzzer;                             // 0x022C = 1
  std::optional<bool> swing_vertical_angle, swing_horizontal_angle;  // 0x0009, 0x000A = 1
  std::optional<bool> breezeless, smart_eye, wind_on_me, wind_off_me, self_clean;  // = 1
  std::optional<bool> breeze_away, breeze_control, fresh_air, cascade;             // = 1
  std::optional<bool> flash;                              // 0x0067 ∈{1,2,3,4}
  std::optional<bool> aux_fan_speed, aux_heat_fan_speed;  // 0x0093, 0x0094 = 1
  std::optional<bool> out_silent;                         // 0x00CD ∈{1,3}
  std::optional<bool> rate_select_2_level, rate_select_5_level;  // 0x0048 = 1, ∈{2,3}
  std::optional<std::uint8_t> ieco, ieco_end;             // 0x00E3 value[0], value[1] (if present)
  std::vector<std::uint16_t> other_ids;                   // non-empty entries without a reader (logging)

  bool operator==(const AcCapabilities&) const = default;
};

struct AcCapabilitiesPage {
  AcCapabilities capabilities;
  bool more_pages = false;
  bool operator==(const AcCapabilitiesPage&) const = default;
};

// Parses one 0xB5 reply body. Rejects another body type, a body shorter than 2 bytes and an entry cut
// short (header or value), naming the entry's offset. Ids we have no reader for land in other_ids
// (0x0040 excepted); a reader given a value too short for it leaves its fields unset.
Result<AcCapabilitiesPage> parse_ac_capabilities(ByteView body);

// Merges a later page into `into`: every field the page carries overrides (msmart `merge`).
void merge_ac_capabilities(AcCapabilities& into, const AcCapabilities& page);

// What the climate entity offers, derived as msmart's `AirConditioner._update_capabilities` does.
struct AcFeatures {
  // fan_only always; dry/cool/heat/auto per 0x0214 (absent → not offered); smart_dry when target
  // humidity is supported. Order: auto, cool, dry, heat, fan_only, smart_dry.
  std::vector<AcMode> modes;
  // Named speeds (kFanSilent … kFanAuto), ascending, auto last. When the unit sent any fan capability:
  // each speed whose flag or fan_custom is set, plus kFanFull when fan_custom — none at all for a value
  // outside every set (e.g. 0; msmart the same). Otherwise msmart's default: low, medium, high, auto.
  std::vector<std::uint8_t> fan_speeds;
  bool custom_fan_speed = false;
  bool swing_vertical = false;
  bool swing_horizontal = false;
  // Presets: eco (0x0212), boost = turbo heat or cool (0x021A), away = freeze protection (0x0213),
  // sleep = always (no capability exists for it; every unit takes the sleep bit).
  bool eco = false;
  bool turbo = false;
  bool freeze_protection = false;
  bool sleep = true;
  bool display_control = false;
  bool filter_reminder = false;
  bool energy_stats = false;  // group 4 answers (msmart polls it anyway when the id is absent)
  bool energy_bcd = false;    // 0x0216 ∈ {2,3}: a hint that group 4 is BCD, not a rule (docs/midea.md §9)
  bool humidity = false;         // 0x021F auto or manual
  bool target_humidity = false;  // 0x021F manual
  bool purifier = false;         // anion
  bool self_clean = false;
  bool aux_heat = false;  // aux electric heat or aux-heat mode
  bool aux_only = false;
  // Targets: min/max over the cool, auto and heat ranges (16/30 when 0x0225 is absent).
  double min_temperature = 16;
  double max_temperature = 30;
  std::optional<int> rate_select_levels;  // 5, 2 or none
  // Breeze modes (msmart): breeze control (0x0043) brings all three; else 0x0042 / 0x0018 alone.
  bool breeze_away = false;
  bool breeze_mild = false;
  bool breezeless = false;
  bool fresh_air = false;
  bool cascade = false;
  bool flash = false;
  bool out_silent = false;
  bool ieco = false;
  int ieco_number = 1;  // 8 (ECOMaster) when ieco_end = 8, 3 when ieco_end ∈ {1,2,3}, else 1
  bool operator==(const AcFeatures&) const = default;
};
AcFeatures summarize_ac_capabilities(const AcCapabilities& capabilities);

// What a unit that does not answer the 0xB5 capabilities query is assumed to offer: every mode,
// both swing axes, eco/boost/away presets, display control, fan speeds low/medium/high/auto,
// 16..30 °C. (msmart-ng's defaults before capabilities are these plus custom fan speeds, the silent
// and max speeds, a filter reminder and a purifier; those are left out here.)
AcFeatures assumed_ac_features();

}  // namespace cloudless::midea
