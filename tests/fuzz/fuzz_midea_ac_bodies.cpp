// libFuzzer harness for the Midea AC body parsers (protocols/midea/ac_state.h, ac_capabilities.h,
// ac_properties.h, ac_group_data.h, and parse_ac_set_state of ac_commands.h): bodies come from any
// device on the LAN once the frame checksums pass.
//
// The input is tried as it is and, for each parser, with its first byte replaced by that parser's
// body type, so every parser sees every input past its type check.
//
// Invariants (a violation aborts, so libFuzzer reports it as a crash):
//  1. No parser crashes, reads out of bounds (ASan) or hits UB (UBSan); every error is malformed, its
//     offset ≤ body size and its message printable ASCII.
//  2. C0: accepted only with type 0xC0 and ≥ 17 bytes; target_humidity present iff ≥ 20 bytes,
//     freeze_protection iff ≥ 22; target in 13..43.5 in 0.5 steps; temperatures finite.
//     parse → encode_ac_state_body → parse gives the same AcState.
//  3. 0x40: parse → encode_ac_set_state → parse_ac_frame → parse_ac_set_state gives the same request.
//  4. B5: merging a page into an empty set gives the page back; the summary offers fan_only, at most
//     the six named fan speeds (none is legal: a fan capability value outside every set, as msmart),
//     and min/max targets within 0..127.5.
//  5. B0/B1: every entry has a value; failed ids are entries with result bit 0x10; the entries
//     re-encoded with encode_ac_properties_body parse back to the same AcProperties.
//  6. C1 in every EnergyFormat: group = idx 3 & 0x0F; the three group-4 values are present together
//     and only for group 4, finite and ≥ 0; the format changes nothing but those three.
// Seeds: tests/fuzz/corpus/midea_ac_bodies/ (every body of docs/midea.md §7.3 and §7.4).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "protocols/midea/ac_capabilities.h"
#include "protocols/midea/ac_commands.h"
#include "protocols/midea/ac_frame.h"
#include "protocols/midea/ac_group_data.h"
#include "protocols/midea/ac_properties.h"
#include "protocols/midea/ac_state.h"

namespace {

using namespace cloudless;
using namespace cloudless::midea;

#define FUZZ_CHECK(condition)                                                              \
  do {                                                                                     \
    if (!(condition)) {                                                                    \
      std::fprintf(stderr, "invariant failed: %s (%s:%d)\n", #condition, __FILE__, __LINE__); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (false)

void check_error(const ParseError& error, std::size_t size) {
  FUZZ_CHECK(error.kind == ErrorKind::malformed);
  FUZZ_CHECK(error.offset <= size);
  FUZZ_CHECK(!error.what.empty());
  for (const char c : error.what) {
    const auto byte = static_cast<unsigned char>(c);
    FUZZ_CHECK(byte >= 0x20 && byte < 0x7f);
  }
}

bool finite(const std::optional<double>& value) { return !value || std::isfinite(*value); }

void check_state(const Bytes& body) {
  const Result<AcState> state = parse_ac_state(body);
  if (!state) {
    check_error(state.error(), body.size());
    return;
  }
  FUZZ_CHECK(body[0] == body_type::kState && body.size() >= 17);
  FUZZ_CHECK(state->target_humidity.has_value() == (body.size() >= 20));
  FUZZ_CHECK(state->freeze_protection.has_value() == (body.size() >= 22));
  FUZZ_CHECK(state->target_temperature >= 13.0 && state->target_temperature <= 43.5);
  FUZZ_CHECK(std::fmod(state->target_temperature * 2, 1.0) == 0.0);
  FUZZ_CHECK(finite(state->indoor_temperature) && finite(state->outdoor_temperature));
  const Result<AcState> again = parse_ac_state(encode_ac_state_body(*state));
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(*again == *state);
}

void check_set_state(const Bytes& body) {
  const Result<AcSetStateRequest> request = parse_ac_set_state(body);
  if (!request) {
    check_error(request.error(), body.size());
    return;
  }
  FUZZ_CHECK(body[0] == body_type::kSetState && body.size() >= 24);
  const Bytes frame = encode_ac_set_state(request->state, 0x11, request->beep);
  const Result<AcFrame> parsed = parse_ac_frame(frame);
  FUZZ_CHECK(parsed.has_value());
  const Result<AcSetStateRequest> again = parse_ac_set_state(parsed->body);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->state == request->state);
  FUZZ_CHECK(again->beep == request->beep);
}

void check_capabilities(const Bytes& body) {
  const Result<AcCapabilitiesPage> page = parse_ac_capabilities(body);
  if (!page) {
    check_error(page.error(), body.size());
    return;
  }
  FUZZ_CHECK(body[0] == body_type::kCapabilities);
  AcCapabilities merged;
  merge_ac_capabilities(merged, page->capabilities);
  FUZZ_CHECK(merged == page->capabilities);
  const AcFeatures features = summarize_ac_capabilities(merged);
  FUZZ_CHECK(!features.modes.empty() && features.fan_speeds.size() <= 6);
  FUZZ_CHECK(features.min_temperature >= 0 && features.min_temperature <= 127.5);
  FUZZ_CHECK(features.max_temperature >= 0 && features.max_temperature <= 127.5);
  if (page->more_pages) FUZZ_CHECK(body.size() >= 4);
}

void check_properties(const Bytes& body) {
  const Result<AcProperties> properties = parse_ac_properties(body);
  if (!properties) {
    check_error(properties.error(), body.size());
    return;
  }
  FUZZ_CHECK(properties->body_type == body[0]);
  std::size_t failed = 0;
  for (const AcPropertyEntry& entry : properties->entries) {
    FUZZ_CHECK(!entry.value.empty());
    if (entry.failed()) ++failed;
  }
  FUZZ_CHECK(failed == properties->failed_ids.size());
  (void)ac_breeze_mode(*properties);
  const Bytes encoded = encode_ac_properties_body(properties->body_type, properties->entries);
  if (encoded.empty()) return;  // more than one frame can carry: nothing to compare
  const Result<AcProperties> again = parse_ac_properties(encoded);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(*again == *properties);
}

void check_group_data(const Bytes& body) {
  const Result<AcGroupData> reference = parse_ac_group_data(body, EnergyFormat::bcd);
  for (const EnergyFormat format : {EnergyFormat::bcd, EnergyFormat::binary, EnergyFormat::mixed,
                                    EnergyFormat::binary_centi, EnergyFormat::bcd_energy_binary_power}) {
    const Result<AcGroupData> data = parse_ac_group_data(body, format);
    FUZZ_CHECK(data.has_value() == reference.has_value());
    if (!data) {
      check_error(data.error(), body.size());
      continue;
    }
    FUZZ_CHECK(body[0] == body_type::kGroupData && body.size() >= 4);
    FUZZ_CHECK(data->group == (body[3] & 0x0F));
    const bool energy = data->total_energy.has_value();
    FUZZ_CHECK(data->current_energy.has_value() == energy && data->power.has_value() == energy);
    if (energy) {
      FUZZ_CHECK(data->group == 4);
      for (const double value : {*data->total_energy, *data->current_energy, *data->power}) {
        FUZZ_CHECK(std::isfinite(value) && value >= 0);
      }
    }
    AcGroupData without_energy = *data;
    without_energy.total_energy.reset();
    without_energy.current_energy.reset();
    without_energy.power.reset();
    AcGroupData reference_without = *reference;
    reference_without.total_energy.reset();
    reference_without.current_energy.reset();
    reference_without.power.reset();
    FUZZ_CHECK(without_energy == reference_without);
  }
}

Bytes with_type(const std::uint8_t* data, std::size_t size, std::uint8_t type) {
  Bytes body(data, data + size);
  if (body.empty()) body.push_back(type);
  body[0] = type;
  return body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Bytes as_is(data, data + size);
  check_state(as_is);
  check_set_state(as_is);
  check_capabilities(as_is);
  check_properties(as_is);
  check_group_data(as_is);

  check_state(with_type(data, size, body_type::kState));
  check_set_state(with_type(data, size, body_type::kSetState));
  check_capabilities(with_type(data, size, body_type::kCapabilities));
  check_properties(with_type(data, size, size % 2 == 0 ? body_type::kGetProperties : body_type::kSetProperties));
  check_group_data(with_type(data, size, body_type::kGroupData));
  return 0;
}
