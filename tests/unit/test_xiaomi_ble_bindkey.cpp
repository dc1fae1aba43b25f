// Bind keys from a captured Mi Home request (protocols/xiaomi_ble/codec/bindkey_capture.h): RC4 from the
// legacy provider, base64 / URL decoding, the docs/ble.md §5.1 vectors, and a bltbind-shaped capture.
//
// The ble_monitor thread (issue #198, docs/ble.md §S1) shows the procedure but no complete capture (its SSEC/DATA are
// redacted), so the bltbind vector below was made for these tests: ssecurity = SHA-256("cloudless
// test ssecurity")[0:16], nonce = a1b2c3d4e5f60718 ‖ 29000000 (4 bytes BE), data = base64 of RC4-
// drop-1024(SHA-256(ssecurity ‖ nonce), JSON) — encrypted by an independent RC4 written out in
// Python (not OpenSSL). The docs/ble.md §5.1 vectors were made the same way.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "protocols/common/bytes.h"
#include "protocols/common/crypto.h"
#include "protocols/xiaomi_ble/codec/bindkey_capture.h"

using namespace cloudless;
using namespace cloudless::xiaomi_ble;

namespace {

std::string text_of(const Bytes& bytes) { return std::string(bytes.begin(), bytes.end()); }

// docs/ble.md §5.1 synthetic vectors.
constexpr const char* kDocsSsecurity = "AAECAwQFBgcICQoLDA0ODw==";  // 00..0f
constexpr const char* kDocsNonce = "AQIDBAUGBwgBuoFA";              // 0102030405060708 01ba8140
constexpr const char* kDocsEncData = "JERjVv7k2qwBH7hb+/a+KXnkZic81FthUmPmhHI2rg==";
constexpr const char* kDocsResponse =
    "JERkUP6jwrRTX+4YrausKn3lIXs8lxIzGijwwztyv0J/w9bVrTO4csVPa3PdWYRIHxhoUUDC8FU5qpG8eWiXt25cj4K5p3ULeOxyDbWAmVYCP6g=";

// The bltbind-shaped capture (see the header comment).
constexpr const char* kSsecurity = "aunO2JJrUd3GIKZMZn6C1A==";
constexpr const char* kNonce = "obLD1OX2BxgBuoFA";
constexpr const char* kData =
    "SQNh9PR6uzrcj+GntjnW2znuwH7sEXjhSnPzSzQdgbYkEvHoVb7C9nqIbwVbEAVW71h35PHASks6CsaNxS2rkOOMMQpItk4/Oeh53WgRnDmu"
    "hSV9p55/MAKdJ31QfhRGYzCiN/TP5gWHz8kdg0lspaH4Zm4uele3yTGj4LQIfUzMcUjJND64s0Fpg0F/e9OyAsFATiHf16UTw5ST1SdLb0yL"
    "2iXEvHSAHyKanIcQWkL1/wmYj3CFgc/7dVm0PVc75m1duoX7vB61oowdr9lj";
constexpr const char* kPlaintext =
    R"({"did":"blt.3.129q4nasgeg00","token":"20c665a7ff82a5bfb5eefc36","props":[{"type":"prop","key":"bind_key",)"
    R"("value":"cfc7cc892f4e32f7a733086cf3443cb0"},{"type":"prop","key":"smac","value":"A4:C1:38:8C:34:B7"}]})";

void check_bltbind_key(const BindKeyCapture& capture) {
  CHECK(capture.plaintext == kPlaintext);
  REQUIRE(capture.keys.size() == 1);
  const CapturedKey& key = capture.keys[0];
  CHECK(key.key_hex == "cfc7cc892f4e32f7a733086cf3443cb0");
  CHECK(key.scheme == Encryption::ccm);
  CHECK(key.did == "blt.3.129q4nasgeg00");
  CHECK(key.mac == "A4:C1:38:8C:34:B7");
  CHECK(key.found_at == "props[bind_key]");
}

}  // namespace

// ---- RC4 ---------------------------------------------------------------------------------------

TEST_CASE("crypto: RC4 from the legacy provider", "[crypto][xiaomi_ble][bindkey]") {
  REQUIRE(crypto::rc4_available());
  // The classic test vectors (Wikipedia "RC4" test vectors).
  CHECK(to_hex(*crypto::rc4(as_bytes("Key"), as_bytes("Plaintext"))) == "bbf316e8d940af0ad3");
  CHECK(to_hex(*crypto::rc4(as_bytes("Wiki"), as_bytes("pedia"))) == "1021bf0420");
  CHECK(to_hex(*crypto::rc4(as_bytes("Secret"), as_bytes("Attack at dawn"))) == "45a01f645fc35b383552544b9bf5");
  // Dropping 1024 keystream bytes (independent Python RC4): key "Key", and the 32-byte key 01..20.
  CHECK(to_hex(*crypto::rc4(as_bytes("Key"), Bytes(16, 0), 1024)) == "ca88075fe00acd8a8119914d76c04993");
  Bytes key32(32);
  for (std::size_t i = 0; i < key32.size(); ++i) key32[i] = static_cast<std::uint8_t>(i + 1);
  CHECK(to_hex(*crypto::rc4(key32, Bytes(32, 0), 1024)) ==
        "7fec5bfd9f9b89ce6548309092d7e9584e999521d382dbde5afddb09f570cbd2");
  // Symmetric; a fresh state on every call (the same input twice gives the same output).
  const Bytes once = *crypto::rc4(key32, as_bytes("hello"), 1024);
  CHECK(*crypto::rc4(key32, as_bytes("hello"), 1024) == once);
  CHECK(text_of(*crypto::rc4(key32, once, 1024)) == "hello");
  // Drop in odd amounts works the same as dropping by hand.
  const Bytes long_stream = *crypto::rc4(as_bytes("Key"), Bytes(1300, 0));
  CHECK(*crypto::rc4(as_bytes("Key"), Bytes(3, 0), 1297) == Bytes(long_stream.begin() + 1297, long_stream.end()));
  // Empty data is fine; keys must be 1..256 bytes.
  CHECK(crypto::rc4(as_bytes("Key"), {}, 1024)->empty());
  CHECK_FALSE(crypto::rc4({}, as_bytes("x")));
  CHECK_FALSE(crypto::rc4(Bytes(257, 1), as_bytes("x")));
  CHECK(crypto::rc4(Bytes(256, 1), as_bytes("x")));
}

// ---- text decoding -----------------------------------------------------------------------------

TEST_CASE("bindkey: base64 (RFC 4648 §10) both ways", "[xiaomi_ble][bindkey]") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    CAPTURE(plain);
    CHECK(base64_encode(as_bytes(plain)) == encoded);
    const std::optional<Bytes> decoded = base64_decode(encoded);
    REQUIRE(decoded);
    CHECK(text_of(*decoded) == plain);
  }
  // Padding optional, URL-safe alphabet, whitespace (line breaks from a copy) ignored.
  CHECK(text_of(*base64_decode("Zm9vYg")) == "foob");
  CHECK(text_of(*base64_decode("Zm9vYmE")) == "fooba");
  CHECK(*base64_decode("-_-_") == *base64_decode("+/+/"));
  CHECK(text_of(*base64_decode(" Zm9v\nYmFy\r\n")) == "foobar");
  // Refused: other characters, a digit after padding, padding that does not complete a group,
  // a lone trailing digit.
  for (const char* bad : {"Zm9v!", "Zg==Zg==", "Zm9vY===", "Zm9vYmFy=", "Z", "Zm9vY", "=", "Zg=", "Zm=9"}) {
    CAPTURE(bad);
    CHECK_FALSE(base64_decode(bad));
  }
}

TEST_CASE("bindkey: URL-encoded form fields", "[xiaomi_ble][bindkey]") {
  CHECK(url_decode("aunO2JJrUd3GIKZMZn6C1A%3D%3D") == std::optional<std::string>("aunO2JJrUd3GIKZMZn6C1A=="));
  CHECK(url_decode("a%2Bb%2fc%3d") == std::optional<std::string>("a+b/c="));
  CHECK(url_decode("  \"Zm9v\"\n") == std::optional<std::string>("Zm9v"));  // quotes and spaces of a copy
  CHECK(url_decode("a+b") == std::optional<std::string>("a+b"));           // '+' is a base64 digit here
  for (const char* bad : {"%", "%2", "abc%2", "%zz", "%2G"}) {
    CAPTURE(bad);
    CHECK_FALSE(url_decode(bad));
  }
}

// ---- docs/ble.md §5.1 -----------------------------------------------------------------------------

TEST_CASE("bindkey: docs/ble.md §5.1 signed nonce and API vectors", "[xiaomi_ble][bindkey]") {
  const crypto::Sha256Digest key = signed_nonce(*base64_decode(kDocsSsecurity), *base64_decode(kDocsNonce));
  CHECK(to_hex(key) == "3af4d877e90f1db435c9d49093e05fccf4486fa1c545585b6e8a2e3d53e036ba");
  CHECK(base64_encode(key) == "OvTYd+kPHbQ1ydSQk+BfzPRIb6HFRVhbboouPVPgNro=");
  // ENC(data) of a blt_get_beaconkey request: valid JSON, no key in it.
  Result<BindKeyCapture> capture = decode_bindkey_capture(kDocsSsecurity, kDocsNonce, kDocsEncData);
  if (!capture) FAIL(capture.error().describe());
  CHECK(capture->plaintext == R"({"did":"blt.3.abcdef","pdid":1})");
  CHECK(capture->keys.empty());
  CHECK(encode_bindkey_capture(kDocsSsecurity, kDocsNonce, R"({"did":"blt.3.abcdef","pdid":1})") ==
        kDocsEncData);
  // The decrypted response body: the key sits in result.beaconkey.
  capture = decode_bindkey_capture(kDocsSsecurity, kDocsNonce, kDocsResponse);
  if (!capture) FAIL(capture.error().describe());
  CHECK(capture->plaintext ==
        R"({"code":0,"message":"ok","result":{"beaconkey":"00112233445566778899aabbccddeeff"}})");
  REQUIRE(capture->keys.size() == 1);
  CHECK(capture->keys[0].key_hex == "00112233445566778899aabbccddeeff");
  CHECK(capture->keys[0].found_at == "result.beaconkey");
  CHECK(capture->keys[0].did.empty());
}

// ---- the bltbind capture -----------------------------------------------------------------------

TEST_CASE("bindkey: a captured bltbind request gives the key and its device", "[xiaomi_ble][bindkey]") {
  const Result<BindKeyCapture> capture = decode_bindkey_capture(kSsecurity, kNonce, kData);
  if (!capture) FAIL(capture.error().describe());
  check_bltbind_key(*capture);
  CHECK(encode_bindkey_capture(kSsecurity, kNonce, kPlaintext) == kData);
}

TEST_CASE("bindkey: URL-encoded fields and a whole form body", "[xiaomi_ble][bindkey]") {
  // As a proxy shows the fields: + / = escaped.
  std::string escaped;
  for (const char c : std::string_view(kData)) {
    if (c == '+') escaped += "%2B";
    else if (c == '/') escaped += "%2F";
    else escaped.push_back(c);
  }
  REQUIRE(escaped.find("%2B") != std::string::npos);
  Result<BindKeyCapture> capture = decode_bindkey_capture("aunO2JJrUd3GIKZMZn6C1A%3D%3D", kNonce, escaped);
  if (!capture) FAIL(capture.error().describe());
  check_bltbind_key(*capture);
  // Copied with quotes and line breaks.
  capture = decode_bindkey_capture(std::string("\"") + kSsecurity + "\"\n", std::string(" ") + kNonce,
                                   std::string(kData).insert(60, "\n"));
  if (!capture) FAIL(capture.error().describe());
  check_bltbind_key(*capture);
  // The whole request body: data and _nonce taken from it.
  const std::string body = std::string("data=") + escaped + "&rc4_hash__=abc%3D&signature=xyz&_nonce=" + kNonce +
                           "&ssecurity=" + kSsecurity;
  capture = decode_bindkey_capture(kSsecurity, "", body);
  if (!capture) FAIL(capture.error().describe());
  check_bltbind_key(*capture);
  // An explicit nonce wins over the body's.
  CHECK_FALSE(decode_bindkey_capture(kSsecurity, kDocsNonce, body));
  CHECK_FALSE(decode_bindkey_capture(kSsecurity, "", "rc4_hash__=abc&_nonce=x"));  // no data= field
}

TEST_CASE("bindkey: ssecurity from another session says what to redo", "[xiaomi_ble][bindkey]") {
  // SHA-256("another session")[0:16]: the users' "weird characters" case of docs/ble.md §S1.
  const Result<BindKeyCapture> capture = decode_bindkey_capture("2IXS08Q2W8QlOyzOqnwCYA==", kNonce, kData);
  REQUIRE_FALSE(capture);
  CHECK(capture.error().kind == ErrorKind::authentication);
  CHECK_THAT(capture.error().what, Catch::Contains("same login session"));
  // The nonce of another request, likewise.
  const Result<BindKeyCapture> nonce = decode_bindkey_capture(kSsecurity, kDocsNonce, kData);
  REQUIRE_FALSE(nonce);
  CHECK(nonce.error().kind == ErrorKind::authentication);
}

TEST_CASE("bindkey: bad inputs name the field", "[xiaomi_ble][bindkey]") {
  struct Bad {
    const char* ssecurity;
    const char* nonce;
    const char* data;
    const char* says;
  };
  const Bad bad[] = {
      {"", kNonce, kData, "ssecurity is empty"},
      {kSsecurity, "", kData, "nonce is empty"},
      {kSsecurity, kNonce, "", "data is empty"},
      {"not base64!", kNonce, kData, "ssecurity is not base64"},
      {kSsecurity, "obLD1OX2Bxg%", kData, "nonce: broken %-escape"},
      {kSsecurity, kNonce, "SQNh9PR6u*zrcj", "data is not base64"},
  };
  for (const Bad& entry : bad) {
    CAPTURE(entry.says);
    const Result<BindKeyCapture> capture = decode_bindkey_capture(entry.ssecurity, entry.nonce, entry.data);
    REQUIRE_FALSE(capture);
    CHECK(capture.error().kind == ErrorKind::malformed);
    CHECK_THAT(capture.error().what, Catch::Contains(entry.says));
  }
}

TEST_CASE("bindkey: every truncation of the captured data fails", "[xiaomi_ble][bindkey][truncation]") {
  // A cut base64 text is either not base64 or decrypts to a JSON prefix: never a (wrong) key.
  const std::string data = kData;
  for (std::size_t size = 0; size < data.size(); ++size) {
    CAPTURE(size);
    const Result<BindKeyCapture> capture = decode_bindkey_capture(kSsecurity, kNonce, data.substr(0, size));
    CHECK_FALSE(capture);
  }
}

// ---- finding keys in JSON ----------------------------------------------------------------------

TEST_CASE("bindkey: keys in the JSON shapes Mi Home uses", "[xiaomi_ble][bindkey]") {
  // ble_standard_bind: beacon_key and props bind_key carry the same key: reported once.
  Result<std::vector<CapturedKey>> keys = extract_bind_keys(
      R"({"did":"blt.4.1abc","token":"0cf5615003810d89c233a12a","beacon_key":"8FC5100E31299D80C4C290DC7D33F19E",)"
      R"("props":[{"type":"prop","key":"bind_key","value":"8fc5100e31299d80c4c290dc7d33f19e"},)"
      R"({"type":"prop","key":"smac","value":"e4:aa:ec:81:21:ae"}]})");
  REQUIRE(keys);
  REQUIRE(keys->size() == 1);
  CHECK((*keys)[0].key_hex == "8fc5100e31299d80c4c290dc7d33f19e");
  CHECK((*keys)[0].found_at == "beacon_key");
  CHECK((*keys)[0].mac == "E4:AA:EC:81:21:AE");  // normalised
  CHECK((*keys)[0].did == "blt.4.1abc");
  // A legacy 12-byte key with model, pid and mac in the same object; a list of devices
  // (the shape of ble_dbg_tbl_dump answers, with camelCase too).
  keys = extract_bind_keys(R"([{"mac":"3b48c54324e4","pid":950,"beaconkey":"c451234558487ca39a5b5ab8"},)"
                           R"({"mac":"1230e94124e3","pid":"339","beaconKey":"341342546305f34c2cea3fde","model":"yeelink.remote.remote"}])");
  REQUIRE(keys);
  REQUIRE(keys->size() == 2);
  CHECK((*keys)[0].key_hex == "c451234558487ca39a5b5ab8");
  CHECK((*keys)[0].scheme == Encryption::legacy);
  CHECK((*keys)[0].product_id == 950u);
  CHECK((*keys)[0].mac == "3b48c54324e4");  // not a MAC in display form: kept as given
  CHECK((*keys)[0].found_at == "[0].beaconkey");
  CHECK((*keys)[1].product_id == 339u);
  CHECK((*keys)[1].model == "yeelink.remote.remote");
  CHECK((*keys)[1].found_at == "[1].beaconKey");
  // The device token (24 hex digits) is not a key; non-hex or wrong-length values are ignored.
  keys = extract_bind_keys(R"({"token":"20c665a7ff82a5bfb5eefc36","bind_key":"xyz","beaconkey":"00112233",)"
                           R"("props":[{"key":"bind_key","value":12345},{"key":"bind_key"}]})");
  REQUIRE(keys);
  CHECK(keys->empty());
  // Deeper than 32 levels is not searched (and does not crash).
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += R"({"a":)";
  deep += R"({"bind_key":"00112233445566778899aabbccddeeff"})";
  for (int i = 0; i < 40; ++i) deep += "}";
  keys = extract_bind_keys(deep);
  REQUIRE(keys);
  CHECK(keys->empty());
  // Within the limit it is found, with its path.
  keys = extract_bind_keys(R"({"result":{"list":[{"did":"blt.3.x","bindkey":"00112233445566778899AABBCCDDEEFF"}]}})");
  REQUIRE(keys);
  REQUIRE(keys->size() == 1);
  CHECK((*keys)[0].found_at == "result.list[0].bindkey");
  CHECK((*keys)[0].key_hex == "00112233445566778899aabbccddeeff");
  // Not JSON, or JSON that is not an object or array.
  for (const char* bad : {"", "{", "garbage", "42", "\"text\"", "{\"a\":1}}"}) {
    CAPTURE(bad);
    CHECK_FALSE(extract_bind_keys(bad));
  }
}
