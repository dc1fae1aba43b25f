// Client commands to a Midea air conditioner, each a complete 0xAA frame (ac_frame.h) ready for the
// V2/V3 transport: state query, set state, display toggle, capabilities query, properties get/set and
// group-data query. Plus parse_ac_set_state, the inverse of encode_ac_set_state, for simulators.
// docs/midea.md §4.2, §4.3, §4.5–§4.8; byte-exact against msmart-ng `command.py` (§7.3, §7.4).
//
// Every encoder takes the message id the body carries just before its CRC; devices do not check it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "protocols/common/bytes.h"
#include "protocols/common/result.h"
#include "protocols/midea/ac_properties.h"
#include "protocols/midea/ac_state.h"

namespace cloudless::midea {

// Whether the unit beeps to acknowledge a command (set byte 1 bit 6, display toggle byte 1 bit 6).
enum class Beep : std::uint8_t { off, on };

// 0x41 state query, frame type 0x03 (msmart `GetStateCommand`):
//   41 81 00 FF 03 FF 00 02 00×12 03, then the message id. Byte 7 = 0x02 asks for the indoor
//   temperature (0x03 would ask for outdoor; msmart always sends 0x02).
// The device answers with a 0xC0 body.
Bytes encode_ac_query_state(std::uint8_t message_id);

// 0x40 set state, frame type 0x02 (msmart `SetStateCommand`). Written from the whole `state`: every
// setting is sent, so a command changes only what the caller changed in a copy of the last parsed
// state. Body (24 bytes, then the message id):
//   idx bits
//     0      0x40
//     1      0x01 power, 0x40 beep, 0x02 "control source = app" (always set, as msmart)
//     2      bits 7-5 mode; 0x10 +0.5 °C; bits 3-0 target − 16 when 17 ≤ int(target) ≤ 30, else 0
//     3      fan speed & 0x7F
//     4..6   7F 7F 00: no on/off timer
//     7      0x30 | swing (0x0C vertical, 0x03 horizontal)
//     8      0x80 follow-me, 0x20 turbo
//     9      0x80 eco, 0x20 purifier, 0x08 aux heat (0x10 force aux heat: never sent)
//    10      0x01 sleep, 0x02 turbo, 0x04 °F display
//    11..17  0
//    18      alternate target: (int(target) − 12) & 0x1F when int(target) is outside 17..30, else 0
//    19      target humidity & 0x7F (kDefaultTargetHumidity when the state has none)
//    20      0
//    21      0x80 freeze protection (off when the state has none)
//    22      0x08 independent aux heat
//    23      0
// Target temperature: rounded to the nearest 0.5 °C (ties up) and CLAMPED to 13.0..43.5 °C, everything
// the two encodings can carry (alternate byte 1..31); the device applies its own range (capabilities
// 0x0225, usually 16..30). 16 and 16.5 go through the alternate byte (4), 17..30.5 through idx 2, 31 and
// up through the alternate byte again. A NaN target is rejected: the result is empty.
Bytes encode_ac_set_state(const AcState& state, std::uint8_t message_id, Beep beep = Beep::on);

// What a 0x40 body says (for simulators; the state's readings stay at their defaults).
struct AcSetStateRequest {
  AcState state;
  Beep beep = Beep::on;
};
// Parses a 0x40 body (frame body without its CRC, message id included or not): at least 24 bytes.
// target_humidity and freeze_protection are always set (the set body always carries them).
Result<AcSetStateRequest> parse_ac_set_state(ByteView body);

// Display toggle (msmart `ToggleDisplayCommand`): frame type 0x03 (sic), body
//   41, 0x02 | beep 0x40, 00 FF 02 00 02, 00×14 (21 bytes), then the message id.
// It toggles: read the result back from C0 idx 14. (midea_ac_lan alternative: property 0x0017.)
Bytes encode_ac_toggle_display(std::uint8_t message_id, Beep beep = Beep::on);

// 0xB5 capabilities query, frame type 0x03: B5 01 00 for the first page, B5 01 01 01 for the next
// one (asked while a page reports more_pages; see ac_capabilities.h).
enum class CapabilitiesPage : std::uint8_t { first, additional };
Bytes encode_ac_query_capabilities(std::uint8_t message_id, CapabilitiesPage page = CapabilitiesPage::first);

// 0xB1 get properties, frame type 0x03: B1, count, then each id little endian. Empty result when `ids`
// is empty or has more than 120 entries (one frame cannot carry more).
Bytes encode_ac_get_properties(std::span<const std::uint16_t> ids, std::uint8_t message_id);

// 0xB0 set properties, frame type 0x02: B0, count, then per property id_lo id_hi len value[len].
// msmart always adds the buzzer property (ac_buzzer_property) so the unit stays silent or beeps as the
// user chose; that is the caller's choice here. Empty result when `values` is empty, has more than 255
// entries, a value is longer than 255 bytes, or the body does not fit one frame.
Bytes encode_ac_set_properties(std::span<const AcPropertyValue> values, std::uint8_t message_id);

// Group-data query, frame type 0x03: 41 21 01 (0x40 | group) 00×16, then the message id
// (msmart `GetGroupDataCommand`). Group 4 = energy/power, 5 = humidity/defrost, 1/2/7/11 diagnostics.
// group is masked to 4 bits. The device answers with a 0xC1 body (ac_group_data.h).
Bytes encode_ac_query_group_data(std::uint8_t group, std::uint8_t message_id);

}  // namespace cloudless::midea
