// miIO packet codec: published vectors, hello replies, every corruption and every truncation.
//
// Vectors come from docs/miio.md §6 (all re-verified there with python hashlib/cryptography and
// python3-miio 0.5.0.1); each table row names its source. Tokens are the public test tokens of those
// sources, never a live device's.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "protocols/common/bytes.h"
#include "protocols/common/crypto.h"
#include "protocols/miio/packet.h"
#include "tests/unit/test_support.h"

using namespace cloudless;
using namespace cloudless::miio;
using cloudless::test::hex;

namespace {

Token token_of(std::string_view text) {
  const std::optional<Token> token = parse_token(text);
  REQUIRE(token.has_value());
  return *token;
}

std::string hex_of(const std::array<std::uint8_t, 16>& bytes) { return to_hex(bytes); }

// §6.1 key/IV table: key = MD5(token), IV = MD5(key ‖ token).
struct KeyIvRow {
  const char* token;
  const char* key;
  const char* iv;
};
constexpr KeyIvRow kKeyIvTable[] = {
    {"00000000000000000000000000000000", "4ae71336e44bf9bf79d2752e234818a5", "1e38275872be38346a6f072771a7f58b"},
    {"ffffffffffffffffffffffffffffffff", "8d79cbc9a4ecdde112fc91ba625b13c2", "927ad18b27bdfec445e2e7ac1ed728f1"},
    {"00112233445566778899aabbccddeeff", "6e8311168ee16d6aa1aa48c64145003c", "6f434fa9acd75da73e5fb999f641cda2"},
    {"5d3a2f018c90097a850558c35c953b77", "162dc6850be4f1d41465cff86d27aebf", "4df7fc4877c35356abec6bc15a171f9d"},
    {"3c92df7588021efbcd6bd55c9147bed0", "8b29216f6cc2d11da1d6eda2e342b45c", "3b4cb1cc03937ec7d1d5c9884f792653"},
    {"9c3b2d1da5beceee2808a3d3653b485d", "5bd1b6d9525ef5220600414d08e035f7", "0a513932aa181a684da8566cf8d62125"},
};

// Requests whose inputs are known: rebuilt byte-exact from (token, did, stamp, plaintext).
struct RequestVector {
  const char* source;
  const char* token;
  std::uint32_t did;
  std::uint32_t stamp;
  std::string_view plaintext;  // string_view: §6.7 #2 ends in a NUL byte
  const char* packet;
};
using namespace std::string_view_literals;
const RequestVector kRequests[] = {
    // §6.2 sergey-brutsky/mi-home MiioPacketTests.cs, real zhimi.humidifier.v1; stamp reused from its hello.
    {"6.2 mi-home set_power", "5d3a2f018c90097a850558c35c953b77", 0x0404a850, 0x002e5873,
     R"({"id": 1, "method": "set_power", "params": ["on"]})"sv,
     "21310060000000000404a850002e58734a31baf3a300c3bb4179fe1b910bd69d2fa405db0b664dc87c543b16c63c69e5429f4825298687"
     "cf6194c23fdb0fbed9ed7846dbd1dd4e258218e3f922b632c3ee62af7240530a0757d9d5ec8febcd7b"},
    // §6.3 eip/miio2mqtt packet_test.go, uptime stamp 111h22m33s.
    {"6.3 miio2mqtt miIO.info", "00112233445566778899aabbccddeeff", 0x00112233, 0x00061e39,
     R"({"method":"miIO.info","params":[],"id":123})"sv,
     "21310050000000000011223300061e39bc379b48c96b52ffd80dcbd9153594d12f42719f20d1969cd734b11bee043ad5a740d19c6e38ff"
     "8438a641c565d7b6f68c0c7008b88bc6869531a7ceac7818e2"},
    // §6.3 miio2mqtt: 19-byte binary payload "123456789@ABCDEFGHI".
    {"6.3 miio2mqtt binary", "00112233445566778899aabbccddeeff", 0x00112233, 0x00061e39, "123456789@ABCDEFGHI"sv,
     "21310040000000000011223300061e39b0cbb8837ed9a65a70165f2b7b4102722b487e7eed802b7df35c224caab8d216e43262c38b9cc0"
     "73782c148668387d9e"},
    // §6.3 miio2mqtt real Mi Home capture (zhimi.airmonitor.v1-like), request get_prop.
    {"6.3 capture get_prop", "9c3b2d1da5beceee2808a3d3653b485d", 0x047bd1b5, 0x002feede,
     R"({"id":1,"method":"get_prop","params":["power","usb_state","aqi","battery","time_state","night_state"]})"sv,
     "2131009000000000047bd1b5002feede54a30263b7b2015db6bdc3e7d5bf6853b952275b1e1fd9ed283c5ad34120d6982ccee490f577"
     "4502ee2833ecf7c8c178c01cb9250ee22edc72296cb393a9815dcb4c69e968271a25004626ead4c7abdd0332ddbccc48749ff1ddfe76"
     "5439a06f6084ebdcca2ae9caeb2e755daaa5f3161cee3147f75a0f6ba4a127f89eb75eaa"},
    // §6.3 same capture, miIO.info with a wall-clock stamp (2020-09-05).
    {"6.3 capture miIO.info", "9c3b2d1da5beceee2808a3d3653b485d", 0x047bd1b5, 0x5f53ee9b,
     R"({"method":"miIO.info","params":[],"id":1})"sv,
     "2131005000000000047bd1b55f53ee9bf0a2b109a80c902f0b55e5250e58f2cc95b21c4012d699586153e51f42d68c2ccdbb07b14326"
     "761acbe820ce8786ff4da71ff844841f7aee0c2b10c844b45245"},
    // §6.4 Kotlin ru.wtrn.miio.PacketTest / Rust packets.rs, did 133525349, stamp 70633.
    {"6.4 kotlin miIO.info", "3c92df7588021efbcd6bd55c9147bed0", 0x07f56f65, 0x000113e9,
     R"({"method":"miIO.info","params":[],"id":70633})"sv,
     "213100500000000007f56f65000113e95424d99f4f6f0e89fb5c5d54e79e2c413083a0b3cebdbe3b2813dd94f20e5247acf3e9f86e51"
     "ed9f95caa50ffa1f899d3026f0fcfae93a52dbdc4fc088a54205"},
    // §6.7 #2, generated: python-miio serialization (", " / ": ") plus one NUL, as Message.build does.
    {"6.7#2 python-miio style", "00112233445566778899aabbccddeeff", 0x0badcafe, 0x3e9,
     "{\"id\": 1, \"method\": \"miIO.info\", \"params\": []}\0"sv,
     "21310050000000000badcafe000003e9f990b99028ee45dc23a150aac75215c72a36b2b7afa85bd6a9f1ed82b485a3d6c2c13a12855c"
     "97fc9a0bd7be55469c61b5393611ac2c922588d969ad8c226bde"},
    // §6.7 #3, generated: compact get_prop.
    {"6.7#3 get_prop", "00112233445566778899aabbccddeeff", 0x0badcafe, 0x3e9,
     R"({"id":2,"method":"get_prop","params":["power","temperature"]})"sv,
     "21310060000000000badcafe000003e9ac45fabf8560aacd15bd1014c40e68a80efba9576571a58d5364c7399a86a7151976572b04ff"
     "f1ad0d3bea41c5b536ca55f86256ddfc59a8d325f63678448a1efc7152590cf05c853cfb608919588ade"},
    // §6.7 #5, generated: MIoT get_properties.
    {"6.7#5 get_properties", "00112233445566778899aabbccddeeff", 0x0badcafe, 0x3eb,
     R"({"id":3,"method":"get_properties","params":[{"did":"power","siid":2,"piid":1},{"did":"electric_power","siid":5,"piid":6}]})"sv,
     "213100a0000000000badcafe000003eb2006433bd1905c9fab648150ea85a9b532f4c16366aab75dd54330d804aeb9b08789dd2db0d0"
     "9ae81ffbbf788b9d1bad5b031143c9b8802318036048d1ca6cdd790a8e8f594984fdaf4b53454e7000eaf9c0cc73703ec220099c7530"
     "945f2420d4163beed773c7f891adeae8f53918e8c188b850be6cbe74b2196b541a07ff26e511b114af62050ea5e4749a9f850d7f"},
    // §6.7 #7, generated: MIoT set_properties.
    {"6.7#7 set_properties", "00112233445566778899aabbccddeeff", 0x0badcafe, 0x3ed,
     R"({"id":4,"method":"set_properties","params":[{"did":"power","siid":2,"piid":1,"value":false}]})"sv,
     "21310080000000000badcafe000003ed4f64ea59ded89dd201d5d743758c1e3a00ba291662e7912e39f12bc7e2ddf2aa8c7c389cde67"
     "e01cf137030710711f31b1835f45b470ff3117529c8b4175b589e294d9f4844ee3978bac8ee45db1a0407dfdcc0ae3bc8d2fee766ffb"
     "fe5e177fcde6b3f36b30d6648bd1126589a240aa"},
};

// Device replies (and python-miio test packets): decrypted payload, trailing NULs stripped.
struct ReplyVector {
  const char* source;
  const char* token;
  std::uint32_t did;
  std::uint32_t stamp;
  std::string_view payload;
  const char* packet;
};
const ReplyVector kReplies[] = {
    // §6.2 mi-home: real zhimi.humidifier.v1 reply, no trailing NUL.
    {"6.2 mi-home reply", "5d3a2f018c90097a850558c35c953b77", 0x0404a850, 0x002e5b83, R"({"result":["ok"],"id":1})"sv,
     "21310040000000000404a850002e5b830afd260f87e33eed4788eb2c5f1b0237da93c178df54ec4a95ee3e952f5c8a73a0d9ad1a8fec93"
     "4087977f497a8f7eb5"},
    // §6.3 miio2mqtt real capture reply.
    {"6.3 capture reply", "9c3b2d1da5beceee2808a3d3653b485d", 0x047bd1b5, 0x002feede,
     R"({"result":["on","on",4,100,"off","on"],"id":1})"sv,
     "2131005000000000047bd1b5002feedece53f7b9e63ae50c3fc22fac87cc3ee7053510f79d4e36f4ff504d8da4391c467b067c3d5a777a"
     "ca3ed402f9009821176bc6bffeb40994d5e6889e48836d54a6"},
    // §6.6 python-miio test_protocol.py inputs (token 16×00, did 01234567, stamp 0), hex computed for docs/miio.md.
    {"6.6 plain", "00000000000000000000000000000000", 0x01234567, 0, R"({"id": 123456})"sv,
     "21310030000000000123456700000000dbcfd26369cf65a172b5737cc131f6de754865dce4359d961e1bfee48e12817e"},
    {"6.6 otu_stat quirk", "00000000000000000000000000000000", 0x01234567, 0, R"({"id": 123456,,"otu_stat":0})"sv,
     "213100400000000001234567000000004a81f939e5b701fdb6f54fd1c648d05686a6b5a0fdd19405ef0d8af3cadf31c9c860bc08af01"
     "cb81dd82a64069139320"},
    // Only *trailing* NULs are stripped by the packet layer; the NUL inside stays for rpc's repair 3.
    {"6.6 NUL quirk", "00000000000000000000000000000000", 0x01234567, 0, "{\"id\": 123456}\0k"sv,
     "21310040000000000123456700000000aa3fe2fa57d5a869dd83d647d20253177da8b20fe07cf5a57f768eff02176097e46c7753459d"
     "f31bb05b6485932c2e7b"},
    {"6.6 result quirk", "00000000000000000000000000000000", 0x01234567, 0, R"({"id":2,"result":,"exe_time":0})"sv,
     "2131004000000000012345670000000093788c99bbce43b0249e11970fcf80771ceb318d072db59f133ca49e12fc51aa67c54763d69e"
     "33662a5d2e7b2441a2a2"},
    {"6.6 unterminated", "00000000000000000000000000000000", 0x01234567, 0, R"({"id": 123456,,"otu_stat":0)"sv,
     "213100400000000001234567000000009e7d13aa47e08d9c08f62cf193a5d53386a6b5a0fdd19405ef0d8af3cadf31c978eb8cfbf605"
     "188c5f5a5ea470f45c02"},
    // §6.7 #4, #6, #8, #9, generated and parsed back by python3-miio.
    {"6.7#4 get_prop reply", "00112233445566778899aabbccddeeff", 0x0badcafe, 0x3ea, R"({"result":["on",32],"id":2})"sv,
     "21310040000000000badcafe000003ea89f4870cf05f6b30cde9adb229e3bea53a1c4c3232e9f73a35b3e09fc71d8cc43c8084b1d8fc"
     "f1c74911ca06b7f93c47"},
    {"6.7#6 get_properties reply", "00112233445566778899aabbccddeeff", 0x0badcafe, 0x3ec,
     R"({"id":3,"result":[{"did":"power","siid":2,"piid":1,"code":0,"value":true},{"did":"electric_power","siid":5,"piid":6,"code":0,"value":1500}],"exe_time":40})"sv,
     "213100c0000000000badcafe000003ec6a02e70a7073d1fbb52dcd5cdf36fe237c2d453eb9d4279c3dca4dff0d5c5adf43e9c9c3d5b7"
     "4fabe01086ed5385396be09b73b48a096ec48fc3869f67e8cb30335a04d2540b244ab9e4153fb1b15bfd179d4e0f938e2e98026c5233"
     "55908e0ba5a4cb3e59a310995538539572295ef288dd8889ad4fe0ac2123ac2a5a1c3940bfc4eeceaaf2ec74abfda9d43f75bf24851a"
     "8704edeb82ee203167f0b6e86f21d64f6a55239df3513afc0f172d77b66a"},
    {"6.7#8 set_properties reply", "00112233445566778899aabbccddeeff", 0x0badcafe, 0x3ee,
     R"({"id":4,"result":[{"did":"power","siid":2,"piid":1,"code":0}],"exe_time":60})"sv,
     "21310070000000000badcafe000003eeec85671fa4383051400a61c8ad62deef355c57157efbb32717182171a710154b7a360e6ac926"
     "3f7608619b9b48282ca8d0d6b8bf27c29fc9b2ed5319427c83852e103a6d2e5764c130586e4b216584e7852a8441cf1159217dc29a39"
     "7e6a93b1"},
    {"6.7#9 error reply", "00112233445566778899aabbccddeeff", 0x0badcafe, 0x3ef,
     R"({"id":5,"error":{"code":-32601,"message":"Method not found."}})"sv,
     "21310060000000000badcafe000003efbfc07ba7c162b8216d1ac8a9dbfb71e3adb5231c6931bbb04cd49ebd7f2a5ec6775950b72ca9"
     "598e7bf73ae870488e06fcb62653349c701dd7718f975a1abd0e85b110de081fbf48c0efb54c7b7baeb6"},
};

// Hello replies (docs/miio.md §1.2, §6.5): the 16 bytes in the checksum slot are a token or hidden.
struct HelloVector {
  const char* source;
  const char* packet;
  std::uint32_t did;
  std::uint32_t stamp;
  const char* token;  // nullptr: hidden (16×00 or 16×ff)
};
const HelloVector kHellos[] = {
    // §6.2 mi-home, zhimi.humidifier.v1 exposes its token.
    {"6.2 humidifier", "21310020000000000404a850002e58735d3a2f018c90097a850558c35c953b77", 0x0404a850, 0x002e5873,
     "5d3a2f018c90097a850558c35c953b77"},
    // §6.3 miio2mqtt "Handshake Packet New": provisioned, 16×ff.
    {"6.3 provisioned ff", "2131002000000000102695f0000b7567ffffffffffffffffffffffffffffffff", 0x102695f0, 0x000b7567,
     nullptr},
    // §6.5 and §S1, chuangmi.plug.hmi206 after setup: 16×00.
    {"6.5 hmi206 zeros", "21310020000000000e2544880000027000000000000000000000000000000000", 0x0e254488, 0x00000270,
     nullptr},
    // §6.5 and §S1, same hmi206 earlier: 16×ff.
    {"6.5 hmi206 ff", "21310020000000000e254488000003a3ffffffffffffffffffffffffffffffff", 0x0e254488, 0x000003a3,
     nullptr},
    // §6.5 aholstenson/miio#92, old vacuum with a 16-character ASCII token "qErw7i2UZYsOtIzs".
    {"6.5 vacuum ascii", "213100200000000005a8d7d7000004bd71457277376932555a59734f74497a73", 0x05a8d7d7, 0x000004bd,
     "71457277376932555a59734f74497a73"},
    // §6.7 #1, generated: unprovisioned and provisioned variants.
    {"6.7#1 unprovisioned", "21310020000000000badcafe000003e800112233445566778899aabbccddeeff", 0x0badcafe, 0x3e8,
     "00112233445566778899aabbccddeeff"},
    {"6.7#1 ff", "21310020000000000badcafe000003e8ffffffffffffffffffffffffffffffff", 0x0badcafe, 0x3e8, nullptr},
    {"6.7#1 zeros", "21310020000000000badcafe000003e800000000000000000000000000000000", 0x0badcafe, 0x3e8, nullptr},
};

// A packet whose checksum is right but whose PKCS#7 padding is not: encrypt 16 bytes (ciphertext
// = 2 blocks, the second one all padding), keep only the first block and re-checksum it. The
// decrypted block then ends in `last_byte`, which is read as the pad length.
Bytes single_block_packet(const Token& token, std::uint8_t last_byte) {
  Bytes plaintext(16, 'x');
  plaintext.back() = last_byte;
  const KeyIv key_iv = derive_key_iv(token);
  const std::optional<Bytes> ciphertext = crypto::aes128_cbc_encrypt(key_iv.key, key_iv.iv, plaintext);
  REQUIRE(ciphertext.has_value());
  REQUIRE(ciphertext->size() == 32);
  Bytes packet = hex("213100300000000001020304000000aa");
  const crypto::Md5Digest checksum = crypto::md5(packet, token, ByteView(*ciphertext).first(16));
  packet.insert(packet.end(), checksum.begin(), checksum.end());
  packet.insert(packet.end(), ciphertext->begin(), ciphertext->begin() + 16);
  return packet;
}

}  // namespace

TEST_CASE("miio: parse_token accepts exactly 32 hex digits", "[miio][packet]") {
  const std::optional<Token> token = parse_token("00112233445566778899AABBCCDDEEFF");
  REQUIRE(token.has_value());
  CHECK(to_hex(*token) == "00112233445566778899aabbccddeeff");
  CHECK_FALSE(parse_token(""));
  CHECK_FALSE(parse_token("00112233445566778899aabbccddeef"));    // 31
  CHECK_FALSE(parse_token("00112233445566778899aabbccddeeff0"));  // 33
  CHECK_FALSE(parse_token("0011223344556677889900aabbccddeeff")); // 34
  CHECK_FALSE(parse_token("00112233445566778899aabbccddeefg"));   // not hex
}

TEST_CASE("miio: key and IV derivation (docs/miio.md §6.1 table)", "[miio][packet]") {
  for (const KeyIvRow& row : kKeyIvTable) {
    CAPTURE(row.token);
    const KeyIv key_iv = derive_key_iv(token_of(row.token));
    CHECK(hex_of(key_iv.key) == row.key);
    CHECK(hex_of(key_iv.iv) == row.iv);
  }
}

TEST_CASE("miio: checksum-only vector (docs/miio.md §6.3, miio2mqtt)", "[miio][packet]") {
  // MD5(header16 ‖ token ‖ 19 plain bytes): the checksum definition without encryption.
  const crypto::Md5Digest digest = crypto::md5(hex("21310033000000000011223300061e39"),
                                               token_of("00112233445566778899aabbccddeeff"),
                                               hex("31323334353637383940414243444546474849"));
  CHECK(to_hex(digest) == "dde071b5fa151be6c62a50d0274568f3");
}

TEST_CASE("miio: requests are rebuilt byte-exact", "[miio][packet]") {
  for (const RequestVector& vector : kRequests) {
    CAPTURE(vector.source);
    const Bytes packet = encode_message(token_of(vector.token), vector.did, vector.stamp, as_bytes(vector.plaintext));
    CHECK(to_hex(packet) == vector.packet);

    // And they decode back: the packet layer strips the python-miio NUL.
    const auto decoded = decode_message(token_of(vector.token), hex(vector.packet));
    REQUIRE(decoded.has_value());
    std::string_view expected = vector.plaintext;
    while (!expected.empty() && expected.back() == '\0') expected.remove_suffix(1);
    CHECK(decoded->payload == expected);
    CHECK(decoded->header.device_id == vector.did);
    CHECK(decoded->header.stamp == vector.stamp);
    CHECK(decoded->header.reserved == 0);
    CHECK(decoded->header.length == packet.size());
  }
}

TEST_CASE("miio: every reply vector decrypts", "[miio][packet]") {
  for (const ReplyVector& vector : kReplies) {
    CAPTURE(vector.source);
    const Bytes packet = hex(vector.packet);
    const auto decoded = decode_message(token_of(vector.token), packet);
    REQUIRE(decoded.has_value());
    CHECK(decoded->payload == vector.payload);
    CHECK(decoded->header.device_id == vector.did);
    CHECK(decoded->header.stamp == vector.stamp);
    CHECK(decoded->header.length == packet.size());
    CHECK(to_hex(decoded->header.checksum) == to_hex(ByteView(packet).subspan(16, 16)));
  }
}

TEST_CASE("miio: a reply under another token is an authentication error", "[miio][packet]") {
  // §6.7 #4 decoded with §6.2's token: the usual "wrong token" case of docs/miio.md §2.6.
  const auto decoded = decode_message(token_of("5d3a2f018c90097a850558c35c953b77"), hex(kReplies[7].packet));
  REQUIRE_FALSE(decoded.has_value());
  CHECK(decoded.error().kind == ErrorKind::authentication);
  CHECK(decoded.error().what == "checksum mismatch: wrong token?");
  CHECK(decoded.error().offset == 16);
}

TEST_CASE("miio: hello request", "[miio][packet]") {
  // docs/miio.md §1.2: exactly 2131 0020 and 28×ff.
  const Bytes hello = encode_hello_request();
  CHECK(to_hex(hello) == "21310020ffffffffffffffffffffffffffffffffffffffffffffffffffffffff");

  // It parses as a header (did and stamp ffffffff, as python3-miio shows) ...
  const auto header = parse_header(hello);
  REQUIRE(header.has_value());
  CHECK(header->length == 32);
  CHECK(header->reserved == 0xffffffff);
  CHECK(header->device_id == 0xffffffff);
  CHECK(header->stamp == 0xffffffff);

  // ... but is neither a hello reply nor a message.
  const auto reply = parse_hello_reply(hello);
  REQUIRE_FALSE(reply.has_value());
  CHECK(reply.error().what == "hello request, not a hello reply (reserved and did are 0xffffffff)");
  CHECK(reply.error().offset == 4);
  CHECK_FALSE(decode_message(Token{}, hello).has_value());
}

TEST_CASE("miio: hello replies reveal or hide the token", "[miio][packet]") {
  for (const HelloVector& vector : kHellos) {
    CAPTURE(vector.source);
    const Bytes packet = hex(vector.packet);
    const auto reply = parse_hello_reply(packet);
    REQUIRE(reply.has_value());
    CHECK(reply->device_id == vector.did);
    CHECK(reply->stamp == vector.stamp);
    if (vector.token == nullptr) {
      CHECK_FALSE(reply->token.has_value());
    } else {
      REQUIRE(reply->token.has_value());
      CHECK(to_hex(*reply->token) == vector.token);
    }

    // encode_hello_reply is the exact inverse.
    std::array<std::uint8_t, 16> slot{};
    std::copy(packet.begin() + 16, packet.end(), slot.begin());
    CHECK(encode_hello_reply(vector.did, vector.stamp, slot) == packet);

    // A hello carries no MD5 and no payload: decode_message refuses it instead of checksumming.
    const auto message = decode_message(Token{}, packet);
    REQUIRE_FALSE(message.has_value());
    CHECK(message.error().kind == ErrorKind::malformed);
    CHECK(message.error().what == "hello packet has no payload to decode");
  }
}

TEST_CASE("miio: a mixed 00/ff slot is offered as a token", "[miio][packet]") {
  // Only the exact placeholders 16×00 and 16×ff mean "hidden" (packet.h); anything else is what the
  // device claims as its token, which the session may try.
  std::array<std::uint8_t, 16> slot{};
  slot.fill(0xff);
  slot[15] = 0x00;
  const auto reply = parse_hello_reply(encode_hello_reply(1, 2, slot));
  REQUIRE(reply.has_value());
  CHECK(reply->token.has_value());
}

TEST_CASE("miio: a hello reply must be 32 bytes with reserved 0", "[miio][packet]") {
  // A 48-byte message is not a hello.
  const auto not_hello = parse_hello_reply(hex(kReplies[0].packet));
  REQUIRE_FALSE(not_hello.has_value());
  CHECK(not_hello.error().what == "not a hello reply: length 64 (expected 32)");
  CHECK(not_hello.error().offset == 2);

  // reserved 00000001 (§6.7 #1 header with one bit set).
  const auto reserved = parse_hello_reply(hex("21310020000000010badcafe000003e8ffffffffffffffffffffffffffffffff"));
  REQUIRE_FALSE(reserved.has_value());
  CHECK(reserved.error().what == "reserved field 0x00000001 in a hello reply (expected 0)");
  CHECK(reserved.error().offset == 4);
}

TEST_CASE("miio: empty input", "[miio][packet]") {
  const ByteView empty;
  const auto header = parse_header(empty);
  REQUIRE_FALSE(header.has_value());
  CHECK(header.error().what == "truncated header: 0 of 32 bytes");
  CHECK(header.error().offset == 0);
  CHECK(header.error().kind == ErrorKind::malformed);
  CHECK_FALSE(parse_hello_reply(empty).has_value());
  CHECK_FALSE(decode_message(Token{}, empty).has_value());
}

TEST_CASE("miio: every truncated prefix is rejected", "[miio][packet]") {
  for (const ReplyVector& vector : kReplies) {
    CAPTURE(vector.source);
    const Bytes packet = hex(vector.packet);
    for (std::size_t size = 0; size < packet.size(); ++size) {
      CAPTURE(size);
      const ByteView prefix = ByteView(packet).first(size);
      const auto decoded = decode_message(token_of(vector.token), prefix);
      REQUIRE_FALSE(decoded.has_value());
      CHECK(decoded.error().kind == ErrorKind::malformed);
      CHECK(decoded.error().offset == size);
      if (size < kHeaderSize) {
        CHECK(decoded.error().what == "truncated header: " + std::to_string(size) + " of 32 bytes");
      } else {
        CHECK(decoded.error().what == "truncated packet: length field says " + std::to_string(packet.size()) +
                                          " bytes, datagram has " + std::to_string(size));
      }
      CHECK_FALSE(parse_header(prefix).has_value());
      CHECK_FALSE(parse_hello_reply(prefix).has_value());
    }
  }
  for (const HelloVector& vector : kHellos) {
    CAPTURE(vector.source);
    const Bytes packet = hex(vector.packet);
    for (std::size_t size = 0; size < packet.size(); ++size) {
      CAPTURE(size);
      CHECK_FALSE(parse_hello_reply(ByteView(packet).first(size)).has_value());
    }
  }
}

TEST_CASE("miio: every one-bit flip in a reply is rejected", "[miio][packet]") {
  // Bytes 0..3 (magic, length) are checked structurally → malformed; bytes 4..15 (reserved, did,
  // stamp) are covered by the checksum, as are the checksum and ciphertext → authentication.
  for (const ReplyVector& vector : kReplies) {
    CAPTURE(vector.source);
    const Token token = token_of(vector.token);
    const Bytes packet = hex(vector.packet);
    std::size_t rejected = 0;
    for (std::size_t byte = 0; byte < packet.size(); ++byte) {
      for (int bit = 0; bit < 8; ++bit) {
        Bytes flipped = packet;
        flipped[byte] ^= static_cast<std::uint8_t>(1u << bit);
        const auto decoded = decode_message(token, flipped);
        if (decoded.has_value()) {
          FAIL_CHECK("accepted a flip of bit " << bit << " in byte " << byte);
          continue;
        }
        ++rejected;
        const ErrorKind expected = byte < 4 ? ErrorKind::malformed : ErrorKind::authentication;
        if (decoded.error().kind != expected) {
          FAIL_CHECK("bit " << bit << " of byte " << byte << ": " << decoded.error().describe());
        }
      }
    }
    CHECK(rejected == packet.size() * 8);
  }
}

TEST_CASE("miio: header errors carry precise messages", "[miio][packet]") {
  // §6.3 miio2mqtt negative vectors: 51-byte packets, header + 19 *unencrypted* bytes.
  const std::string body = "000000000011223300061e3900749e5336e40d00b92fe648d67cef1031323334353637383940414243444546474849";

  SECTION("bad magic (miio2mqtt 22310033…)") {
    const auto header = parse_header(hex("22310033" + body));
    REQUIRE_FALSE(header.has_value());
    CHECK(header.error().what == "bad magic 0x2231 (expected 0x2131)");
    CHECK(header.error().offset == 0);
  }
  SECTION("length field one short (miio2mqtt 21310032…)") {
    const auto header = parse_header(hex("21310032" + body));
    REQUIRE_FALSE(header.has_value());
    CHECK(header.error().what == "length field 50 does not match datagram size 51");
    CHECK(header.error().offset == 2);
  }
  SECTION("length field beyond the datagram (miio2mqtt 2131003f…)") {
    const auto header = parse_header(hex("2131003f" + body));
    REQUIRE_FALSE(header.has_value());
    CHECK(header.error().what == "truncated packet: length field says 63 bytes, datagram has 51");
    CHECK(header.error().offset == 51);
  }
  SECTION("consistent length, but 19 is not a multiple of 16 (miio2mqtt wrong-checksum vector)") {
    const auto header = parse_header(hex("21310033" + body));
    REQUIRE_FALSE(header.has_value());
    CHECK(header.error().what == "payload length 19 is not a multiple of 16 (AES block)");
    CHECK(header.error().offset == 2);
    CHECK_FALSE(decode_message(token_of("00112233445566778899aabbccddeeff"), hex("21310033" + body)).has_value());
  }
  SECTION("oversize: trailing bytes after the length the header claims") {
    Bytes packet = hex(kReplies[0].packet);
    packet.push_back(0);
    const auto decoded = decode_message(token_of(kReplies[0].token), packet);
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error().what == "length field 64 does not match datagram size 65");
    CHECK(decoded.error().kind == ErrorKind::malformed);
  }
  SECTION("length field below the header size") {
    Bytes packet = hex(kHellos[0].packet);
    packet[3] = 0x10;
    const auto header = parse_header(packet);
    REQUIRE_FALSE(header.has_value());
    CHECK(header.error().what == "length field 16 does not match datagram size 32");
  }
  SECTION("every (length - 32) % 16 != 0 from 33 to 47") {
    for (std::size_t length = 33; length < 48; ++length) {
      CAPTURE(length);
      Bytes packet = hex(kHellos[0].packet);
      packet.resize(length, 0);
      packet[3] = static_cast<std::uint8_t>(length);
      const auto header = parse_header(packet);
      REQUIRE_FALSE(header.has_value());
      CHECK(header.error().what ==
            "payload length " + std::to_string(length - 32) + " is not a multiple of 16 (AES block)");
    }
  }
}

TEST_CASE("miio: bad PKCS#7 padding under the right token", "[miio][packet]") {
  const Token token = token_of("00112233445566778899aabbccddeeff");

  SECTION("pad length 0") {
    const Bytes packet = single_block_packet(token, 0x00);
    const auto decoded = decode_message(token, packet);
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error().kind == ErrorKind::malformed);
    CHECK(decoded.error().what == "bad PKCS#7 padding in decrypted payload");
    CHECK(decoded.error().offset == packet.size() - 1);
  }
  SECTION("pad length 17 (more than a block)") {
    CHECK_FALSE(decode_message(token, single_block_packet(token, 0x11)).has_value());
  }
  SECTION("pad length 2 but the byte before is not 2") {
    CHECK_FALSE(decode_message(token, single_block_packet(token, 0x02)).has_value());
  }
  SECTION("control: pad length 1 is valid and strips one byte") {
    const auto decoded = decode_message(token, single_block_packet(token, 0x01));
    REQUIRE(decoded.has_value());
    CHECK(decoded->payload == std::string(15, 'x'));
  }
}

TEST_CASE("miio: encode → decode round trip for payload sizes 0..40", "[miio][packet]") {
  const Token token = token_of("00112233445566778899aabbccddeeff");
  for (std::size_t size = 0; size <= 40; ++size) {
    CAPTURE(size);
    std::string plaintext;
    for (std::size_t i = 0; i < size; ++i) plaintext.push_back(static_cast<char>('a' + i % 26));
    const Bytes packet = encode_message(token, 0x0badcafe, static_cast<std::uint32_t>(1000 + size), as_bytes(plaintext));
    // PKCS#7 always adds 1..16 bytes.
    CHECK(packet.size() == kHeaderSize + (size / 16 + 1) * 16);
    const auto decoded = decode_message(token, packet);
    REQUIRE(decoded.has_value());
    CHECK(decoded->payload == plaintext);
    CHECK(decoded->header.device_id == 0x0badcafe);
    CHECK(decoded->header.stamp == 1000 + size);
    CHECK(decoded->header.reserved == 0);
  }
}

TEST_CASE("miio: only trailing NULs are stripped", "[miio][packet]") {
  const Token token = token_of("00112233445566778899aabbccddeeff");
  const std::string_view plaintext = "a\0b\0\0\0"sv;
  const auto decoded = decode_message(token, encode_message(token, 1, 2, as_bytes(plaintext)));
  REQUIRE(decoded.has_value());
  CHECK(decoded->payload == "a\0b"sv);

  const auto only_nuls = decode_message(token, encode_message(token, 1, 2, as_bytes("\0\0"sv)));
  REQUIRE(only_nuls.has_value());
  CHECK(only_nuls->payload.empty());
}

TEST_CASE("miio: plaintext size limit of the 16-bit length field", "[miio][packet]") {
  const Token token = token_of("00112233445566778899aabbccddeeff");
  const std::string largest(kMaxPlaintext, 'x');
  const Bytes packet = encode_message(token, 1, 2, as_bytes(largest));
  CHECK(packet.size() == 65520);  // 32 + 65488
  const auto decoded = decode_message(token, packet);
  REQUIRE(decoded.has_value());
  CHECK(decoded->payload == largest);

  const std::string too_large(kMaxPlaintext + 1, 'x');
  CHECK(encode_message(token, 1, 2, as_bytes(too_large)).empty());
}
