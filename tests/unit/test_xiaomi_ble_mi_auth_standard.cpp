// Mi standard auth codec (protocols/xiaomi_ble/auth/mi_auth_standard.h): every vector of
// docs/ble.md §4.4 (dnandha/miauth lib/python/test/test_micrypto.py, re-computed there), the
// AVDTP framing, the reassembler's refusals and the UPNP classifier.
#include <catch2/catch.hpp>

#include "tests/unit/test_support.h"

#include <string>

#include "protocols/common/bytes.h"
#include "protocols/xiaomi_ble/auth/mi_auth_standard.h"

using namespace cloudless;
namespace sa = cloudless::xiaomi_ble::standard_auth;

using cloudless::test::array_of;
using cloudless::test::hex;
using cloudless::test::hex_of;

namespace {

// §4.4 register vector: our private scalar 4846150838…0803 in hex, the device's public key, and
// what follows from them.
const char* const kPrivateKey = "6b243de1b1cfee581130b070c635c8957ac56f0c2c3d40b1af8732d6cd6ec183";
// Our public key for that scalar, computed independently with python3-cryptography
// (ec.derive_private_key(d, SECP256R1()).public_key()): not in docs/ble.md, a cross-check.
const char* const kOurPublicKey =
    "4925e4cf05129fa65116a4a324fc86eefd4cd176717f0938ccbd2387fd52d0ef"
    "d85162c20c0fcc72ca85a8b18f61ef980a70e1a6e7ff15f5289881ee59b8f4af";
const char* const kDevicePublicKey =
    "2afe2a8c1c56e5e70721665cd20d017273111ecaeceb1e4d641e7b7a122a9c30"
    "41e5cbc962eefbdb155ffd95847a0d8762803291fc2866c5672ceee0e77d77fc";
const char* const kShared = "fac3a6fd591dcea21f9f4fefe297804f49291527ae818b285f4a75a6fab72af8";
const char* const kSetupOkm =
    "0cf5615003810d89c233a12a8fc5100e31299d80c4c290dc7d33f19ec42ea48a"
    "95c5544f105fe7ebb8b39233c6542b1fff90b2206265080bf516365fd8d758fe";
const char* const kRemoteInfo = "0100000000626c742e342e31386e35383236366b67673030";
const char* const kDidCiphertext = "646735cc7a96373aabbd93afa089bb6cd2d080302101007a";

// §4.4 login vector.
const char* const kToken = "0cf5615003810d89c233a12a";
const char* const kAppRandom = "a8699783c1f03c7b73a046cdb613a9bf";
const char* const kDeviceRandom = "90fdec0ece05016d7f116b50fca4b4bf";

}  // namespace

TEST_CASE("standard auth: P-256 key pair from the vector scalar", "[xiaomi_ble][standard_auth]") {
  const auto pair = sa::key_pair_from_private(array_of<32>(kPrivateKey));
  REQUIRE(pair);
  CHECK(hex_of(pair->private_key) == kPrivateKey);
  CHECK(hex_of(pair->public_key) == kOurPublicKey);
  // Scalars outside 1..n-1 are no keys.
  CHECK_FALSE(sa::key_pair_from_private(sa::PrivateKey{}));
  sa::PrivateKey all_ff{};
  all_ff.fill(0xFF);
  CHECK_FALSE(sa::key_pair_from_private(all_ff));
}

TEST_CASE("standard auth: ECDH with the device key of the vector", "[xiaomi_ble][standard_auth]") {
  const auto shared = sa::derive_shared_secret(array_of<32>(kPrivateKey), array_of<64>(kDevicePublicKey));
  REQUIRE(shared);
  CHECK(hex_of(*shared) == kShared);
}

TEST_CASE("standard auth: ECDH refuses points that are not on the curve", "[xiaomi_ble][standard_auth]") {
  const auto priv = array_of<32>(kPrivateKey);
  auto device = array_of<64>(kDevicePublicKey);
  device[63] ^= 0x01;  // Y off by one: not on P-256
  CHECK_FALSE(sa::derive_shared_secret(priv, device));
  CHECK_FALSE(sa::derive_shared_secret(priv, sa::PublicKey{}));  // (0, 0)
  sa::PublicKey huge{};
  huge.fill(0xFF);  // coordinates beyond the field prime
  CHECK_FALSE(sa::derive_shared_secret(priv, huge));
}

TEST_CASE("standard auth: two fresh key pairs agree on a secret", "[xiaomi_ble][standard_auth]") {
  const auto ours = sa::generate_key_pair();
  const auto theirs = sa::generate_key_pair();
  REQUIRE(ours);
  REQUIRE(theirs);
  CHECK(ours->public_key != theirs->public_key);
  // The generated public key is the one of its scalar.
  const auto again = sa::key_pair_from_private(ours->private_key);
  REQUIRE(again);
  CHECK(again->public_key == ours->public_key);
  const auto a = sa::derive_shared_secret(ours->private_key, theirs->public_key);
  const auto b = sa::derive_shared_secret(theirs->private_key, ours->public_key);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(*a == *b);
}

TEST_CASE("standard auth: HKDF-SHA256 vectors", "[xiaomi_ble][standard_auth]") {
  // §4.4: HKDF(secret 5a3d…8f2f, no salt, setup-info).
  auto okm = sa::hkdf_sha256(hex("5a3d987d45f6484aff82ffde1e9105b7f6cc79fa7467f12c5855ad9e3f1d8f2f"), {},
                             sa::kSetupInfo, 64);
  REQUIRE(okm);
  CHECK(to_hex(*okm) ==
        "104ec0eda032b6d213c245359e585d3bfd4b7c5d683c99f49fd86aaf0de0f6b0"
        "bfafb897e3b3727aaa8f8ad6b21a737c1d85c3aae340969f268d2d95ca8848c1");
  okm = sa::hkdf_sha256(hex(kShared), {}, sa::kSetupInfo, 64);
  REQUIRE(okm);
  CHECK(to_hex(*okm) == kSetupOkm);
  // RFC 5869 test case 1 (salt and info present), to pin the salt/info handling.
  okm = sa::hkdf_sha256(hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"), hex("000102030405060708090a0b0c"),
                        std::string_view("\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9", 10), 42);
  REQUIRE(okm);
  CHECK(to_hex(*okm) == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  CHECK_FALSE(sa::hkdf_sha256(hex("00"), {}, sa::kSetupInfo, 0));
}

TEST_CASE("standard auth: register keys and the DID ciphertext", "[xiaomi_ble][standard_auth]") {
  const auto keys = sa::derive_register_keys(array_of<32>(kShared));
  REQUIRE(keys);
  CHECK(hex_of(keys->token) == "0cf5615003810d89c233a12a");
  CHECK(hex_of(keys->bind_key) == "8fc5100e31299d80c4c290dc7d33f19e");
  CHECK(hex_of(keys->a) == "c42ea48a95c5544f105fe7ebb8b39233");

  const auto info = sa::parse_remote_info(hex(kRemoteInfo));
  REQUIRE(info);
  CHECK(hex_of(info->prefix) == "01000000");
  CHECK(info->did_text == "blt.4.18n58266kgg00");
  const auto ciphertext = sa::encrypt_did(keys->a, info->did);
  REQUIRE(ciphertext);
  CHECK(to_hex(*ciphertext) == kDidCiphertext);
  CHECK_FALSE(sa::encrypt_did(keys->a, ByteView(info->did).first(19)));
}

TEST_CASE("standard auth: remote info must be 24 bytes", "[xiaomi_ble][standard_auth]") {
  const Bytes full = hex(kRemoteInfo);
  for (std::size_t size = 0; size < full.size(); ++size) {
    CAPTURE(size);
    CHECK_FALSE(sa::parse_remote_info(ByteView(full).first(size)));
  }
  Bytes longer = full;
  longer.push_back(0);
  CHECK_FALSE(sa::parse_remote_info(longer));
}

TEST_CASE("standard auth: login keys and HMACs", "[xiaomi_ble][standard_auth]") {
  const auto ra = array_of<16>(kAppRandom);
  const auto rd = array_of<16>(kDeviceRandom);
  const auto keys = sa::derive_login_keys(array_of<12>(kToken), ra, rd);
  REQUIRE(keys);
  CHECK(hex_of(keys->dev_key) == "3c2fdae69f8746663a7d91029724b072");
  CHECK(hex_of(keys->app_key) == "12a4122dbe3cf60f3bdcb37139c34611");
  CHECK(hex_of(keys->dev_iv) == "cd016050");
  CHECK(hex_of(keys->app_iv) == "c87de6f1");
  const auto ours = sa::app_info(*keys, ra, rd);
  REQUIRE(ours);
  CHECK(hex_of(*ours) == "bbb99b6a6f1ae419e3b13db93514f3e12a1843033f276392eea99068affca753");
  const auto theirs = sa::device_info(*keys, ra, rd);
  REQUIRE(theirs);
  CHECK(hex_of(*theirs) == "471467ea7ed6064f8dd72f416c079dcb3bb78e3c94a51e97b98ef7623a7798e5");

  const Bytes received = hex("471467ea7ed6064f8dd72f416c079dcb3bb78e3c94a51e97b98ef7623a7798e5");
  CHECK(sa::check_device_info(*keys, ra, rd, received));
  for (std::size_t i = 0; i < received.size(); ++i) {
    Bytes altered = received;
    altered[i] ^= 0x80;
    CAPTURE(i);
    CHECK_FALSE(sa::check_device_info(*keys, ra, rd, altered));
  }
  CHECK_FALSE(sa::check_device_info(*keys, ra, rd, ByteView(received).first(31)));
  // A different token gives different keys: the device info no longer checks out.
  auto wrong_token = array_of<12>(kToken);
  wrong_token[0] ^= 1;
  const auto wrong = sa::derive_login_keys(wrong_token, ra, rd);
  REQUIRE(wrong);
  CHECK_FALSE(sa::check_device_info(*wrong, ra, rd, received));
}

TEST_CASE("standard auth: HMAC-SHA256 (RFC 4231 test case 2)", "[xiaomi_ble][standard_auth]") {
  const auto mac = sa::hmac_sha256(as_bytes("Jefe"), as_bytes("what do ya want for nothing?"));
  REQUIRE(mac);
  CHECK(hex_of(*mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("standard auth: session messages", "[xiaomi_ble][standard_auth]") {
  const auto keys = sa::derive_login_keys(array_of<12>(kToken), array_of<16>(kAppRandom), array_of<16>(kDeviceRandom));
  REQUIRE(keys);
  CHECK(hex_of(sa::session_nonce(keys->app_iv, 0x01020304)) == "c87de6f10000000004030201");
  const Bytes plaintext = hex("55aa032001100e");
  const auto sealed = sa::encrypt_session_message(keys->app_key, keys->app_iv, 7, plaintext);
  REQUIRE(sealed);
  CHECK(sealed->size() == plaintext.size() + 4);
  const auto opened = sa::decrypt_session_message(keys->app_key, keys->app_iv, 7, *sealed);
  REQUIRE(opened);
  CHECK(*opened == plaintext);
  // Wrong counter, wrong direction's key, altered byte: all refused as authentication failures.
  auto refused = sa::decrypt_session_message(keys->app_key, keys->app_iv, 8, *sealed);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == ErrorKind::authentication);
  CHECK_FALSE(sa::decrypt_session_message(keys->dev_key, keys->dev_iv, 7, *sealed));
  Bytes altered = *sealed;
  altered[0] ^= 1;
  CHECK_FALSE(sa::decrypt_session_message(keys->app_key, keys->app_iv, 7, altered));
  for (std::size_t size = 0; size < 4; ++size) {
    CAPTURE(size);
    refused = sa::decrypt_session_message(keys->app_key, keys->app_iv, 7, ByteView(*sealed).first(size));
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == ErrorKind::malformed);
  }
}

TEST_CASE("standard auth: AVDTP headers and control messages", "[xiaomi_ble][standard_auth]") {
  CHECK(to_hex(sa::encode_header(sa::kTypePublicKey, 4)) == "000000030400");
  CHECK(to_hex(sa::encode_header(sa::kTypeDid, 2)) == "000000000200");
  CHECK(to_hex(sa::encode_header(sa::kTypeAppRandom, 1)) == "0000000b0100");
  CHECK(to_hex(sa::encode_header(0x0a, 0x0102)) == "0000000a0201");
  const auto header = sa::parse_header(hex("0000000d0100"));
  REQUIRE(header);
  CHECK(header->type == sa::kTypeDeviceRandom);
  CHECK(header->frames == 1);
  CHECK_FALSE(sa::parse_header(hex("0000000d01")));
  CHECK_FALSE(sa::parse_header(hex("0000000d010000")));
  CHECK_FALSE(sa::parse_header(hex("0000010d0100")));

  CHECK(to_hex(sa::encode_control(sa::Control::ready)) == "00000101");
  CHECK(to_hex(sa::encode_control(sa::Control::ok)) == "00000100");
  CHECK(to_hex(sa::encode_control(sa::Control::timeout)) == "000001050100");
  CHECK(to_hex(sa::encode_control(sa::Control::error)) == "000001050300");
  for (const auto control : {sa::Control::ready, sa::Control::ok, sa::Control::timeout, sa::Control::error}) {
    CAPTURE(sa::control_name(control));
    CHECK(sa::parse_control(sa::encode_control(control)) == control);
    const auto message = sa::parse_avdtp(sa::encode_control(control));
    REQUIRE(message);
    CHECK(message->kind == sa::AvdtpMessage::Kind::control);
    CHECK(message->control == control);
  }
  CHECK_FALSE(sa::parse_control(hex("000001")));
  CHECK_FALSE(sa::parse_control(hex("0000010100")));
  CHECK_FALSE(sa::parse_control(hex("000001050200")));
  CHECK_FALSE(sa::parse_avdtp(hex("000001050200")));
  CHECK_FALSE(sa::parse_avdtp(hex("000002")));
  CHECK_FALSE(sa::parse_avdtp(hex("0000")));
  CHECK_FALSE(sa::parse_avdtp({}));

  auto message = sa::parse_avdtp(hex("000000030400"));
  REQUIRE(message);
  CHECK(message->kind == sa::AvdtpMessage::Kind::header);
  CHECK(message->header.frames == 4);
  message = sa::parse_avdtp(hex("0200aabb"));
  REQUIRE(message);
  CHECK(message->kind == sa::AvdtpMessage::Kind::frame);
  CHECK(message->index == 2);
  CHECK(to_hex(message->payload) == "aabb");
}

TEST_CASE("standard auth: frames of 18 bytes, indexed from 1", "[xiaomi_ble][standard_auth]") {
  const auto public_key = hex(kDevicePublicKey);
  const auto frames = sa::split_frames(public_key);
  REQUIRE(frames.size() == 4);  // 64 bytes = 18 + 18 + 18 + 10
  CHECK(sa::frame_count(64) == 4);
  CHECK(sa::frame_count(24) == 2);
  CHECK(sa::frame_count(16) == 1);
  CHECK(sa::frame_count(32) == 2);
  CHECK(sa::frame_count(0) == 0);
  CHECK(to_hex(frames[0]) == "0100" + to_hex(ByteView(public_key).first(18)));
  CHECK(to_hex(frames[3]) == "0400" + to_hex(ByteView(public_key).subspan(54)));
  CHECK(frames[3].size() == 12);
  CHECK(sa::split_frames({}).empty());

  // Reassembled in any order, the data comes back.
  sa::FrameReassembler reassembler;
  REQUIRE(reassembler.start(4));
  for (const std::size_t i : {2u, 0u, 3u}) {
    const auto status = reassembler.add(frames[i]);
    REQUIRE(status);
    CHECK(*status == sa::FrameReassembler::Status::more);
    CHECK(reassembler.assemble().empty());
  }
  const auto status = reassembler.add(frames[1]);
  REQUIRE(status);
  CHECK(*status == sa::FrameReassembler::Status::complete);
  CHECK(reassembler.assemble() == public_key);
}

TEST_CASE("standard auth: the reassembler refuses wrong frames", "[xiaomi_ble][standard_auth]") {
  sa::FrameReassembler reassembler(40);
  CHECK_FALSE(reassembler.add(hex("0100aa")));  // no transfer announced
  CHECK_FALSE(reassembler.start(0));            // zero frames
  CHECK_FALSE(reassembler.start(41));           // cannot fit under 40 bytes
  REQUIRE(reassembler.start(3));
  CHECK_FALSE(reassembler.add(hex("0000aa")));  // index 0
  CHECK_FALSE(reassembler.add(hex("0400aa")));  // beyond the announced 3
  CHECK_FALSE(reassembler.add(hex("ffffaa")));
  CHECK_FALSE(reassembler.add(hex("0100")));    // no data
  CHECK_FALSE(reassembler.add(hex("01")));
  REQUIRE(reassembler.add(Bytes{0x01, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}));
  CHECK_FALSE(reassembler.add(hex("0100aa")));  // duplicate
  REQUIRE(reassembler.add(Bytes{0x02, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}));
  // 36 bytes so far: five more would exceed 40.
  CHECK_FALSE(reassembler.add(Bytes{0x03, 0x00, 1, 2, 3, 4, 5}));
  CHECK_FALSE(reassembler.complete());
  const auto last = reassembler.add(Bytes{0x03, 0x00, 1, 2, 3, 4});  // exactly 40
  REQUIRE(last);
  CHECK(*last == sa::FrameReassembler::Status::complete);
  CHECK(reassembler.assemble().size() == 40);
  CHECK_FALSE(reassembler.add(hex("0300aa")));  // after completion: still a duplicate
  // A new header starts over.
  REQUIRE(reassembler.start(1));
  CHECK(reassembler.assemble().empty());
  REQUIRE(reassembler.add(hex("0100aa")));
  CHECK(to_hex(reassembler.assemble()) == "aa");
}

TEST_CASE("standard auth: UPNP commands and results", "[xiaomi_ble][standard_auth]") {
  CHECK(to_hex(sa::kCmdGetInfo) == "a2000000");
  CHECK(to_hex(sa::kCmdSetKey) == "15000000");
  CHECK(to_hex(sa::kCmdAuth) == "13000000");
  CHECK(to_hex(sa::kCmdLogin) == "24000000");
  struct Row {
    const char* value;
    sa::UpnpStatus status;
  };
  const Row rows[] = {
      {"11000000", sa::UpnpStatus::register_ok}, {"12000000", sa::UpnpStatus::register_failed},
      {"21000000", sa::UpnpStatus::login_ok},    {"23000000", sa::UpnpStatus::login_failed},
      {"e0000000", sa::UpnpStatus::error},       {"e1000000", sa::UpnpStatus::error},
      {"e2000000", sa::UpnpStatus::error},       {"e3000000", sa::UpnpStatus::error},
      {"e4000000", sa::UpnpStatus::unknown},     {"11000001", sa::UpnpStatus::unknown},
      {"110000", sa::UpnpStatus::unknown},       {"1100000000", sa::UpnpStatus::unknown},
      {"", sa::UpnpStatus::unknown},             {"a2000000", sa::UpnpStatus::unknown},
  };
  for (const Row& row : rows) {
    CAPTURE(row.value);
    const auto result = sa::classify_upnp(hex(row.value));
    CHECK(result.status == row.status);
    CHECK(result.code == row.value);
  }
  CHECK(sa::upnp_status_name(sa::UpnpStatus::login_failed) == "login_failed");
}
