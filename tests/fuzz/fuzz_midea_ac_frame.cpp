// libFuzzer harness for the Midea 0xAA application frame (protocols/midea/ac_frame.h): these bytes
// come out of a V2/V3 packet from any device on the LAN.
//
// Invariants (a violation aborts, so libFuzzer reports it as a crash):
//  1. parse_ac_frame never crashes, never reads out of bounds (ASan) and never hits UB (UBSan); an
//     error is malformed, its offset ≤ input size and its message printable ASCII.
//  2. It accepts only: start byte 0xAA, size ≥ 13, length byte + 1 == size, a correct checksum, device
//     type 0xAC; the body is bytes 10..n−3, and body_check says what byte n−2 is (CRC8 of the body;
//     else its checksum; "unchecked" only for 0xB0/0xB1 bodies whose byte matches neither).
//  3. parse → encode → parse is stable: encode_ac_frame(f) parses back to f with body_check CRC8, and
//     re-encodes the input byte for byte when its body carried a CRC8.
//  4. Fix-up: the input as the body of a frame (frame type = its first byte) encodes to a frame that
//     parses back to the same fields; encode_ac_command(input) parses with the message id appended.
//     Random data rarely passes two checksums, so this is what drives the body parsers.
//  5. Whatever classify_ac_frame says, the body parser it names never crashes on the body, and a
//     classification is consistent with the body type and frame type.
// Seeds: tests/fuzz/corpus/midea_ac_frame/ (every frame of docs/midea.md §7.3 and §7.4).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "protocols/midea/ac_capabilities.h"
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

// 5: the parser the classification names.
void check_dispatch(const AcFrame& frame) {
  const AcBodyKind kind = classify_ac_frame(frame);
  const std::uint8_t type = frame.body_type();
  switch (kind) {
    case AcBodyKind::state: {
      FUZZ_CHECK(type == body_type::kState);
      const Result<AcState> state = parse_ac_state(frame.body);
      if (!state) check_error(state.error(), frame.body.size());
      break;
    }
    case AcBodyKind::capabilities: {
      FUZZ_CHECK(type == body_type::kCapabilities && frame.frame_type == 0x03);
      const Result<AcCapabilitiesPage> page = parse_ac_capabilities(frame.body);
      if (page) {
        (void)summarize_ac_capabilities(page->capabilities);
      } else {
        check_error(page.error(), frame.body.size());
      }
      break;
    }
    case AcBodyKind::capabilities_notification:
      FUZZ_CHECK(type == body_type::kCapabilities && frame.frame_type != 0x03);
      break;
    case AcBodyKind::properties: {
      FUZZ_CHECK(type == body_type::kGetProperties || type == body_type::kSetProperties);
      const Result<AcProperties> properties = parse_ac_properties(frame.body);
      if (properties) {
        (void)ac_breeze_mode(*properties);
      } else {
        check_error(properties.error(), frame.body.size());
      }
      break;
    }
    case AcBodyKind::group_data: {
      FUZZ_CHECK(type == body_type::kGroupData);
      const Result<AcGroupData> data = parse_ac_group_data(frame.body, EnergyFormat::binary);
      if (!data) check_error(data.error(), frame.body.size());
      break;
    }
    case AcBodyKind::other:
      FUZZ_CHECK(type != body_type::kState && type != body_type::kCapabilities && type != body_type::kGroupData &&
                 type != body_type::kGetProperties && type != body_type::kSetProperties);
      break;
  }
}

// 3: encode → parse gives the same fields, with a CRC8.
void check_round_trip(const AcFrame& frame) {
  const Bytes encoded = encode_ac_frame(frame);
  if (frame.body.empty() || frame.body.size() > kAcMaxBodySize) {
    FUZZ_CHECK(encoded.empty());
    return;
  }
  FUZZ_CHECK(encoded.size() == frame.body.size() + 12);
  const Result<AcFrame> again = parse_ac_frame(encoded, frame.device_type);
  FUZZ_CHECK(again.has_value());
  AcFrame expected = frame;
  expected.body_check = BodyCheck::crc8;
  FUZZ_CHECK(*again == expected);
  check_dispatch(*again);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);

  // 1–3, 5: the input as a frame.
  const Result<AcFrame> frame = parse_ac_frame(input);
  if (frame) {
    FUZZ_CHECK(size >= kAcMinFrameSize);
    FUZZ_CHECK(data[0] == kAcFrameStart);
    FUZZ_CHECK(std::size_t{data[1]} + 1 == size);
    FUZZ_CHECK(data[2] == kDeviceTypeAc && frame->device_type == kDeviceTypeAc);
    FUZZ_CHECK(ac_checksum(input.subspan(1, size - 2)) == data[size - 1]);
    FUZZ_CHECK(frame->body == Bytes(data + 10, data + size - 2));
    const std::uint8_t last = data[size - 2];
    switch (frame->body_check) {
      case BodyCheck::crc8:
        FUZZ_CHECK(last == ac_crc8(frame->body));
        FUZZ_CHECK(encode_ac_frame(*frame) == Bytes(data, data + size));
        break;
      case BodyCheck::checksum:
        FUZZ_CHECK(last == ac_checksum(frame->body) && last != ac_crc8(frame->body));
        break;
      case BodyCheck::unchecked:
        FUZZ_CHECK(frame->body_type() == body_type::kGetProperties || frame->body_type() == body_type::kSetProperties);
        FUZZ_CHECK(last != ac_crc8(frame->body) && last != ac_checksum(frame->body));
        break;
    }
    check_round_trip(*frame);
    check_dispatch(*frame);
  } else {
    check_error(frame.error(), size);
  }

  // 4: the input as a body (first byte = frame type), and as a command.
  if (size >= 2) {
    AcFrame built;
    built.frame_type = data[0];
    built.sync = data[size - 1];
    built.protocol_version = data[size / 2];
    built.body.assign(data + 1, data + size);
    check_round_trip(built);
  }
  const Bytes command = encode_ac_command(static_cast<FrameType>(size > 0 ? data[0] : 0x03), input, 0x5A);
  if (size == 0 || size + 1 > kAcMaxBodySize) {
    FUZZ_CHECK(command.empty());
  } else {
    const Result<AcFrame> parsed = parse_ac_frame(command);
    FUZZ_CHECK(parsed.has_value());
    FUZZ_CHECK(parsed->body.size() == size + 1);
    FUZZ_CHECK(std::equal(parsed->body.begin(), parsed->body.end() - 1, data));
    FUZZ_CHECK(parsed->body.back() == 0x5A);
  }
  return 0;
}
