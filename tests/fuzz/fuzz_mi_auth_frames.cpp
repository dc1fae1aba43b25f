// libFuzzer harness for what a Mi auth peer sends us (protocols/xiaomi_ble/auth/mi_auth_standard.h,
// mi_auth_legacy.h): AVDTP headers, control messages and data frames, UPNP results, the legacy
// register reply and login challenge/confirmation. Anyone in radio range can pretend to be the device.
//
// Invariants (a violation aborts, so libFuzzer reports it as a crash):
//  1. parse_avdtp, parse_header, parse_control, classify_upnp never crash, never read out of bounds
//     (ASan), never hit UB (UBSan); errors point inside the input.
//  2. Round trips: a parsed header or control re-encodes to the input byte for byte; a frame's
//     index is non-zero and its payload is the input after the 2-byte index.
//  3. The reassembler, fed the input cut into a header and a sequence of frames, never accepts a
//     frame index of 0, above the announced count, or seen before; never holds more than its limit;
//     when complete, assemble() has exactly the sum of the accepted payloads, and never before.
//  4. split_frames → reassembler gives the data back (for the input as data, within the limit).
//  5. classify_upnp only calls 4-byte values x0 00 00 00 anything but unknown, and keeps the hex.
//  6. The legacy checks under the §4.2 vector keys: only a 12-byte reply can match (and then it is
//     the genuine one); login_key needs ≥ 4 bytes; a confirmation under 4 bytes is malformed.
// Seeds: tests/fuzz/corpus/mi_auth_frames/ (the §4.4 control values, headers and vector frames).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <vector>

#include "protocols/common/bytes.h"
#include "protocols/xiaomi_ble/auth/mi_auth_legacy.h"
#include "protocols/xiaomi_ble/auth/mi_auth_standard.h"

namespace {

using namespace cloudless;
using namespace cloudless::xiaomi_ble;
namespace la = cloudless::xiaomi_ble::legacy_auth;
namespace sa = cloudless::xiaomi_ble::standard_auth;

#define FUZZ_CHECK(condition)                                                                   \
  do {                                                                                          \
    if (!(condition)) {                                                                         \
      std::fprintf(stderr, "invariant failed: %s (%s:%d)\n", #condition, __FILE__, __LINE__); \
      std::abort();                                                                             \
    }                                                                                           \
  } while (false)

// docs/ble.md §4.2: MAC AA:BB:CC:DD:EE:FF, pid 131, drndos' default token, the genuine reply.
constexpr MacAddress kMac = {0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF};
constexpr la::Token kToken = {0x01, 0x5c, 0xcb, 0xa8, 0x80, 0x0a, 0xbd, 0xc1, 0x2e, 0xb8, 0xed, 0x82};
const Bytes kGenuineReply = {0x4b, 0x08, 0x43, 0x75, 0xb0, 0x89, 0x44, 0xf4, 0xa1, 0x17, 0xbb, 0x22};
constexpr std::size_t kLimit = 64;  // the largest real transfer (a public key)

void check_messages(ByteView input) {
  const Result<sa::AvdtpMessage> message = sa::parse_avdtp(input);
  if (!message) {
    FUZZ_CHECK(message.error().offset <= input.size());
  } else {
    switch (message->kind) {
      case sa::AvdtpMessage::Kind::header:
        FUZZ_CHECK(sa::encode_header(message->header.type, message->header.frames) ==
                   Bytes(input.begin(), input.end()));
        break;
      case sa::AvdtpMessage::Kind::control:
        FUZZ_CHECK(sa::encode_control(message->control) == Bytes(input.begin(), input.end()));
        FUZZ_CHECK(!sa::control_name(message->control).empty());
        break;
      case sa::AvdtpMessage::Kind::frame:
        FUZZ_CHECK(message->index != 0 && message->index == (input[0] | input[1] << 8));
        FUZZ_CHECK(message->payload == Bytes(input.begin() + 2, input.end()));
        break;
    }
  }
  const Result<sa::Header> header = sa::parse_header(input);
  if (header) FUZZ_CHECK(input.size() == 6 && message && message->kind == sa::AvdtpMessage::Kind::header);
  const auto control = sa::parse_control(input);
  if (control) FUZZ_CHECK(message && message->kind == sa::AvdtpMessage::Kind::control);

  // 5.
  const sa::UpnpResult upnp = sa::classify_upnp(input);
  FUZZ_CHECK(upnp.code == to_hex(input));
  if (upnp.status != sa::UpnpStatus::unknown) {
    FUZZ_CHECK(input.size() == 4 && input[1] == 0 && input[2] == 0 && input[3] == 0);
  }
}

// 3: byte 0 = announced frames (0..7), then frames of 1 + (length byte & 0x1f) bytes each.
void check_reassembler(ByteView input) {
  if (input.empty()) return;
  sa::FrameReassembler reassembler(kLimit);
  const std::uint16_t announced = input[0] & 0x07;
  const auto started = reassembler.start(announced);
  FUZZ_CHECK(started.has_value() == (announced != 0));
  std::set<std::uint16_t> accepted;
  std::size_t total = 0;
  std::size_t offset = 1;
  while (offset < input.size()) {
    const std::size_t length = std::min<std::size_t>(input[offset] & 0x1F, input.size() - offset - 1);
    const ByteView frame = input.subspan(offset + 1, length);
    offset += 1 + length;
    const bool was_complete = reassembler.complete();
    const auto added = reassembler.add(frame);
    if (!added) {
      FUZZ_CHECK(reassembler.complete() == was_complete);
      continue;
    }
    FUZZ_CHECK(frame.size() >= 3);
    const std::uint16_t index = static_cast<std::uint16_t>(frame[0] | frame[1] << 8);
    FUZZ_CHECK(index >= 1 && index <= announced);
    FUZZ_CHECK(accepted.insert(index).second);
    total += frame.size() - 2;
    FUZZ_CHECK(total <= kLimit);
    FUZZ_CHECK((*added == sa::FrameReassembler::Status::complete) == (accepted.size() == announced));
  }
  FUZZ_CHECK(reassembler.complete() == (announced != 0 && accepted.size() == announced));
  const Bytes assembled = reassembler.assemble();
  FUZZ_CHECK(reassembler.complete() ? assembled.size() == total : assembled.empty());
}

// 4.
void check_split(ByteView input) {
  if (input.empty() || input.size() > kLimit) return;
  const std::vector<Bytes> frames = sa::split_frames(input);
  FUZZ_CHECK(frames.size() == sa::frame_count(input.size()));
  sa::FrameReassembler reassembler(kLimit);
  FUZZ_CHECK(reassembler.start(static_cast<std::uint16_t>(frames.size())));
  for (const Bytes& frame : frames) {
    FUZZ_CHECK(frame.size() >= 3 && frame.size() <= 2 + sa::kFramePayload);
    FUZZ_CHECK(reassembler.add(frame));
  }
  FUZZ_CHECK(reassembler.complete());
  FUZZ_CHECK(reassembler.assemble() == Bytes(input.begin(), input.end()));
}

// 6.
void check_legacy(ByteView input) {
  const la::CheckResult reply = la::verify_register_reply(kMac, 131, kToken, input);
  if (input.size() != 12) {
    FUZZ_CHECK(reply == la::CheckResult::malformed);
  } else if (reply == la::CheckResult::match) {
    FUZZ_CHECK(Bytes(input.begin(), input.end()) == kGenuineReply);
  } else {
    FUZZ_CHECK(reply == la::CheckResult::mismatch || reply == la::CheckResult::crypto_unavailable);
  }
  for (const la::LoginVariant variant : {la::LoginVariant{true, true}, la::LoginVariant{false, false}}) {
    const Result<Bytes> key = la::login_key(kToken, input, variant);
    if (input.size() < 4) {
      FUZZ_CHECK(!key);
      continue;
    }
    if (!key) continue;  // RC4 unavailable
    FUZZ_CHECK(key->size() == (variant.twelve_byte_key ? 12u : 4u));
    const la::CheckResult confirmation = la::check_login_confirmation(*key, input, variant);
    FUZZ_CHECK(confirmation != la::CheckResult::malformed);
  }
  const Bytes fixed_key(kToken.begin(), kToken.end());
  if (input.size() < 4) {
    FUZZ_CHECK(la::check_login_confirmation(fixed_key, input, {}) == la::CheckResult::malformed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  check_messages(input);
  check_reassembler(input);
  check_split(input);
  check_legacy(input);
  return 0;
}
