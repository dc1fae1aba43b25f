// MiBeacon frames: the crypto additions they rest on (AES-CCM, AES-CTR), frame control, every
// vector of docs/ble.md §3 (real captures from xiaomi-ble / ble_monitor tests, and the
// docs/ble.md §3.4 synthetic S1–S3), MIC failures, every truncation, every one-bit flip of the encrypted
// vectors, encode ↔ decode.
//
// Keys here are the public test keys of those projects' test suites, never a live device's.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/bytes.h"
#include "protocols/common/crypto.h"
#include "protocols/xiaomi_ble/codec/mibeacon.h"
#include "protocols/xiaomi_ble/codec/products.h"
#include "tests/unit/test_support.h"

using namespace cloudless;
using namespace cloudless::xiaomi_ble;
using cloudless::test::hex;

namespace {

MacAddress mac(std::string_view text) {
  const std::optional<MacAddress> parsed = parse_mac(text);
  REQUIRE(parsed.has_value());
  return *parsed;
}

// ---- §3.2 + S1: encrypted v4/v5 vectors ----------------------------------------------------------

struct CcmVector {
  const char* name;
  const char* frame;       // ServiceData bytes for UUID 0xFE95
  const char* mac;         // advertiser address as BlueZ shows it
  const char* key;         // bind key
  std::uint16_t product_id;
  std::uint8_t frame_counter;
  std::uint32_t extended_counter;
  bool mac_in_frame;
  const char* nonce;       // docs/ble.md §3.2 (where listed) / recomputed by an independent Python check
  const char* objects;     // decrypted object bytes
};

// Sources: XB = Bluetooth-Devices/xiaomi-ble tests/test_parser.py, BM = ble_monitor
// test/test_xiaomi_parser.py; S1 = synthetic, docs/ble.md §3.4. Objects: id LE, length, data.
const CcmVector kCcmVectors[] = {
    // V16 XB/BM LYWSD03MMC: FC 5858 (v5, MAC, object, encrypted), pid 055b, fcnt 0x50, MAC f4830238c1a4,
    // ct 95ef58763c, ext 260000, MIC 97e2abb5 → 0x1006 len 2: d301 = 467 → 46.7 %
    {"V16", "58585b0550f4830238c1a495ef58763c26000097e2abb5", "A4:C1:38:02:83:F4", "e9ea895fac7cca6d30532432a516f3a8",
     0x055B, 80, 0x000026, true, "f4830238c1a45b0550260000", "061002d301"},
    // V17 XB/BM CGG1-ENCRYPTED: 0x1006 5402 = 59.6 %
    {"V17", "5858480b685f12342d585a0b1841e2aa000e00a4964fb5", "5A:58:2D:34:12:5F", "814aac74c4f17b6c1581e1ab87816b99",
     0x0B48, 104, 0x000E00, true, "5f12342d585a480b68000e00", "0610025402"},
    // V18 XB/BM CGDK2: 0x1004 e200 = 22.6 °C
    {"V18", "58586f0607892012342d585f176dd54f0200002fa453fa", "58:2D:34:12:20:89", "a3bfe9853dd85a620debe3620caaa351",
     0x066F, 7, 0x000002, true, "892012342d586f0607020000", "041002e200"},
    // V19 XB CGDK3, no MAC in the frame (FC 5848): 0x4801 float 6666be41 = 23.8 °C
    {"V19", "4858594fef546f0e7450729321010038d74333", "58:2D:34:87:94:0C", "872ea1bb02ba9713e885cb054c537368",
     0x4F59, 239, 0x000121, false, "0c9487342d58594fef210100", "0148046666be41"},
    // V20 XB/BM LYWSD02MMC: 0x4C02 3a = 58 %
    {"V20", "5858e4162c84535638c1a42b6ef2e91200006c884d9e", "A4:C1:38:56:53:84", "a115210eed7a88e50ad52662e732a9fb",
     0x16E4, 44, 0x000012, true, "84535638c1a4e4162c120000", "024c013a"},
    // V21 XB LYWSD02MMC (pid 2542), no MAC: 0x4C01 float cdccd041 = 26.1 °C
    {"V21", "4858422529202d8c7a76b756a82a0078b8224e", "A4:C1:38:0E:FD:78", "19b1c678ab0a8bc3dc77765f059188d4",
     0x2542, 41, 0x002AA8, false, "78fd0e38c1a4422529a82a00", "014c04cdccd041"},
    // V22 XB/BM XMWSDJ04MMC, no MAC: 0x4C08 float 00003442 = 45.0 %
    {"V22", "48590312a41b776e7c96add7000000f2bf545b", "2C:11:65:25:70:04", "b2cf9a553d53571b5657defd582d676e",
     0x1203, 164, 0x000000, false, "04702565112c0312a4000000", "084c0400003442"},
    // V23 XB MCCGQ02HL: 0x1019 02 = left open
    {"V23", "58588b09a3ae2181ecaae40e2c553c040000d28a500c", "E4:AA:EC:81:21:AE", "017e52d2684779298709b117c0a75a7b",
     0x098B, 163, 0x000004, true, "ae2181ecaae48b09a3040000", "19100102"},
    // V24 XB/BM JTYJGD03MI: 0x1015 01 = smoke
    {"V24", "5859970966bc9ce344ef5401081205000000715ebe90", "54:EF:44:E3:9C:BC", "5b51a7c91cde6707c9ef18dfda143a58",
     0x0997, 102, 0x000000, true, "bc9ce344ef54970966000000", "15100101"},
    // V25 XB RTCGQ02LM: 0x000F 000100 = motion with light level 256
    {"V25", "58598d0a8c778e203cc2185a273628ec32060000c4264015", "18:C2:3C:20:8E:77", "4960bb9f8711b4ffd7df1756d11427ae",
     0x0A8D, 140, 0x000006, true, "778e203cc2188d0a8c060000", "0f0003000100"},
    // V26 XB RTCGQ02LM, no MAC: 0x101B 1e000000 = no motion for 30 s
    {"V26", "48598d0a927953750fed0f990600005cad2c29", "18:C2:3C:20:8E:77", "4960bb9f8711b4ffd7df1756d11427ae",
     0x0A8D, 146, 0x000006, false, "778e203cc2188d0a92060000", "1b10041e000000"},
    // V27 XB/BM MJWSD06MMC: 0x4802 27 = 39 %
    {"V27", "5859b5553407158038c1a4bcc732980e000066960f10", "A4:C1:38:80:15:07", "4d8f1373fb4d3bab557d0ebd1c78f8c4",
     0x55B5, 52, 0x00000E, true, "07158038c1a4b555340e0000", "02480127"},
    // V28 XB/BM MS1BB: 0x4804 01 = open
    {"V28", "585989189a67e56638c1a49dd97af3260000c8a60bd5", "A4:C1:38:66:E5:67", "0fdcc30fe9289254876b5ef7c11ef1f0",
     0x1889, 154, 0x000026, true, "67e56638c1a489189a260000", "04480101"},
    // V29 XB/BM HS1BB: 0x4818 3c00 = 60 s without motion
    {"V29", "5859eb2ac1e98e0538c1a40759530f8d380000b77a70f8", "A4:C1:38:05:8E:E9", "7475a4a77584401780ffc3ee62dd353c",
     0x2AEB, 193, 0x000038, true, "e98e0538c1a4eb2ac1380000", "1848023c00"},
    // V30 XB/BM XMPIRO2SXS, no MAC: 0x4A08 float 00004c42 = motion, 51 lx
    {"V30", "485931350b64799117331ef4020000c5d2f6ac", "DC:8E:95:2D:EA:43", "685d647dc5e7bc9bcfcf5a1357bd2114",
     0x3531, 11, 0x000002, false, "43ea2d958edc31350b020000", "084a0400004c42"},
    // V31 XB/BM ES3: 0x484E 1f = occupied
    {"V31", "5859fb50da76c3c738c1a4aabc4c16000000c60c1646", "A4:C1:38:C7:C3:76", "b26295a7a08fbac306c8706ade7f0fe4",
     0x50FB, 218, 0x000000, true, "76c3c738c1a4fb50da000000", "4e48011f"},
    // V32 XB PS1BB, FC 5859 has bit 0 set: 0x4803 64 = battery 100 %
    {"V32", "59584c3f2212efbe38c1a4da2cec2100000029c7c0c7", "A4:C1:38:BE:EF:12", "8b72476b60fe2a0b63bf58d588fe4ea1",
     0x3F4C, 34, 0x000000, true, "12efbe38c1a44c3f22000000", "03480164"},
    // V33 XB XMWXKG01LM: 0x4E0C with zero data bytes = button press
    {"V33", "58598723350537243cc218d67794020000cb2de309", "18:C2:3C:24:37:05", "7202a2d4201bbf82ea5bb3705657c32a",
     0x2387, 53, 0x000002, true, "0537243cc218872335020000", "0c4e00"},
    // V34 XB/BM T700, no MAC: 0x3003 01 03629d64 53 = brushing ended, score 83
    {"V34", "48580608c9480ef11281079733fc1400005644db41", "ED:DE:34:3F:48:0C", "1330b99cded13258acc391627e9771f7",
     0x0806, 201, 0x000014, false, "0c483f34deed0608c9140000", "0330060103629d6453"},
    // S1 synthetic v4 (FC 4858): 0x100D d700 c201 = 21.5 °C, 45.0 %
    {"S1", "58485b0542f4830238c1a42340c411d27f87010000eea7e206", "A4:C1:38:02:83:F4", "e9ea895fac7cca6d30532432a516f3a8",
     0x055B, 66, 0x000001, true, "f4830238c1a45b0542010000", "0d1004d700c201"},
};

// ---- §3.3 + S2: legacy v2/v3 --------------------------------------------------------------------

struct LegacyVector {
  const char* name;
  const char* frame;
  const char* mac;
  const char* key;
  std::uint8_t frame_counter;
  const char* nonce;
  const char* objects;
};

const LegacyVector kLegacyVectors[] = {
    // V35 BM/XB YLKG07YL dimmer, FC 3058 (v3, MAC, object, encrypted): 0x1001 000103 = short press × 1;
    // trailing 0x99 = first byte of the M=16 CCM tag
    {"V35", "5830b603d28b98c54124f8c3491476757e00000099", "F8:24:41:C5:98:8B", "b853075158487ca39a5b5ea9", 210,
     "5830b603d20000008b98c54124", "011003000103"},
    // V36 same dimmer: 0x1001 00ff04 = rotate left 1 step; trailing 0xd6
    {"V36", "5830b603368b98c54124f88bb8f2661351000000d6", "F8:24:41:C5:98:8B", "b853075158487ca39a5b5ea9", 54,
     "5830b603360000008b98c54124", "01100300ff04"},
    // S2 synthetic v2 (FC 2058) YLYK01YL: 0x1001 000000 = button 0 single press; trailing 0x17
    {"S2", "58205301107450e94124f8c4935fcd3cee00000017", "F8:24:41:E9:50:74", "b853075158487ca39a5b5ea9", 16,
     "58205301100000007450e94124", "011003000000"},
};

// ---- §3.1 + S3: plain frames --------------------------------------------------------------------

struct PlainVector {
  const char* name;
  const char* frame;
  const char* mac;
  std::uint8_t version;
  std::uint16_t product_id;
  int frame_counter;     // -1: not checked
  bool mac_in_frame;
  int capability;        // -1: none
  const char* objects;   // "" for frames without objects
};

const PlainVector kPlainVectors[] = {
    // V1 XB LYWSDCGQ: FC 2050 (v2, MAC, object), two objects 100D b4009502 (18.0 °C, 66.1 %), 100A 3b (59 %)
    {"V1", "5020aa01a3bf2e3b342d580d1004b40095020a10013b", "58:2D:34:3B:2E:BF", 2, 0x01AA, 163, true, -1,
     "0d1004b40095020a10013b"},
    // V2 BM LYWSDCGQ: 100D fe004802 = 25.4 °C, 58.4 %
    {"V2", "5020aa01da219335342d580d1004fe004802", "58:2D:34:35:93:21", 2, 0x01AA, 218, true, -1, "0d1004fe004802"},
    // V3 XB/BM LYWSD03MMC plain v3: 100D 1001ea01 = 27.2 °C, 49.0 %
    {"V3", "50305b05034c94b438c1a40d10041001ea01", "A4:C1:38:B4:94:4C", 3, 0x055B, 3, true, -1, "0d10041001ea01"},
    // V4 XB HHCCJCY01: FC 2071 (capability 0x0d): 1004 c400 = 19.6 °C
    {"V4", "7120980012f34f6b8d7cc40d041002c400", "C4:7C:8D:6B:4F:F3", 2, 0x0098, 18, true, 0x0d, "041002c400"},
    // V5 XB HHCCPOT002: capability 0x0d; 1008 40 = 64 %, 1009 5702 = 599 µS/cm
    {"V5", "71205d01015d01008d7cc40d081001400910025702", "C4:7C:8D:00:01:5D", 2, 0x015D, 1, true, 0x0d,
     "081001400910025702"},
    // V6 XB JQJCY01YM: 1010 7d00 = 1.25 mg/m³
    {"V6", "5040df0201df02008d7cc41010027d00", "C4:7C:8D:00:02:DF", 4, 0x02DF, 1, true, -1, "1010027d00"},
    // V7 XB CGH1: 1019 00 = open
    {"V7", "5040d60301d6030a38c1a419100100", "A4:C1:38:0A:03:D6", 4, 0x03D6, 1, true, -1, "19100100"},
    // V8 XB MJYD02YL: 000F 640000 = motion, light (100)
    {"V8", "5040f6070101f60738c1a40f0003640000", "A4:C1:38:07:F6:01", 4, 0x07F6, 1, true, -1, "0f0003640000"},
    // V9 XB CGPR1: 000F 640000 = motion, 100 lx
    {"V9", "5040830a0183000a38c1a40f0003640000", "A4:C1:38:0A:00:83", 4, 0x0A83, 1, true, -1, "0f0003640000"},
    // V10 XB/BM MUE4094RT: FC 3040 (v3, object, no MAC), fcnt 36: 0003 01 = motion event
    {"V10", "4030dd032403000101", "DE:70:E8:B2:39:0C", 3, 0x03DD, 36, false, -1, "03000101"},
    // V11 XB WX08ZM: 1013 5a = 90 %
    {"V11", "50400a04010a04008d7cc41310015a", "C4:7C:8D:00:04:0A", 4, 0x040A, 1, true, -1, "1310015a"},
    // V12 XB MMC-T201-1: FC 2270 (capability 0x09): 2000 c60d630d51 = body 36.872 °C, battery 81 %
    {"V12", "7022db006fc16fddf9810009002005c60d630d51", "00:81:F9:DD:6F:C1", 2, 0x00DB, 0x6f, true, 0x09,
     "002005c60d630d51"},
    // V13 XB ESM787 discovery: FC 5910 (v5, MAC, registered), no object
    {"V13", "1059db780df4f80238c1a4", "A4:C1:38:02:F8:F4", 5, 0x78DB, 0x0d, true, -1, ""},
    // V14 XB blank advert: FC 5830 (v5, MAC, capability 0x08), no object
    {"V14", "30585b0502483cd438c1a408", "A4:C1:38:D4:3C:48", 5, 0x055B, 2, true, 0x08, ""},
    // V15 XB M1S-T500: FC 3071 (v3, capability 0x09): 0010 0003 = brushing, counter 3
    {"V15", "7130890437115b174371e6091000020003", "E6:71:43:17:5B:11", 3, 0x0489, 0x37, true, 0x09, "1000020003"},
    // S3 synthetic YM-K1501: 1005 015a = heating, 90 °C
    {"S3", "5030830007ffeeddccbbaa051002015a", "AA:BB:CC:DD:EE:FF", 3, 0x0083, 7, true, -1, "051002015a"},
};

void check_value(const DecodedObjects& objects, Quantity quantity, double expected) {
  CAPTURE(quantity_name(quantity));
  const std::optional<double> value = objects.value(quantity);
  REQUIRE(value.has_value());
  CHECK(*value == Approx(expected).epsilon(1e-12));
}

DecodedAdvert decode_ok(std::string_view frame, std::string_view advertiser, std::string_view key) {
  const Bytes key_bytes = key.empty() ? Bytes{} : hex(key);
  const Result<DecodedAdvert> advert = decode_advert(hex(frame), mac(advertiser), key_bytes);
  if (!advert) FAIL(advert.error().describe());
  return *advert;
}

}  // namespace

// ---- crypto additions ------------------------------------------------------------------------

TEST_CASE("crypto: AES-128-CCM NIST SP 800-38C examples", "[crypto][xiaomi_ble]") {
  // SP 800-38C Appendix C, examples 1–3 (key 40..4f); also checked with python3-cryptography.
  const Bytes key = hex("404142434445464748494a4b4c4d4e4f");
  struct Example {
    const char* nonce;
    const char* aad;
    const char* plaintext;
    std::size_t tag;
    const char* sealed;
  };
  const Example examples[] = {
      {"10111213141516", "0001020304050607", "20212223", 4, "7162015b4dac255d"},
      {"1011121314151617", "000102030405060708090a0b0c0d0e0f", "202122232425262728292a2b2c2d2e2f", 6,
       "d2a1f0e051ea5f62081a7792073d593d1fc64fbfaccd"},
      {"101112131415161718191a1b", "000102030405060708090a0b0c0d0e0f10111213",
       "202122232425262728292a2b2c2d2e2f3031323334353637", 8,
       "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5484392fbc1b09951"},
  };
  for (const Example& example : examples) {
    CAPTURE(example.sealed);
    const Bytes plaintext = hex(example.plaintext);
    const std::optional<Bytes> sealed =
        crypto::aes128_ccm_encrypt(key, hex(example.nonce), hex(example.aad), plaintext, example.tag);
    REQUIRE(sealed.has_value());
    CHECK(to_hex(*sealed) == example.sealed);
    const ByteView ciphertext = ByteView(*sealed).first(plaintext.size());
    const ByteView tag = ByteView(*sealed).subspan(plaintext.size());
    const std::optional<Bytes> opened = crypto::aes128_ccm_decrypt(key, hex(example.nonce), hex(example.aad), ciphertext, tag);
    REQUIRE(opened.has_value());
    CHECK(*opened == plaintext);
    // A changed tag, AAD or ciphertext byte never releases plaintext.
    Bytes bad_tag(tag.begin(), tag.end());
    bad_tag.back() ^= 0x01;
    CHECK_FALSE(crypto::aes128_ccm_decrypt(key, hex(example.nonce), hex(example.aad), ciphertext, bad_tag));
    Bytes bad_aad = hex(example.aad);
    bad_aad[0] ^= 0x80;
    CHECK_FALSE(crypto::aes128_ccm_decrypt(key, hex(example.nonce), bad_aad, ciphertext, tag));
    Bytes bad_ciphertext(ciphertext.begin(), ciphertext.end());
    bad_ciphertext[0] ^= 0x01;
    CHECK_FALSE(crypto::aes128_ccm_decrypt(key, hex(example.nonce), hex(example.aad), bad_ciphertext, tag));
  }
}

TEST_CASE("crypto: AES-128-CCM edge cases and parameter checks", "[crypto][xiaomi_ble]") {
  const Bytes key = hex("404142434445464748494a4b4c4d4e4f");
  const Bytes nonce = hex("10111213141516");
  // Empty plaintext and AAD: only the tag (python3-cryptography AESCCM, tag 16).
  const std::optional<Bytes> tag_only = crypto::aes128_ccm_encrypt(key, nonce, {}, {}, 16);
  REQUIRE(tag_only.has_value());
  CHECK(to_hex(*tag_only) == "8397c1e8bd098a269f9ef81b55a4ca38");
  const std::optional<Bytes> empty = crypto::aes128_ccm_decrypt(key, nonce, {}, {}, *tag_only);
  REQUIRE(empty.has_value());
  CHECK(empty->empty());
  // Parameters outside SP 800-38C are refused, not passed on.
  CHECK_FALSE(crypto::aes128_ccm_encrypt(key, hex("101112131415"), {}, hex("00"), 4));            // nonce 6
  CHECK_FALSE(crypto::aes128_ccm_encrypt(key, hex("101112131415161718191a1b1c1d"), {}, hex("00"), 4));  // 14
  CHECK_FALSE(crypto::aes128_ccm_encrypt(key, nonce, {}, hex("00"), 5));                          // odd tag
  CHECK_FALSE(crypto::aes128_ccm_encrypt(key, nonce, {}, hex("00"), 2));
  CHECK_FALSE(crypto::aes128_ccm_encrypt(key, nonce, {}, hex("00"), 18));
  CHECK_FALSE(crypto::aes128_ccm_encrypt(hex("00"), nonce, {}, hex("00"), 4));                     // key size
  CHECK_FALSE(crypto::aes128_ccm_decrypt(key, nonce, {}, hex("00"), hex("000102")));               // tag 3
  // The legacy MiBeacon sizes (nonce 13, tag 16) and the v4/v5 ones (12, 4) both work.
  CHECK(crypto::aes128_ccm_encrypt(key, hex("000102030405060708090a0b0c"), hex("11"), hex("0102"), 16));
  CHECK(crypto::aes128_ccm_encrypt(key, hex("000102030405060708090a0b"), hex("11"), hex("0102"), 4));
  // A 13-byte nonce leaves a 2-byte length field: 65,535 bytes fit, 65,536 do not (the length would wrap).
  CHECK(crypto::aes128_ccm_encrypt(key, hex("000102030405060708090a0b0c"), {}, Bytes(65535), 4));
  CHECK_FALSE(crypto::aes128_ccm_encrypt(key, hex("000102030405060708090a0b0c"), {}, Bytes(65536), 4));
  CHECK_FALSE(crypto::aes128_ccm_decrypt(key, hex("000102030405060708090a0b0c"), {}, Bytes(65536), hex("00010203")));
}

TEST_CASE("crypto: AES-128-CTR NIST SP 800-38A F.5.1", "[crypto][xiaomi_ble]") {
  const Bytes key = hex("2b7e151628aed2a6abf7158809cf4f3c");
  const Bytes iv = hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
  const Bytes plaintext = hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
  const std::optional<Bytes> ciphertext = crypto::aes128_ctr(key, iv, plaintext);
  REQUIRE(ciphertext.has_value());
  CHECK(to_hex(*ciphertext) == "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff");
  // Same call decrypts; a partial block is fine (stream mode).
  CHECK(crypto::aes128_ctr(key, iv, *ciphertext) == plaintext);
  const std::optional<Bytes> partial = crypto::aes128_ctr(key, iv, ByteView(plaintext).first(5));
  REQUIRE(partial.has_value());
  CHECK(to_hex(*partial) == "874d6191b6");
  CHECK_FALSE(crypto::aes128_ctr(key, hex("00"), plaintext));
  CHECK_FALSE(crypto::aes128_ctr(hex("00"), iv, plaintext));
}

// ---- addresses, keys, frame control ----------------------------------------------------------

TEST_CASE("mibeacon: MAC text and bind key text", "[xiaomi_ble]") {
  const MacAddress address = mac("a4:c1:38:02:83:f4");
  CHECK(address == MacAddress{0xA4, 0xC1, 0x38, 0x02, 0x83, 0xF4});
  CHECK(format_mac(address) == "A4:C1:38:02:83:F4");
  for (const char* bad : {"", "A4:C1:38:02:83", "A4:C1:38:02:83:F4:00", "A4-C1-38-02-83-F4", "A4:C1:38:02:83:G4",
                          "A4C1:38:02:83:F4:", "A4:C1:38:02:83:F "}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_mac(bad));
  }
  CHECK(parse_bind_key("E9EA895FAC7CCA6D30532432A516F3A8") == hex("e9ea895fac7cca6d30532432a516f3a8"));
  CHECK(parse_bind_key("b853075158487ca39a5b5ea9") == hex("b853075158487ca39a5b5ea9"));
  CHECK_FALSE(parse_bind_key("b853075158487ca39a5b5e"));
  CHECK_FALSE(parse_bind_key("e9ea895fac7cca6d30532432a516f3a8ff"));
  CHECK_FALSE(parse_bind_key("x9ea895fac7cca6d30532432a516f3a8"));
  // docs/ble.md §3.3 V35: the 12-byte key and its 16-byte AES form.
  const std::array<std::uint8_t, 12> legacy = {0xb8, 0x53, 0x07, 0x51, 0x58, 0x48, 0x7c, 0xa3, 0x9a, 0x5b, 0x5e, 0xa9};
  CHECK(to_hex(expand_legacy_key(legacy)) == "b853075158488d3d3c977ca39a5b5ea9");
}

TEST_CASE("mibeacon: frame control bits", "[xiaomi_ble]") {
  // 0x5858 (bytes 58 58): v5, auth mode 2, encrypted, MAC, object.
  FrameControl fc = decode_frame_control(0x5858);
  CHECK(fc.version == 5);
  CHECK(fc.auth_mode == 2);
  CHECK(fc.encrypted);
  CHECK(fc.has_mac);
  CHECK(fc.has_object);
  CHECK_FALSE(fc.has_capability);
  CHECK_FALSE(fc.mesh);
  CHECK_FALSE(fc.registered);
  CHECK_FALSE(fc.solicited);
  CHECK_FALSE(fc.request_timing);
  // 0x5959 (bytes 59 59): plus registered and bit 0.
  fc = decode_frame_control(0x5959);
  CHECK(fc.registered);
  CHECK(fc.request_timing);
  // 0x2271 (bytes 71 22): v2, solicited, capability, MAC, object, request timing.
  fc = decode_frame_control(0x2271);
  CHECK(fc.version == 2);
  CHECK(fc.solicited);
  CHECK(fc.has_capability);
  CHECK(fc.auth_mode == 0);
  // 0x54b0 (bytes b0 54, xiaomi-ble issue #340): a mesh frame.
  CHECK(decode_frame_control(0x54b0).mesh);
  CHECK(decode_frame_control(0xF000).version == 15);
}

// ---- plain vectors -----------------------------------------------------------------------------

TEST_CASE("mibeacon: docs/ble.md §3.1 plain frames parse field by field", "[xiaomi_ble][vectors]") {
  for (const PlainVector& vector : kPlainVectors) {
    CAPTURE(vector.name);
    const Result<MiBeacon> beacon = parse_mibeacon(hex(vector.frame));
    if (!beacon) FAIL(beacon.error().describe());
    CHECK(beacon->frame_control.version == vector.version);
    CHECK(beacon->product_id == vector.product_id);
    if (vector.frame_counter >= 0) CHECK(beacon->frame_counter == vector.frame_counter);
    CHECK(beacon->encryption == Encryption::none);
    CHECK(beacon->mac.has_value() == vector.mac_in_frame);
    if (vector.mac_in_frame) CHECK(format_mac(*beacon->mac) == vector.mac);
    CHECK(beacon->capability.has_value() == (vector.capability >= 0));
    if (vector.capability >= 0) CHECK(*beacon->capability == vector.capability);
    CHECK_FALSE(beacon->io_capability.has_value());
    CHECK(to_hex(beacon->payload) == vector.objects);
    CHECK(beacon->has_objects() == (std::string_view(vector.objects) != ""));
    CHECK(beacon->mic.empty());
    // Plain frames rebuild byte for byte.
    CHECK(to_hex(encode_mibeacon(*beacon, beacon->payload, {}, mac(vector.mac))) == vector.frame);
    // decode_advert accepts them with or without a key (a key is simply not needed).
    const DecodedAdvert advert = decode_ok(vector.frame, vector.mac, "");
    CHECK_FALSE(advert.decrypted);
    CHECK(format_mac(advert.mac) == vector.mac);
    REQUIRE(advert.product != nullptr);
    CHECK(advert.product->product_id == vector.product_id);
    CHECK(advert.objects.rejected.empty());
    CHECK(advert.objects.raw.empty());
    const DecodedAdvert with_key = decode_ok(vector.frame, vector.mac, "e9ea895fac7cca6d30532432a516f3a8");
    CHECK(with_key.objects.readings == advert.objects.readings);
  }
}

TEST_CASE("mibeacon: docs/ble.md §3.1 plain frames give the expected values", "[xiaomi_ble][vectors]") {
  // V1: two objects, LYWSDCGQ.
  DecodedAdvert a = decode_ok("5020aa01a3bf2e3b342d580d1004b40095020a10013b", "58:2D:34:3B:2E:BF", "");
  CHECK(a.product->model == "LYWSDCGQ");
  check_value(a.objects, Quantity::temperature, 18.0);
  check_value(a.objects, Quantity::humidity, 66.1);
  check_value(a.objects, Quantity::battery, 59);
  CHECK(a.objects.readings.size() == 3);
  // V2
  a = decode_ok("5020aa01da219335342d580d1004fe004802", "58:2D:34:35:93:21", "");
  check_value(a.objects, Quantity::temperature, 25.4);
  check_value(a.objects, Quantity::humidity, 58.4);
  // V3: LYWSD03MMC in plain v3
  a = decode_ok("50305b05034c94b438c1a40d10041001ea01", "A4:C1:38:B4:94:4C", "");
  CHECK(a.product->model == "LYWSD03MMC");
  check_value(a.objects, Quantity::temperature, 27.2);
  check_value(a.objects, Quantity::humidity, 49.0);
  // V4: HHCCJCY01
  a = decode_ok("7120980012f34f6b8d7cc40d041002c400", "C4:7C:8D:6B:4F:F3", "");
  check_value(a.objects, Quantity::temperature, 19.6);
  // V5: HHCCPOT002
  a = decode_ok("71205d01015d01008d7cc40d081001400910025702", "C4:7C:8D:00:01:5D", "");
  check_value(a.objects, Quantity::moisture, 64);
  check_value(a.objects, Quantity::conductivity, 599);
  // V6: JQJCY01YM
  a = decode_ok("5040df0201df02008d7cc41010027d00", "C4:7C:8D:00:02:DF", "");
  check_value(a.objects, Quantity::formaldehyde, 1.25);
  // V7: CGH1 open
  a = decode_ok("5040d60301d6030a38c1a419100100", "A4:C1:38:0A:03:D6", "");
  check_value(a.objects, Quantity::opening, 1);
  CHECK_FALSE(a.objects.value(Quantity::door_left_open));
  // V8: MJYD02YL motion with light
  a = decode_ok("5040f6070101f60738c1a40f0003640000", "A4:C1:38:07:F6:01", "");
  check_value(a.objects, Quantity::motion, 1);
  check_value(a.objects, Quantity::light, 1);
  CHECK_FALSE(a.objects.value(Quantity::illuminance));
  // V9: CGPR1 motion, 100 lx
  a = decode_ok("5040830a0183000a38c1a40f0003640000", "A4:C1:38:0A:00:83", "");
  check_value(a.objects, Quantity::motion, 1);
  check_value(a.objects, Quantity::illuminance, 100);
  CHECK_FALSE(a.objects.value(Quantity::light));
  // V10: MUE4094RT, no MAC in the frame: the advertiser's address is the device's
  a = decode_ok("4030dd032403000101", "DE:70:E8:B2:39:0C", "");
  CHECK(format_mac(a.mac) == "DE:70:E8:B2:39:0C");
  check_value(a.objects, Quantity::motion_event, 1);
  CHECK_FALSE(a.objects.value(Quantity::motion));
  // V11: WX08ZM consumable
  a = decode_ok("50400a04010a04008d7cc41310015a", "C4:7C:8D:00:04:0A", "");
  check_value(a.objects, Quantity::consumable, 90);
  // V12: MMC-T201-1 body temperature (xiaomi-ble expects 36.87199806168224), battery 81
  a = decode_ok("7022db006fc16fddf9810009002005c60d630d51", "00:81:F9:DD:6F:C1", "");
  check_value(a.objects, Quantity::temperature, 36.87199806168224);
  check_value(a.objects, Quantity::battery, 81);
  // V13, V14: presence beacons: identified, no values
  a = decode_ok("1059db780df4f80238c1a4", "A4:C1:38:02:F8:F4", "");
  CHECK(a.product->model == "ESM787");
  CHECK(a.objects.readings.empty());
  a = decode_ok("30585b0502483cd438c1a408", "A4:C1:38:D4:3C:48", "");
  CHECK(a.product->model == "LYWSD03MMC");
  CHECK(a.objects.readings.empty());
  CHECK(a.beacon.encryption == Encryption::none);  // "pending": no object, nothing to tell yet
  // V15: M1S-T500 brushing, counter 3
  a = decode_ok("7130890437115b174371e6091000020003", "E6:71:43:17:5B:11", "");
  check_value(a.objects, Quantity::toothbrush, 1);
  check_value(a.objects, Quantity::toothbrush_counter, 3);
  // S3: kettle heating at 90 °C
  a = decode_ok("5030830007ffeeddccbbaa051002015a", "AA:BB:CC:DD:EE:FF", "");
  check_value(a.objects, Quantity::kettle_state, 1);
  check_value(a.objects, Quantity::temperature, 90);
}

TEST_CASE("mibeacon: 1-2 bytes after the last object are ignored, the objects kept", "[xiaomi_ble][vectors]") {
  // xiaomi-ble test_Xiaomi_MMC_W505: FC 2270 (v2, capability 0x09), pid 0391 MMC-W505, object
  // 000a len 2 750d (3445 → 34.45 °C), then one byte 07 that cannot hold an object header.
  DecodedAdvert a = decode_ok("702291030fdbab531824d0090a0002750d07", "D0:24:18:53:AB:DB", "");
  CHECK(a.product->model == "MMC-W505");
  check_value(a.objects, Quantity::temperature, 34.45);
  CHECK(a.objects.readings.size() == 1);
  CHECK(a.objects.rejected.empty());
  // Two trailing bytes after V1's two objects: the same three readings.
  a = decode_ok("5020aa01a3bf2e3b342d580d1004b40095020a10013b0d10", "58:2D:34:3B:2E:BF", "");
  check_value(a.objects, Quantity::temperature, 18.0);
  check_value(a.objects, Quantity::battery, 59);
  CHECK(a.objects.readings.size() == 3);
  // Three are a header whose data runs past the end: still malformed, at that header.
  const Result<DecodedAdvert> overrun =
      decode_advert(hex("5020aa01a3bf2e3b342d580d1004b40095020a10013b0d1004"), mac("58:2D:34:3B:2E:BF"), {});
  REQUIRE_FALSE(overrun);
  CHECK(overrun.error().offset == 22);
}

// ---- encrypted vectors -------------------------------------------------------------------------

TEST_CASE("mibeacon: docs/ble.md §3.2 v4/v5 frames parse and decrypt", "[xiaomi_ble][vectors]") {
  for (const CcmVector& vector : kCcmVectors) {
    CAPTURE(vector.name);
    const Bytes frame = hex(vector.frame);
    const Result<MiBeacon> beacon = parse_mibeacon(frame);
    if (!beacon) FAIL(beacon.error().describe());
    CHECK(beacon->encryption == Encryption::ccm);
    CHECK(beacon->product_id == vector.product_id);
    CHECK(beacon->frame_counter == vector.frame_counter);
    CHECK(beacon->extended_counter == vector.extended_counter);
    CHECK(beacon->full_counter() == (vector.frame_counter | vector.extended_counter << 8));
    CHECK(beacon->has_full_counter());
    CHECK(beacon->mac.has_value() == vector.mac_in_frame);
    if (vector.mac_in_frame) CHECK(format_mac(*beacon->mac) == vector.mac);
    CHECK(beacon->mic.size() == 4);
    CHECK(to_hex(beacon->mic) == to_hex(ByteView(frame).last(4)));
    CHECK(to_hex(ccm_nonce(*beacon, mac(vector.mac))) == vector.nonce);

    const Result<Bytes> objects = decrypt_mibeacon(*beacon, hex(vector.key), mac(vector.mac));
    if (!objects) FAIL(objects.error().describe());
    CHECK(to_hex(*objects) == vector.objects);

    // Re-encrypting the plaintext under the same counter rebuilds the captured frame exactly.
    CHECK(to_hex(encode_mibeacon(*beacon, *objects, hex(vector.key), mac(vector.mac))) == vector.frame);

    const DecodedAdvert advert = decode_ok(vector.frame, vector.mac, vector.key);
    CHECK(advert.decrypted);
    REQUIRE(advert.product != nullptr);
    CHECK(advert.objects.rejected.empty());
    CHECK(advert.objects.raw.empty());
    CHECK_FALSE(advert.objects.readings.empty());
  }
}

TEST_CASE("mibeacon: docs/ble.md §3.2 v4/v5 frames give the expected values", "[xiaomi_ble][vectors]") {
  const auto decode = [](const char* name) {
    for (const CcmVector& vector : kCcmVectors) {
      if (std::string_view(vector.name) == name) return decode_ok(vector.frame, vector.mac, vector.key);
    }
    FAIL("no vector " << name);
    return DecodedAdvert{};
  };
  // BM asserts 46.7; xiaomi-ble truncates this model's humidity to 46 — we keep the device's 0.1 %.
  DecodedAdvert a = decode("V16");
  CHECK(a.product->model == "LYWSD03MMC");
  check_value(a.objects, Quantity::humidity, 46.7);
  a = decode("V17");
  CHECK(a.product->model == "CGG1-ENCRYPTED");
  check_value(a.objects, Quantity::humidity, 59.6);
  a = decode("V18");
  check_value(a.objects, Quantity::temperature, 22.6);
  a = decode("V19");
  check_value(a.objects, Quantity::temperature, 23.8);  // float 23.7999992…, the device meant 23.8
  a = decode("V20");
  check_value(a.objects, Quantity::humidity, 58);
  a = decode("V21");
  CHECK(a.product->product_id == 0x2542);
  check_value(a.objects, Quantity::temperature, 26.1);
  a = decode("V22");
  check_value(a.objects, Quantity::humidity, 45.0);
  a = decode("V23");
  check_value(a.objects, Quantity::opening, 1);
  check_value(a.objects, Quantity::door_left_open, 1);
  a = decode("V24");
  check_value(a.objects, Quantity::smoke, 1);
  a = decode("V25");
  check_value(a.objects, Quantity::motion, 1);
  check_value(a.objects, Quantity::light, 1);
  a = decode("V26");
  check_value(a.objects, Quantity::motion, 0);
  check_value(a.objects, Quantity::no_motion_time, 30);
  a = decode("V27");
  check_value(a.objects, Quantity::humidity, 39);
  a = decode("V28");
  check_value(a.objects, Quantity::opening, 1);
  a = decode("V29");
  check_value(a.objects, Quantity::motion, 0);
  check_value(a.objects, Quantity::no_motion_time, 60);
  a = decode("V30");
  check_value(a.objects, Quantity::motion, 1);
  check_value(a.objects, Quantity::illuminance, 51);
  a = decode("V31");
  check_value(a.objects, Quantity::occupancy, 1);
  a = decode("V32");
  CHECK(a.beacon.frame_control.request_timing);
  check_value(a.objects, Quantity::battery, 100);
  a = decode("V33");
  REQUIRE(a.objects.button_event().has_value());
  CHECK(*a.objects.button_event() == ButtonEvent{0, PressKind::single, 0});
  a = decode("V34");
  check_value(a.objects, Quantity::toothbrush, 0);
  check_value(a.objects, Quantity::toothbrush_score, 83);
  a = decode("S1");
  CHECK(a.beacon.frame_control.version == 4);
  check_value(a.objects, Quantity::temperature, 21.5);
  check_value(a.objects, Quantity::humidity, 45.0);
}

TEST_CASE("mibeacon: docs/ble.md §3.3 legacy v2/v3 frames", "[xiaomi_ble][vectors]") {
  for (const LegacyVector& vector : kLegacyVectors) {
    CAPTURE(vector.name);
    const Result<MiBeacon> beacon = parse_mibeacon(hex(vector.frame));
    if (!beacon) FAIL(beacon.error().describe());
    CHECK(beacon->encryption == Encryption::legacy);
    CHECK(beacon->frame_counter == vector.frame_counter);
    CHECK(beacon->mic.size() == 1);
    CHECK(to_hex(legacy_nonce(*beacon, mac(vector.mac))) == vector.nonce);
    const Result<Bytes> objects = decrypt_mibeacon(*beacon, hex(vector.key), mac(vector.mac));
    if (!objects) FAIL(objects.error().describe());
    CHECK(to_hex(*objects) == vector.objects);
    // The expanded 16-byte key works too; a 16-byte key of any other form is the wrong kind.
    CHECK(decrypt_mibeacon(*beacon, hex("b853075158488d3d3c977ca39a5b5ea9"), mac(vector.mac)));
    const Result<Bytes> wrong_kind = decrypt_mibeacon(*beacon, hex("e9ea895fac7cca6d30532432a516f3a8"), mac(vector.mac));
    REQUIRE_FALSE(wrong_kind);
    CHECK(wrong_kind.error().kind == ErrorKind::authentication);
    CHECK_THAT(wrong_kind.error().what, Catch::Contains("24 hex digits"));
    CHECK(to_hex(encode_mibeacon(*beacon, *objects, hex(vector.key), mac(vector.mac))) == vector.frame);
  }
  // V35: dimmer short press, 1 press; V36: rotate left 1 step; S2: button 0 single press.
  DecodedAdvert a = decode_ok(kLegacyVectors[0].frame, kLegacyVectors[0].mac, kLegacyVectors[0].key);
  CHECK(a.product->model == "YLKG07YL/YLKG08YL");
  CHECK(a.decrypted);
  CHECK(*a.objects.button_event() == ButtonEvent{0, PressKind::single, 1});
  a = decode_ok(kLegacyVectors[1].frame, kLegacyVectors[1].mac, kLegacyVectors[1].key);
  CHECK(*a.objects.button_event() == ButtonEvent{0, PressKind::rotate, -1});
  a = decode_ok(kLegacyVectors[2].frame, kLegacyVectors[2].mac, kLegacyVectors[2].key);
  CHECK(a.product->model == "YLYK01YL");
  CHECK(*a.objects.button_event() == ButtonEvent{0, PressKind::single, 0});
}

// ---- negative cases of §3.3 --------------------------------------------------------------------

TEST_CASE("mibeacon: V37 wrong legacy key fails the check byte", "[xiaomi_ble][vectors]") {
  // The wrong key decrypts to garbage 7bd9e99d72f0 whose M=16 tag starts with b5, not 99.
  const Result<DecodedAdvert> advert = decode_advert(hex("5830b603d28b98c54124f8c3491476757e00000099"),
                                                     mac("F8:24:41:C5:98:8B"), hex("b853075158487aa39a5b5ea9"));
  REQUIRE_FALSE(advert);
  CHECK(advert.error().kind == ErrorKind::authentication);
  CHECK(advert.error().offset == 20);  // the check byte
}

TEST_CASE("mibeacon: V38/V39 MIC failures publish nothing", "[xiaomi_ble][vectors]") {
  const Bytes v38 = hex("58598d0a170fc4e044ef547cc27a5c03a1000000790df258");
  for (const char* key : {"814aac74c4f17b6c1581e1ab87816b99", "FFD8CE9C08AE7533A79BDAF0BB755E96"}) {
    CAPTURE(key);
    const Result<DecodedAdvert> advert = decode_advert(v38, mac("54:EF:44:E0:C4:0F"), hex(key));
    REQUIRE_FALSE(advert);
    CHECK(advert.error().kind == ErrorKind::authentication);
    CHECK(advert.error().offset == v38.size() - 4);
    CHECK_THAT(advert.error().what, Catch::Contains("54:EF:44:E0:C4:0F"));
  }
  // V39: a garbled frame of the same device; structurally a frame, its MIC fails.
  const Result<DecodedAdvert> v39 = decode_advert(hex("58598d0a180fc4e044ef547cc27a5c03a100000079"),
                                                  mac("54:EF:44:E0:C4:0F"), hex("814aac74c4f17b6c1581e1ab87816b99"));
  REQUIRE_FALSE(v39);
  CHECK(v39.error().kind == ErrorKind::authentication);
}

TEST_CASE("mibeacon: V40/V41 tell the needed key without one", "[xiaomi_ble][vectors]") {
  // V40: V17 without a key → v4/v5 scheme, a 32-hex-digit key needed.
  const Bytes v17 = hex(kCcmVectors[1].frame);
  const Result<MiBeacon> ccm = parse_mibeacon(v17);
  REQUIRE(ccm);
  CHECK(ccm->encryption == Encryption::ccm);
  Result<DecodedAdvert> advert = decode_advert(v17, mac(kCcmVectors[1].mac), {});
  REQUIRE_FALSE(advert);
  CHECK(advert.error().kind == ErrorKind::authentication);
  CHECK_THAT(advert.error().what, Catch::Contains("32-hex-digit"));
  // A 12-byte key for a v5 frame is the wrong kind.
  advert = decode_advert(v17, mac(kCcmVectors[1].mac), hex("b853075158487ca39a5b5ea9"));
  REQUIRE_FALSE(advert);
  CHECK(advert.error().kind == ErrorKind::authentication);
  CHECK_THAT(advert.error().what, Catch::Contains("32 hex digits"));
  // V41: V35 without a key → legacy scheme, a 24-hex-digit key.
  const Bytes v35 = hex(kLegacyVectors[0].frame);
  const Result<MiBeacon> legacy = parse_mibeacon(v35);
  REQUIRE(legacy);
  CHECK(legacy->encryption == Encryption::legacy);
  advert = decode_advert(v35, mac(kLegacyVectors[0].mac), {});
  REQUIRE_FALSE(advert);
  CHECK_THAT(advert.error().what, Catch::Contains("24-hex-digit"));
  CHECK(encryption_name(Encryption::ccm) == "ccm");
  CHECK(encryption_name(Encryption::legacy) == "legacy");
}

TEST_CASE("mibeacon: V42 unknown product id still decodes, without a product", "[xiaomi_ble][vectors]") {
  const DecodedAdvert advert = decode_ok("5020ffffa3bf2e3b342d580d1004b40095020a10013b", "58:2D:34:3B:2E:BF", "");
  CHECK(advert.beacon.product_id == 0xFFFF);
  CHECK(advert.product == nullptr);
  CHECK(format_mac(advert.mac) == "58:2D:34:3B:2E:BF");
  // Generic objects carry no model-specific meaning: they decode as for any device.
  check_value(advert.objects, Quantity::temperature, 18.0);
  check_value(advert.objects, Quantity::battery, 59);
}

// ---- structure errors ----------------------------------------------------------------------------

TEST_CASE("mibeacon: structure errors carry offsets", "[xiaomi_ble]") {
  struct Bad {
    const char* frame;
    std::size_t offset;
    const char* says;
  };
  const Bad cases[] = {
      {"", 0, "truncated"},
      {"58585b05", 4, "truncated"},
      {"d8585b0550f4830238c1a495ef58763c26000097e2abb5", 0, "mesh"},         // FC bit 7
      {"5010aa01a3bf2e3b342d580d1004b40095020a10013b", 0, "version 1"},      // v1
      {"5020aa01a3bf2e3b342d", 10, "MAC"},                                   // MAC cut
      {"7120980012f34f6b8d7c", 10, "MAC"},
      {"7120980012f34f6b8d7cc4", 11, "capability"},                          // capability missing
      {"7120980012f34f6b8d7cc42d", 12, "I/O capability"},                    // cap bit 5, no I/O byte
      {"5020aa01a3bf2e3b342d580d10", 13, "object"},                          // < 3 object bytes
      {"58585b0550f4830238c1a495ef58763c260000", 19, "MIC"},                 // ccm: < 10 bytes after header
      {"5830b603d28b98c54124f8c34914", 14, "MIC"},                           // legacy: < 7
      {"5020aa01a3bf2e3b342d580d1004b40095020a10013b000000000000000000000000", 31, "oversized"},
  };
  for (const Bad& bad : cases) {
    CAPTURE(bad.frame);
    const Result<MiBeacon> beacon = parse_mibeacon(hex(bad.frame));
    REQUIRE_FALSE(beacon);
    CHECK(beacon.error().kind == ErrorKind::malformed);
    CHECK(beacon.error().offset == bad.offset);
    CHECK_THAT(beacon.error().what, Catch::Contains(bad.says));
  }
  // The I/O capability byte, when announced, is read (1 byte, as every parser does).
  const Result<MiBeacon> io = parse_mibeacon(hex("7120980012f34f6b8d7cc42d07041002c400"));
  REQUIRE(io);
  CHECK(io->capability == 0x2d);
  CHECK(io->io_capability == 0x07);
  CHECK(to_hex(io->payload) == "041002c400");
  // 31 bytes is still a frame.
  CHECK(parse_mibeacon(hex("5020aa01a3bf2e3b342d580d1004b40095020a10013b0a10013b0a10013b")));
  // A frame whose MAC is not the advertiser's is refused (relayed or spoofed).
  const Result<DecodedAdvert> other = decode_advert(hex(kPlainVectors[0].frame), mac("11:22:33:44:55:66"), {});
  REQUIRE_FALSE(other);
  CHECK(other.error().offset == 5);
  CHECK_THAT(other.error().what, Catch::Contains("58:2D:34:3B:2E:BF"));
  // Object TLV errors are reported at frame offsets.
  const Result<DecodedAdvert> overrun =
      decode_advert(hex("5020aa01a3bf2e3b342d580d1005b40095020a10013b"), mac("58:2D:34:3B:2E:BF"), {});
  REQUIRE_FALSE(overrun);
  CHECK(overrun.error().offset == 19);  // 11 header bytes + the second object header at 8
  // Decrypting a plain frame is a caller error, reported as such.
  const Result<MiBeacon> plain = parse_mibeacon(hex(kPlainVectors[0].frame));
  REQUIRE(plain);
  const Result<Bytes> not_encrypted = decrypt_mibeacon(*plain, hex(kCcmVectors[0].key), mac(kPlainVectors[0].mac));
  REQUIRE_FALSE(not_encrypted);
  CHECK(not_encrypted.error().kind == ErrorKind::malformed);
}

TEST_CASE("mibeacon: every truncation of every vector fails or decodes a prefix", "[xiaomi_ble][truncation]") {
  struct Any {
    std::string frame, mac, key;
  };
  std::vector<Any> all;
  for (const CcmVector& v : kCcmVectors) all.push_back({v.frame, v.mac, v.key});
  for (const LegacyVector& v : kLegacyVectors) all.push_back({v.frame, v.mac, v.key});
  for (const PlainVector& v : kPlainVectors) all.push_back({v.frame, v.mac, ""});
  all.push_back({"58598d0a170fc4e044ef547cc27a5c03a1000000790df258", "54:EF:44:E0:C4:0F", "814aac74c4f17b6c1581e1ab87816b99"});
  for (const Any& vector : all) {
    const Bytes frame = hex(vector.frame);
    const Bytes key = vector.key.empty() ? Bytes{} : hex(vector.key);
    const Result<DecodedAdvert> full = decode_advert(frame, mac(vector.mac), key);
    for (std::size_t size = 0; size < frame.size(); ++size) {
      CAPTURE(vector.frame, size);
      const ByteView prefix = ByteView(frame).first(size);
      const Result<DecodedAdvert> cut = decode_advert(prefix, mac(vector.mac), key);
      if (!cut) {
        CHECK(cut.error().offset <= size);
        continue;
      }
      // Only a plain frame cut exactly after an object can still be a frame; it then says less,
      // never something else.
      REQUIRE(full);
      CHECK(cut->beacon.encryption == Encryption::none);
      const std::vector<Reading>& all_readings = full->objects.readings;
      const std::vector<Reading>& some = cut->objects.readings;
      REQUIRE(some.size() < all_readings.size());
      CHECK(std::equal(some.begin(), some.end(), all_readings.begin()));
    }
  }
}

TEST_CASE("mibeacon: every one-bit flip of an encrypted frame fails its MIC", "[xiaomi_ble][bitflip]") {
  int decrypted_flips = 0;  // frame-control flips that keep the layout (version 5 ↔ 4/7, flags)
  for (const CcmVector& vector : kCcmVectors) {
    const Bytes frame = hex(vector.frame);
    const Bytes key = hex(vector.key);
    const MacAddress advertiser = mac(vector.mac);
    const DecodedAdvert original = decode_ok(vector.frame, vector.mac, vector.key);
    for (std::size_t bit = 0; bit < frame.size() * 8; ++bit) {
      CAPTURE(vector.name, bit);
      Bytes flipped = frame;
      flipped[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
      if (bit >= 16) {
        // Product id, counter, MAC, ciphertext, extended counter and MIC are all authenticated:
        // the layout is unchanged, and the MIC must fail.
        const Result<MiBeacon> beacon = parse_mibeacon(flipped);
        REQUIRE(beacon);
        const Result<Bytes> objects = decrypt_mibeacon(*beacon, key, advertiser);
        REQUIRE_FALSE(objects);
        CHECK(objects.error().kind == ErrorKind::authentication);
        CHECK_FALSE(decode_advert(flipped, advertiser, key));
        continue;
      }
      // The frame control is not authenticated in v4/v5 (the AAD is the constant 0x11): a flip
      // there either breaks the frame, drops the objects (a presence beacon), turns the frame
      // into a "plain" one (decrypted == false: not authenticated, which a device with a key
      // drops — mibeacon.h), or leaves the same readings. Never different authenticated ones.
      const Result<DecodedAdvert> advert = decode_advert(flipped, advertiser, key);
      if (!advert || !advert->decrypted) continue;
      ++decrypted_flips;
      CHECK(advert->objects.readings == original.objects.readings);
    }
  }
  // Such flips exist (the frame control is not authenticated) and never changed a reading.
  CHECK(decrypted_flips > 0);
}

TEST_CASE("mibeacon: one-bit flips of legacy frames never yield different readings", "[xiaomi_ble][bitflip]") {
  // The v2/v3 check is one byte: a flip passes it once in 256, then the object checks usually
  // catch the garbage (the frame control is in the legacy nonce, so its flips change the whole
  // keystream). That is the scheme's inherent weakness: a flipped data bit that passes the check
  // and keeps a valid object would read as a different value. In these vectors one flip (V35
  // bit 91: object id 0x1001 → 0x1009) passes the check and its object is rejected for its
  // length; none yields a reading.
  int passed = 0;
  int rejected = 0;
  for (const LegacyVector& vector : kLegacyVectors) {
    const Bytes frame = hex(vector.frame);
    const DecodedAdvert original = decode_ok(vector.frame, vector.mac, vector.key);
    for (std::size_t bit = 0; bit < frame.size() * 8; ++bit) {
      CAPTURE(vector.name, bit);
      Bytes flipped = frame;
      flipped[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
      const Result<DecodedAdvert> advert = decode_advert(flipped, mac(vector.mac), hex(vector.key));
      if (!advert || !advert->decrypted) continue;
      if (advert->objects.readings.empty()) {
        CHECK_FALSE(advert->objects.rejected.empty());
        ++rejected;
        continue;
      }
      ++passed;
      CHECK(advert->objects.readings == original.objects.readings);
    }
  }
  CHECK(passed == 0);
  CHECK(rejected == 1);
}

TEST_CASE("mibeacon: encode refuses what no device could send", "[xiaomi_ble]") {
  const Result<MiBeacon> beacon = parse_mibeacon(hex(kCcmVectors[0].frame));
  REQUIRE(beacon);
  // Wrong key size for the scheme.
  CHECK(encode_mibeacon(*beacon, hex("061002d301"), hex("b853075158487ca39a5b5ea9"), mac(kCcmVectors[0].mac)).empty());
  // Longer than 31 bytes.
  CHECK(encode_mibeacon(*beacon, Bytes(20, 0x00), hex(kCcmVectors[0].key), mac(kCcmVectors[0].mac)).empty());
  // A new counter gives a different frame that decodes to the same objects.
  MiBeacon next = *beacon;
  next.frame_counter = 81;
  const Bytes frame = encode_mibeacon(next, hex("061002d301"), hex(kCcmVectors[0].key), mac(kCcmVectors[0].mac));
  REQUIRE_FALSE(frame.empty());
  CHECK(to_hex(frame) != kCcmVectors[0].frame);
  const DecodedAdvert advert = decode_ok(to_hex(frame), kCcmVectors[0].mac, kCcmVectors[0].key);
  CHECK(advert.beacon.frame_counter == 81);
  check_value(advert.objects, Quantity::humidity, 46.7);
}
