// libFuzzer harness for the Xiaomi cloud reply parsers (protocols/xiaomi_cloud/login_messages.h,
// api_messages.h) and the reply decryption (rc4mi.h): their input comes from a server over the Internet.
//
// The input is used three ways: as an account-server reply (with or without "&&&START&&&"), as a
// decrypted API reply walked by every result parser, and as an encrypted API body (base64) under the
// docs/xiaomi_cloud.md §3 vector key.
//
// Invariants (a violation aborts, so libFuzzer reports it as a crash):
//  1. No parser crashes, reads out of bounds (ASan), hits UB (UBSan) or throws, on any input.
//  2. An accepted QR offer has a login URL, a long-poll URL and a timeout of 1..3600 s; an accepted
//     grant has a decimal userId, an ssecurity and a location.
//  3. An accepted beacon key is 24 or 32 lower-case hex digits; every home has a decimal id and owner;
//     every listed device has a did.
//  4. Round trip: encrypt_value then decrypt_reply under the vector key gives the input back.
//  5. strip_start_marker returns a part of its input.
// Seeds: tests/fuzz/corpus/xiaomi_cloud_reply/.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocols/xiaomi_cloud/api_messages.h"
#include "protocols/xiaomi_cloud/login_messages.h"
#include "protocols/xiaomi_cloud/rc4mi.h"

namespace {

using namespace cloudless;
using namespace cloudless::xiaomi_cloud;

#define FUZZ_CHECK(condition)                                                                   \
  do {                                                                                          \
    if (!(condition)) {                                                                         \
      std::fprintf(stderr, "invariant failed: %s (%s:%d)\n", #condition, __FILE__, __LINE__); \
      std::abort();                                                                             \
    }                                                                                           \
  } while (false)

// docs/xiaomi_cloud.md §3: SHA-256(00..0f ‖ 0102030405060708 01ba8140), base64.
constexpr std::string_view kSignedNonce = "OvTYd+kPHbQ1ydSQk+BfzPRIb6HFRVhbboouPVPgNro=";

bool is_decimal(const std::string& text) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool is_lower_hex(const std::string& text) {
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void check_homes(const Result<std::vector<Home>>& homes) {
  if (!homes) return;
  for (const Home& home : *homes) {
    FUZZ_CHECK(is_decimal(home.id));
    FUZZ_CHECK(is_decimal(home.owner));
  }
}

void check_api_reply(std::string_view text) {
  const Result<nlohmann::json> result = parse_api_reply(text);
  if (!result) return;
  check_homes(parse_homes(*result, "1"));
  check_homes(parse_shared_homes(*result));
  if (const Result<std::vector<CloudDevice>> devices = parse_device_list(*result)) {
    for (const CloudDevice& device : *devices) FUZZ_CHECK(!device.did.empty());
  }
  if (const Result<std::string> key = parse_beaconkey(*result)) {
    FUZZ_CHECK(key->size() == 24 || key->size() == 32);
    FUZZ_CHECK(is_lower_hex(*key));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  // 5
  const std::string_view stripped = strip_start_marker(text);
  FUZZ_CHECK(stripped.empty() || (stripped.data() >= text.data() && stripped.data() + stripped.size() <=
                                                                         text.data() + text.size()));

  // 1, 2: account-server replies.
  if (const Result<QrLoginOffer> offer = parse_login_url_reply(text)) {
    FUZZ_CHECK(!offer->login_url.empty() && !offer->long_poll_url.empty());
    FUZZ_CHECK(offer->timeout.count() >= 1 && offer->timeout.count() <= 3600);
  }
  if (const Result<LoginGrant> grant = parse_long_poll_reply(text)) {
    FUZZ_CHECK(is_decimal(grant->user_id));
    FUZZ_CHECK(!grant->ssecurity.empty() && !grant->location.empty());
  }

  // 1, 3: the input as a decrypted API reply, and as an encrypted one.
  check_api_reply(text);
  if (const Result<std::string> plain = decrypt_reply(kSignedNonce, text)) check_api_reply(*plain);

  // 4
  const Result<std::string> sealed = encrypt_value(kSignedNonce, text);
  FUZZ_CHECK(sealed.has_value());
  const Result<std::string> opened = decrypt_reply(kSignedNonce, *sealed);
  FUZZ_CHECK(opened.has_value() && *opened == text);
  return 0;
}
