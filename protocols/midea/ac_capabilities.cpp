// 0xB5 capabilities codec. Layout and value rules: ac_capabilities.h and docs/midea.md §4.6.
#include "protocols/midea/ac_capabilities.h"

#include <algorithm>
#include <initializer_list>
#include <string>

#include "protocols/midea/ac_frame.h"

namespace cloudless::midea {

namespace {

constexpr std::size_t kEntryHeaderSize = 3;  // id_lo id_hi len
constexpr std::size_t kTemperatureRangeSize = 6;

bool any_of(std::uint8_t value, std::initializer_list<std::uint8_t> accepted) {
  return std::find(accepted.begin(), accepted.end(), value) != accepted.end();
}

// Applies one non-empty entry; false when the id has no reader.
bool decode_entry(AcCapabilities& caps, std::uint16_t id, ByteView value) {
  namespace c = capability_id;
  const std::uint8_t v = value[0];
  switch (id) {
    case c::kModes:
      caps.heat_mode = any_of(v, {1, 2, 4, 6, 7, 9, 10, 11, 12, 13});
      caps.cool_mode = any_of(v, {0, 1, 3, 4, 5, 6, 7, 8, 9, 11, 13, 14, 15});
      caps.dry_mode = any_of(v, {0, 1, 5, 6, 9, 11, 13, 14, 15});
      caps.auto_mode = any_of(v, {0, 1, 2, 7, 8, 9, 13, 14});
      caps.aux_heat_mode = v == 9;
      caps.aux_mode = any_of(v, {9, 10, 11, 13, 14, 15});
      return true;
    case c::kFanSpeeds:
      caps.fan_silent = any_of(v, {6, 9});
      caps.fan_low = any_of(v, {3, 4, 5, 6, 7, 9});
      caps.fan_medium = any_of(v, {5, 6, 7});
      caps.fan_high = any_of(v, {3, 4, 5, 6, 7, 9});
      caps.fan_auto = any_of(v, {4, 5, 6, 9});
      caps.fan_custom = v == 1;
      return true;
    case c::kSwingModes:
      caps.swing_horizontal = any_of(v, {1, 3});
      caps.swing_vertical = any_of(v, {0, 1});
      return true;
    case c::kEco: caps.eco = any_of(v, {1, 2}); return true;
    case c::kFreezeProtection: caps.freeze_protection = v == 1; return true;
    case c::kEnergy:
      caps.energy_stats = any_of(v, {2, 3, 4, 5});
      caps.energy_setting = any_of(v, {3, 5});
      caps.energy_bcd = any_of(v, {2, 3});
      return true;
    case c::kFilter:
      caps.filter_notice = any_of(v, {1, 2, 4});
      caps.filter_clean = any_of(v, {3, 4});
      return true;
    case c::kAuxElectricHeat: caps.aux_electric_heat = v == 1; return true;
    case c::kTurbo:
      caps.turbo_heat = any_of(v, {1, 3});
      caps.turbo_cool = any_of(v, {0, 1});
      return true;
    case c::kAnion: caps.anion = v == 1; return true;
    case c::kHumidity:
      caps.humidity_auto_set = any_of(v, {1, 2});
      caps.humidity_manual_set = any_of(v, {2, 3});
      return true;
    case c::kFahrenheit: caps.fahrenheit = v == 0; return true;  // sic: 0 = °F allowed (msmart)
    case c::kDisplayControl: caps.display_control = any_of(v, {1, 2, 100}); return true;
    case c::kTemperatures:
      // value[0..5] in 0.5 °C; value[6] msmart's "decimals" (decoded, never acted on: see the
      // header). msmart reads the size byte (≠ 0) when value has only 6 bytes, i.e. "true".
      // Shorter values are ignored, as msmart does.
      if (value.size() >= kTemperatureRangeSize) {
        AcTemperatureRanges ranges;
        ranges.cool_min = value[0] * 0.5;
        ranges.cool_max = value[1] * 0.5;
        ranges.auto_min = value[2] * 0.5;
        ranges.auto_max = value[3] * 0.5;
        ranges.heat_min = value[4] * 0.5;
        ranges.heat_max = value[5] * 0.5;
        ranges.decimals = value.size() > kTemperatureRangeSize ? value[6] != 0 : true;
        caps.temperatures = ranges;
      }
      return true;
    case c::kBuzzer: caps.buzzer = v == 1; return true;
    case c::kSwingVerticalAngle: caps.swing_vertical_angle = v == 1; return true;
    case c::kSwingHorizontalAngle: caps.swing_horizontal_angle = v == 1; return true;
    case c::kBreezeless: caps.breezeless = v == 1; return true;
    case c::kSmartEye: caps.smart_eye = v == 1; return true;
    case c::kWindOnMe: caps.wind_on_me = v == 1; return true;
    case c::kWindOffMe: caps.wind_off_me = v == 1; return true;
    case c::kSelfClean: caps.self_clean = v == 1; return true;
    case c::kBreezeAway: caps.breeze_away = v == 1; return true;
    case c::kBreezeControl: caps.breeze_control = v == 1; return true;
    case c::kFreshAir: caps.fresh_air = v == 1; return true;
    case c::kCascade: caps.cascade = v == 1; return true;
    case c::kFlash: caps.flash = any_of(v, {1, 2, 3, 4}); return true;
    case c::kAuxFanSpeed: caps.aux_fan_speed = v == 1; return true;
    case c::kAuxHeatFanSpeed: caps.aux_heat_fan_speed = v == 1; return true;
    case c::kOutSilent: caps.out_silent = any_of(v, {1, 3}); return true;
    case c::kRateSelect:
      caps.rate_select_2_level = v == 1;            // "gear"
      caps.rate_select_5_level = any_of(v, {2, 3});  // "genmode" and "gear5"
      return true;
    case c::kIeco:
      // 1,3,8 cool / 3,4,8 heat / 8 ECOMaster; value[1] "ieco end" only on some units.
      caps.ieco = v;
      if (value.size() > 1) caps.ieco_end = value[1];
      return true;
    case c::kUnknown40:
      return true;  // known to appear, meaning unknown: nothing to log
    default:
      return false;
  }
}

template <typename T>
void take(std::optional<T>& into, const std::optional<T>& from) {
  if (from) into = from;
}

}  // namespace

Result<AcCapabilitiesPage> parse_ac_capabilities(ByteView body) {
  if (body.empty()) return parse_error("empty capabilities body", 0);
  if (body[0] != body_type::kCapabilities) {
    return parse_error("body type " + hex_literal(body[0], 2) + " is not a capabilities reply (0xb5)", 0);
  }
  if (body.size() < 2) return parse_error("truncated capabilities body: no count byte", body.size());
  AcCapabilitiesPage page;
  const unsigned count = body[1];  // idx 1
  std::size_t offset = 2;
  for (unsigned index = 0; index < count; ++index) {
    if (body.size() - offset < kEntryHeaderSize) {
      return parse_error("truncated capability entry " + std::to_string(index) + " of " + std::to_string(count) +
                             ": " + std::to_string(body.size() - offset) + " of 3 header bytes",
                         offset);
    }
    const auto id = static_cast<std::uint16_t>(body[offset] | body[offset + 1] << 8);  // u16 LE
    const std::size_t size = body[offset + 2];
    if (body.size() - offset - kEntryHeaderSize < size) {
      return parse_error("truncated capability " + hex_literal(id, 4) + ": value of " + std::to_string(size) + " bytes, " +
                             std::to_string(body.size() - offset - kEntryHeaderSize) + " left",
                         offset + kEntryHeaderSize);
    }
    const ByteView value = body.subspan(offset + kEntryHeaderSize, size);
    offset += kEntryHeaderSize + size;
    if (size == 0) continue;  // msmart skips empty entries
    if (!decode_entry(page.capabilities, id, value)) page.capabilities.other_ids.push_back(id);
  }
  // Trailing bytes: the second-to-last one flags another page (msmart `additional_capabilities`).
  const std::size_t trailing = body.size() - offset;
  page.more_pages = trailing >= 2 && body[body.size() - 2] != 0;
  return page;
}

void merge_ac_capabilities(AcCapabilities& into, const AcCapabilities& page) {
  take(into.heat_mode, page.heat_mode);
  take(into.cool_mode, page.cool_mode);
  take(into.dry_mode, page.dry_mode);
  take(into.auto_mode, page.auto_mode);
  take(into.aux_heat_mode, page.aux_heat_mode);
  take(into.aux_mode, page.aux_mode);
  take(into.fan_silent, page.fan_silent);
  take(into.fan_low, page.fan_low);
  take(into.fan_medium, page.fan_medium);
  take(into.fan_high, page.fan_high);
  take(into.fan_auto, page.fan_auto);
  take(into.fan_custom, page.fan_custom);
  take(into.swing_horizontal, page.swing_horizontal);
  take(into.swing_vertical, page.swing_vertical);
  take(into.eco, page.eco);
  take(into.freeze_protection, page.freeze_protection);
  take(into.energy_stats, page.energy_stats);
  take(into.energy_setting, page.energy_setting);
  take(into.energy_bcd, page.energy_bcd);
  take(into.filter_notice, page.filter_notice);
  take(into.filter_clean, page.filter_clean);
  take(into.aux_electric_heat, page.aux_electric_heat);
  take(into.turbo_heat, page.turbo_heat);
  take(into.turbo_cool, page.turbo_cool);
  take(into.anion, page.anion);
  take(into.humidity_auto_set, page.humidity_auto_set);
  take(into.humidity_manual_set, page.humidity_manual_set);
  take(into.fahrenheit, page.fahrenheit);
  take(into.display_control, page.display_control);
  take(into.temperatures, page.temperatures);
  take(into.buzzer, page.buzzer);
  take(into.swing_vertical_angle, page.swing_vertical_angle);
  take(into.swing_horizontal_angle, page.swing_horizontal_angle);
  take(into.breezeless, page.breezeless);
  take(into.smart_eye, page.smart_eye);
  take(into.wind_on_me, page.wind_on_me);
  take(into.wind_off_me, page.wind_off_me);
  take(into.self_clean, page.self_clean);
  take(into.breeze_away, page.breeze_away);
  take(into.breeze_control, page.breeze_control);
  take(into.fresh_air, page.fresh_air);
  take(into.cascade, page.cascade);
  take(into.flash, page.flash);
  take(into.aux_fan_speed, page.aux_fan_speed);
  take(into.aux_heat_fan_speed, page.aux_heat_fan_speed);
  take(into.out_silent, page.out_silent);
  take(into.rate_select_2_level, page.rate_select_2_level);
  take(into.rate_select_5_level, page.rate_select_5_level);
  take(into.ieco, page.ieco);
  take(into.ieco_end, page.ieco_end);
  into.other_ids.insert(into.other_ids.end(), page.other_ids.begin(), page.other_ids.end());
}

AcFeatures summarize_ac_capabilities(const AcCapabilities& caps) {
  const auto on = [](const std::optional<bool>& flag) { return flag.value_or(false); };
  AcFeatures out;
  if (on(caps.auto_mode)) out.modes.push_back(AcMode::automatic);
  if (on(caps.cool_mode)) out.modes.push_back(AcMode::cool);
  if (on(caps.dry_mode)) out.modes.push_back(AcMode::dry);
  if (on(caps.heat_mode)) out.modes.push_back(AcMode::heat);
  out.modes.push_back(AcMode::fan_only);
  if (on(caps.humidity_manual_set)) out.modes.push_back(AcMode::smart_dry);

  out.custom_fan_speed = on(caps.fan_custom);
  const bool any_fan_capability = caps.fan_silent || caps.fan_low || caps.fan_medium || caps.fan_high ||
                                  caps.fan_auto || caps.fan_custom;
  const auto speed = [&](const std::optional<bool>& flag) {
    return any_fan_capability ? on(flag) || out.custom_fan_speed : false;
  };
  if (any_fan_capability) {
    if (speed(caps.fan_silent)) out.fan_speeds.push_back(kFanSilent);
    if (speed(caps.fan_low)) out.fan_speeds.push_back(kFanLow);
    if (speed(caps.fan_medium)) out.fan_speeds.push_back(kFanMedium);
    if (speed(caps.fan_high)) out.fan_speeds.push_back(kFanHigh);
    if (out.custom_fan_speed) out.fan_speeds.push_back(kFanFull);
    if (speed(caps.fan_auto)) out.fan_speeds.push_back(kFanAuto);
  } else {
    out.fan_speeds = {kFanLow, kFanMedium, kFanHigh, kFanAuto};
  }

  out.swing_vertical = on(caps.swing_vertical);
  out.swing_horizontal = on(caps.swing_horizontal);
  out.eco = on(caps.eco);
  out.turbo = on(caps.turbo_heat) || on(caps.turbo_cool);
  out.freeze_protection = on(caps.freeze_protection);
  out.display_control = on(caps.display_control);
  out.filter_reminder = on(caps.filter_notice);
  out.energy_stats = on(caps.energy_stats);
  out.energy_bcd = on(caps.energy_bcd);
  out.humidity = on(caps.humidity_auto_set) || on(caps.humidity_manual_set);
  out.target_humidity = on(caps.humidity_manual_set);
  out.purifier = on(caps.anion);
  out.self_clean = on(caps.self_clean);
  out.aux_heat = on(caps.aux_electric_heat) || on(caps.aux_heat_mode);
  out.aux_only = on(caps.aux_mode);
  if (caps.temperatures) {
    const AcTemperatureRanges& t = *caps.temperatures;
    out.min_temperature = std::min({t.cool_min, t.auto_min, t.heat_min});
    out.max_temperature = std::max({t.cool_max, t.auto_max, t.heat_max});
  }
  if (on(caps.rate_select_5_level)) {
    out.rate_select_levels = 5;
  } else if (on(caps.rate_select_2_level)) {
    out.rate_select_levels = 2;
  }
  out.breeze_away = on(caps.breeze_away) || on(caps.breeze_control);
  out.breeze_mild = on(caps.breeze_control);
  out.breezeless = on(caps.breezeless) || on(caps.breeze_control);
  out.fresh_air = on(caps.fresh_air);
  out.cascade = on(caps.cascade);
  out.flash = on(caps.flash);
  out.out_silent = on(caps.out_silent);
  // msmart `ieco`: supported if ieco ∈ {1,3,4,8} or ieco_end ∈ {1,2,3,8}.
  out.ieco = (caps.ieco && any_of(*caps.ieco, {1, 3, 4, 8})) || (caps.ieco_end && any_of(*caps.ieco_end, {1, 2, 3, 8}));
  if (caps.ieco_end == 8) {
    out.ieco_number = 8;
  } else if (caps.ieco_end && any_of(*caps.ieco_end, {1, 2, 3})) {
    out.ieco_number = 3;
  }
  return out;
}

AcFeatures assumed_ac_features() {
  AcCapabilities assumed;
  assumed.auto_mode = assumed.cool_mode = assumed.dry_mode = assumed.heat_mode = true;
  assumed.swing_vertical = assumed.swing_horizontal = true;
  assumed.eco = true;
  assumed.turbo_cool = assumed.turbo_heat = true;
  assumed.freeze_protection = true;
  assumed.display_control = true;
  return summarize_ac_capabilities(assumed);  // fan speeds: the default low/medium/high/auto
}

}  // namespace cloudless::midea
