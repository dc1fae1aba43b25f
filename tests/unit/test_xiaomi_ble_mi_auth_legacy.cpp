// Legacy Mi auth codec (protocols/xiaomi_ble/auth/mi_auth_legacy.h): every vector of docs/ble.md §4.2
// (synthetic vectors computed there for MAC AA:BB:CC:DD:EE:FF and drndos' default token, RC4 checked
// against the standard Key/Plaintext vector), the login of docs/ble.md §S2 in all four variants, and the
// size checks.
#include <catch2/catch.hpp>

#include "tests/unit/test_support.h"

#include <set>
#include <string>

#include "protocols/common/bytes.h"
#include "protocols/common/crypto.h"
#include "protocols/xiaomi_ble/auth/mi_auth_legacy.h"

using namespace cloudless;
using namespace cloudless::xiaomi_ble;
namespace la = cloudless::xiaomi_ble::legacy_auth;

using cloudless::test::array_of;
using cloudless::test::hex;
using cloudless::test::hex_of;

namespace {

// Used at namespace scope, where Catch's REQUIRE cannot run yet: a bad literal gives a zero token,
// which every vector check below then fails on.
la::Token token_of(std::string_view text) {
  const auto bytes = from_hex(text);
  la::Token token{};
  if (bytes && bytes->size() == token.size()) std::copy(bytes->begin(), bytes->end(), token.begin());
  return token;
}

constexpr MacAddress kMac = {0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF};
const la::Token kToken = token_of("015ccba8800abdc12eb8ed82");  // drndos' default token (§4.2)

struct RegisterVector {
  std::uint16_t product_id;
  const char* mix_a;
  const char* mix_b;
  const char* token_write;
  const char* genuine_reply;
};
// docs/ble.md §4.2 "Synthetic vectors": pid 131 = YM-K1501, pid 275 = YM-K1501EU.
const RegisterVector kRegisterVectors[] = {
    {131, "ffddaa8383bbaaee", "ffddaa00bbffaa83", "2c18ec5cd4af78ba9413b083", "4b084375b08944f4a117bb22"},
    {275, "ffddaa1313bbaaee", "ffddaa01bbffaa13", "98fba984896b999a9cdc3fd1", "b2b51f494a7a653833cfb317"},
};

}  // namespace

TEST_CASE("legacy auth: RC4 is plain RC4 (standard Key/Plaintext vector)", "[xiaomi_ble][legacy_auth]") {
  REQUIRE(crypto::rc4_available());
  const auto out = la::cipher(as_bytes("Key"), as_bytes("Plaintext"));
  REQUIRE(out);
  CHECK(to_hex(*out) == "bbf316e8d940af0ad3");
  // Symmetric: the same call decrypts.
  const auto back = la::cipher(as_bytes("Key"), *out);
  REQUIRE(back);
  CHECK(*back == Bytes(as_bytes("Plaintext").begin(), as_bytes("Plaintext").end()));
  CHECK_FALSE(la::cipher({}, as_bytes("x")));  // an empty key is refused, not "encrypted"
}

TEST_CASE("legacy auth: reversed MAC", "[xiaomi_ble][legacy_auth]") {
  CHECK(hex_of(la::reversed_mac(kMac)) == "ffeeddccbbaa");
}

TEST_CASE("legacy auth: register vectors of §4.2", "[xiaomi_ble][legacy_auth]") {
  for (const RegisterVector& vector : kRegisterVectors) {
    CAPTURE(vector.product_id);
    CHECK(hex_of(la::mix_a(kMac, vector.product_id)) == vector.mix_a);
    CHECK(hex_of(la::mix_b(kMac, vector.product_id)) == vector.mix_b);
    const auto write = la::register_token_write(kMac, vector.product_id, kToken);
    REQUIRE(write);
    CHECK(to_hex(*write) == vector.token_write);
    CHECK(la::verify_register_reply(kMac, vector.product_id, kToken, hex(vector.genuine_reply)) ==
          la::CheckResult::match);
  }
  // Step 5 depends on the token only.
  const auto finish = la::register_finish(kToken);
  REQUIRE(finish);
  CHECK(to_hex(*finish) == "ea0f7d48");
  CHECK(la::kRegisterStart == std::array<std::uint8_t, 4>{0x90, 0xCA, 0x85, 0xDE});
}

TEST_CASE("legacy auth: a reply that is not the genuine one is refused", "[xiaomi_ble][legacy_auth]") {
  const Bytes genuine = hex("4b084375b08944f4a117bb22");
  // Every single flipped bit of the genuine reply fails.
  for (std::size_t i = 0; i < genuine.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes altered = genuine;
      altered[i] ^= static_cast<std::uint8_t>(1 << bit);
      CAPTURE(i, bit);
      CHECK(la::verify_register_reply(kMac, 131, kToken, altered) == la::CheckResult::mismatch);
    }
  }
  // The genuine reply for another product id, or for another MAC, does not verify.
  CHECK(la::verify_register_reply(kMac, 275, kToken, genuine) == la::CheckResult::mismatch);
  constexpr MacAddress other = {0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFE};
  CHECK(la::verify_register_reply(other, 131, kToken, genuine) == la::CheckResult::mismatch);
  // Echoing our own step-3 write back is not a proof either.
  CHECK(la::verify_register_reply(kMac, 131, kToken, hex("2c18ec5cd4af78ba9413b083")) == la::CheckResult::mismatch);
}

TEST_CASE("legacy auth: a reply of the wrong size is malformed, for every size", "[xiaomi_ble][legacy_auth]") {
  const Bytes genuine = hex("4b084375b08944f4a117bb22");
  for (std::size_t size = 0; size < genuine.size(); ++size) {
    CAPTURE(size);
    CHECK(la::verify_register_reply(kMac, 131, kToken, ByteView(genuine).first(size)) == la::CheckResult::malformed);
  }
  Bytes longer = genuine;
  longer.push_back(0);
  CHECK(la::verify_register_reply(kMac, 131, kToken, longer) == la::CheckResult::malformed);
}

TEST_CASE("legacy auth: version and beacon key are RC4 with the token", "[xiaomi_ble][legacy_auth]") {
  // The device side: the version string and a beacon key, RC4'd with the token.
  const std::string version = "1.0.0_0050";
  const auto sent = la::cipher(kToken, as_bytes(version));
  REQUIRE(sent);
  const auto text = la::decrypt_version(kToken, *sent);
  REQUIRE(text);
  CHECK(*text == version);

  // NUL padding of the fixed-size field is dropped.
  Bytes padded(as_bytes("1.0.7").begin(), as_bytes("1.0.7").end());
  padded.resize(10, 0);
  const auto padded_sent = la::cipher(kToken, padded);
  REQUIRE(padded_sent);
  CHECK(la::decrypt_version(kToken, *padded_sent) == std::optional<std::string>("1.0.7"));

  // A firmware answering in clear: the decrypted bytes are noise, the raw ones text.
  CHECK(la::decrypt_version(kToken, as_bytes(version)) == std::optional<std::string>(version));

  const Bytes beacon_key = hex("b8530751584847ca39a5b5ea");
  const auto key_sent = la::cipher(kToken, beacon_key);
  REQUIRE(key_sent);
  const auto key = la::decrypt_beacon_key(kToken, *key_sent);
  REQUIRE(key);
  CHECK(hex_of(*key) == "b8530751584847ca39a5b5ea");
  for (std::size_t size : {0u, 11u, 13u, 16u}) {
    CAPTURE(size);
    CHECK_FALSE(la::decrypt_beacon_key(kToken, Bytes(size, 0x42)));
  }
}

TEST_CASE("legacy auth: generated tokens are 12 fresh bytes", "[xiaomi_ble][legacy_auth]") {
  std::set<la::Token> seen;
  for (int i = 0; i < 32; ++i) seen.insert(la::generate_token());
  CHECK(seen.size() == 32);  // 96 random bits: a repeat would mean a broken generator
  CHECK(seen.count(la::Token{}) == 0);
}

TEST_CASE("legacy auth: login constants in both byte orders", "[xiaomi_ble][legacy_auth]") {
  const la::LoginVariant little{true, true};
  const la::LoginVariant big{false, true};
  CHECK(hex_of(la::login_start(little)) == "00bc43cd");
  CHECK(hex_of(la::login_start(big)) == "cd43bc00");  // the printing of docs/ble.md §S2
  CHECK(hex_of(la::login_constant(la::kLoginEnd, big)) == "93bfac09");
  CHECK(hex_of(la::login_constant(la::kLoginEnd, little)) == "09acbf93");
  CHECK(hex_of(la::login_constant(la::kLoginConfirm, big)) == "369a58c9");
  CHECK(hex_of(la::login_constant(la::kLoginConfirm, little)) == "c9589a36");
}

namespace {
// One row per variant: the device's side of the login is built here from the description in docs/ble.md §S2.
const la::LoginVariant kVariants[] = {{true, true}, {true, false}, {false, true}, {false, false}};
}  // namespace

TEST_CASE("legacy auth: login key, response and confirmation for each variant", "[xiaomi_ble][legacy_auth]") {
  const Bytes challenge = hex("5a17c3e9");
  for (const la::LoginVariant& variant : kVariants) {
    CAPTURE(variant.little_endian_constants, variant.twelve_byte_key);
    const auto key = la::login_key(kToken, challenge, variant);
    REQUIRE(key);
    // tick = rc4(token, challenge); the key is the token with tick XORed into its first 4 bytes.
    const auto tick = la::cipher(kToken, challenge);
    REQUIRE(tick);
    REQUIRE(key->size() == (variant.twelve_byte_key ? 12u : 4u));
    for (std::size_t i = 0; i < 4; ++i) CHECK((*key)[i] == (kToken[i] ^ (*tick)[i]));
    for (std::size_t i = 4; i < key->size(); ++i) CHECK((*key)[i] == kToken[i]);

    // Our response decrypts, under the key, to the end constant in this variant's order.
    const auto response = la::login_response(*key, variant);
    REQUIRE(response);
    const auto opened = la::cipher(*key, *response);
    REQUIRE(opened);
    const auto end = la::login_constant(la::kLoginEnd, variant);
    CHECK(*opened == Bytes(end.begin(), end.end()));

    // The device confirms with rc4(key, confirm constant); anything else is refused.
    const auto confirm = la::login_constant(la::kLoginConfirm, variant);
    const auto confirmation = la::cipher(*key, confirm);
    REQUIRE(confirmation);
    CHECK(la::check_login_confirmation(*key, *confirmation, variant) == la::CheckResult::match);
    Bytes longer = *confirmation;  // only the first 4 bytes count
    longer.push_back(0x77);
    CHECK(la::check_login_confirmation(*key, longer, variant) == la::CheckResult::match);
    Bytes flipped = *confirmation;
    flipped[3] ^= 0x01;
    CHECK(la::check_login_confirmation(*key, flipped, variant) == la::CheckResult::mismatch);
    // The other byte order's confirmation does not pass.
    la::LoginVariant swapped = variant;
    swapped.little_endian_constants = !variant.little_endian_constants;
    CHECK(la::check_login_confirmation(*key, *confirmation, swapped) == la::CheckResult::mismatch);
    for (std::size_t size = 0; size < 4; ++size) {
      CAPTURE(size);
      CHECK(la::check_login_confirmation(*key, ByteView(*confirmation).first(size), variant) ==
            la::CheckResult::malformed);
    }
  }
}

TEST_CASE("legacy auth: the login key uses the first 4 challenge bytes, needs at least 4", "[xiaomi_ble][legacy_auth]") {
  const la::LoginVariant variant{};
  const auto four = la::login_key(kToken, hex("5a17c3e9"), variant);
  const auto longer = la::login_key(kToken, hex("5a17c3e9deadbeef"), variant);
  REQUIRE(four);
  REQUIRE(longer);
  CHECK(*four == *longer);
  CHECK(to_hex(*four) != to_hex(kToken));  // the tick changes the token
  for (std::size_t size = 0; size < 4; ++size) {
    CAPTURE(size);
    const auto key = la::login_key(kToken, Bytes(size, 0x11), variant);
    REQUIRE_FALSE(key);
    CHECK(key.error().offset == size);
  }
}
