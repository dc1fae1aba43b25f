// libFuzzer harness for the bind-key capture decoder (protocols/xiaomi_ble/codec/bindkey_capture.h):
// its inputs are whatever a user pastes from a proxy, and its JSON is decrypted from them.
//
// Input format: "ssecurity\nnonce\ndata" (missing parts are empty); the whole input is also used as
// JSON text and as a plaintext to encrypt.
//
// Invariants (a violation aborts, so libFuzzer reports it as a crash):
//  1. decode_bindkey_capture, extract_bind_keys, url_decode and base64_decode never crash, never
//     read out of bounds (ASan), never hit UB (UBSan) and never throw, on any input.
//  2. Every key reported is 24 or 32 lower-case hex digits, its scheme matching its length, and
//     found_at is set; decode_bindkey_capture's errors point at offset 0.
//  3. base64_decode(base64_encode(x)) == x for any bytes x.
//  4. Round trip: the input, encrypted as Mi Home does under a fixed ssecurity and nonce
//     (docs/ble.md §5.1 vectors), decrypts to itself; it is accepted exactly when it is a JSON object
//     or array, and then gives the same keys as extract_bind_keys on the input.
// Seeds: tests/fuzz/corpus/bindkey_capture/.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocols/xiaomi_ble/codec/bindkey_capture.h"

namespace {

using namespace cloudless;
using namespace cloudless::xiaomi_ble;

#define FUZZ_CHECK(condition)                                                                   \
  do {                                                                                          \
    if (!(condition)) {                                                                         \
      std::fprintf(stderr, "invariant failed: %s (%s:%d)\n", #condition, __FILE__, __LINE__); \
      std::abort();                                                                             \
    }                                                                                           \
  } while (false)

// docs/ble.md §5.1: ssecurity 00..0f, nonce 0102030405060708 01ba8140.
constexpr std::string_view kSsecurity = "AAECAwQFBgcICQoLDA0ODw==";
constexpr std::string_view kNonce = "AQIDBAUGBwgBuoFA";

bool is_lower_hex(const std::string& text) {
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void check_keys(const std::vector<CapturedKey>& keys) {
  for (const CapturedKey& key : keys) {
    FUZZ_CHECK(key.key_hex.size() == 32 || key.key_hex.size() == 24);
    FUZZ_CHECK(is_lower_hex(key.key_hex));
    FUZZ_CHECK((key.scheme == Encryption::ccm) == (key.key_hex.size() == 32));
    FUZZ_CHECK(key.scheme != Encryption::none);
    FUZZ_CHECK(!key.found_at.empty());
  }
}

bool same_keys(const std::vector<CapturedKey>& a, const std::vector<CapturedKey>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].key_hex != b[i].key_hex || a[i].did != b[i].did || a[i].mac != b[i].mac ||
        a[i].found_at != b[i].found_at) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  // 1, 2: the three fields of a capture.
  const std::size_t first = text.find('\n');
  const std::size_t second = first == std::string_view::npos ? first : text.find('\n', first + 1);
  const std::string_view ssecurity = text.substr(0, first);
  const std::string_view nonce =
      first == std::string_view::npos ? std::string_view{} : text.substr(first + 1, second - first - 1);
  const std::string_view payload = second == std::string_view::npos ? std::string_view{} : text.substr(second + 1);
  const Result<BindKeyCapture> capture = decode_bindkey_capture(ssecurity, nonce, payload);
  if (capture) {
    check_keys(capture->keys);
  } else {
    FUZZ_CHECK(capture.error().offset == 0);
  }

  // 1, 2: the input as decrypted JSON text.
  const Result<std::vector<CapturedKey>> keys = extract_bind_keys(text);
  if (keys) check_keys(*keys);

  // 1, 3: text helpers.
  static_cast<void>(url_decode(text));
  static_cast<void>(base64_decode(text));
  const ByteView bytes(data, size);
  const std::optional<Bytes> round_trip = base64_decode(base64_encode(bytes));
  FUZZ_CHECK(round_trip.has_value());
  FUZZ_CHECK(*round_trip == Bytes(data, data + size));

  // 4: encrypt the input as Mi Home would, then decode it as a captured request.
  const std::string sealed = encode_bindkey_capture(kSsecurity, kNonce, text);
  FUZZ_CHECK(!sealed.empty() || size == 0);
  if (size > 0) {
    const Result<BindKeyCapture> opened = decode_bindkey_capture(kSsecurity, kNonce, sealed);
    FUZZ_CHECK(opened.has_value() == keys.has_value());
    if (opened) {
      FUZZ_CHECK(opened->plaintext == text);
      FUZZ_CHECK(same_keys(opened->keys, *keys));
    }
  }
  return 0;
}
