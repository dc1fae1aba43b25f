// Mi Home backups (docs/mihome_backup.md): the iOS token vectors, the Android backup container
// (plain, uncompressed, encrypted v5 and v1, WAL database), the tar and database readers, miot.xml,
// and one case per bad input, each with its own error. The fixtures in tests/data/backups/ are made by
// tests/tools/make_mihome_backups.py with Python's sqlite3/tarfile/zlib and python3-cryptography, so
// the readers are checked against an independent writer.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <string>

#include "protocols/common/bytes.h"
#include "protocols/mihome_backup/android_backup.h"
#include "protocols/mihome_backup/backup_reader.h"
#include "protocols/mihome_backup/mihome_databases.h"

using namespace cloudless;
using namespace cloudless::mihome_backup;

namespace {

Bytes fixture(const std::string& name) {
  std::ifstream in(std::string(CLOUDLESS_SOURCE_DIR) + "/tests/data/backups/" + name, std::ios::binary);
  REQUIRE(in.good());
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Bytes bytes_of(std::string_view text) { return Bytes(text.begin(), text.end()); }

const std::optional<std::string> kPassword = std::string("correct horse");
const std::optional<std::string> kNoPassword;

struct ExpectedDevice {
  const char* name;
  const char* model;
  const char* ip;
  const char* mac;
  const char* did;
  const char* token;
  const char* source;
};

// The devices of make_mihome_backups.py ANDROID_DEVICES (minus the gateway, which has no token) and
// YEELIGHT_DEVICES, in file order: miio2.db first, then miot.xml.
const ExpectedDevice kAndroidDevices[] = {
    {"Desk plug", "chuangmi.plug.v3", "192.168.1.50", "78:11:DC:00:00:01", "100000001",
     "00112233445566778899aabbccddeeff", "devicerecord"},
    {"Hallway plug", "chuangmi.plug.212a01", "192.168.1.51", "78:11:DC:00:00:02", "100000002",
     "0123456789abcdef0123456789abcdef", "devicerecord"},
    {"Bedroom sensor", "miaomiaoce.sensor_ht.t2", "", "A4:C1:38:00:00:03", "blt.3.1a2b3c4d5e6f",
     "aabbccddeeff001122334455", "devicerecord"},
    {"Kettle", "yunmi.kettle.v2", "", "F8:24:41:00:00:04", "blt.4.kettle000001", "112233445566778899aabbcc",
     "devicerecord"},
    {"Vacuum \"Rocky\"", "roborock.vacuum.s5", "192.168.1.60", "64:90:C1:00:00:05", "100000005",
     "fedcba9876543210fedcba9876543210", "devicerecord"},
    {"Lamp & <shade>", "yeelink.light.color1", "192.168.1.70", "7C:49:EB:00:00:07", "200000001",
     "99887766554433221100ffeeddccbbaa", "miot.xml"},
};

void check_devices(const std::vector<DeviceRecord>& found, std::span<const ExpectedDevice> expected) {
  REQUIRE(found.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    CHECK(found[i].name == expected[i].name);
    CHECK(found[i].model == expected[i].model);
    CHECK(found[i].ip == expected[i].ip);
    CHECK(found[i].mac == expected[i].mac);
    CHECK(found[i].did == expected[i].did);
    CHECK(found[i].token == expected[i].token);
    CHECK(found[i].source == expected[i].source);
  }
}

std::string error_of(ByteView file, const std::optional<std::string>& password, const BackupLimits& limits = {}) {
  const auto read = read_backup(file, password, limits);
  REQUIRE_FALSE(read.has_value());
  return read.error().what;
}

}  // namespace

TEST_CASE("iOS ZTOKEN: AES-128-ECB under a zero key, 64 or 96 hex digits") {
  // Token 00112233445566778899aabbccddeeff encrypted as the iOS app does: its 32 ASCII characters are
  // two AES blocks; the app's 96-digit form adds the PKCS#7 block (0x10 × 16) encrypted.
  const std::string two_blocks = "33990d1a77737e5f93337b7f60880f7711a8e945937ce8136da08d4c9a0793fe";
  CHECK(decrypt_ios_token(two_blocks) == "00112233445566778899aabbccddeeff");
  CHECK(decrypt_ios_token(two_blocks + "0143db63ee66b0cdff9f69917680151e") == "00112233445566778899aabbccddeeff");
  // Upper-case hex is hex too.
  std::string upper = two_blocks;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  CHECK(decrypt_ios_token(upper) == "00112233445566778899aabbccddeeff");
  // 32 characters or fewer: stored in clear by older app versions.
  CHECK(decrypt_ios_token("0f0e0d0c0b0a09080706050403020100") == "0f0e0d0c0b0a09080706050403020100");
  // Longer but not hex, or hex that decrypts to bytes that are no text: not a token.
  CHECK_FALSE(decrypt_ios_token(std::string(64, 'z')).has_value());
  CHECK_FALSE(decrypt_ios_token(std::string(64, '0')).has_value());
  CHECK_FALSE(decrypt_ios_token(two_blocks.substr(0, 40)).has_value());  // 20 bytes: not whole blocks
}

TEST_CASE("Java's byte → char → UTF-8 conversion of the master key") {
  // 0x41 stays 'A'; 0x80 is (char)(byte)0x80 = U+FF80 → EF BE 80; 0xFF → U+FFFF → EF BF BF.
  const Bytes key = {0x41, 0x7F, 0x80, 0xFF};
  CHECK(to_hex(java_utf8_of_bytes(key)) == "417fefbe80efbfbf");
  CHECK(java_utf8_of_bytes({}).empty());
}

TEST_CASE("Android backup header") {
  SECTION("plain: version, compression, no encryption, payload right after the four lines") {
    const auto header = parse_android_backup_header(fixture("android_plain.ab"));
    REQUIRE(header.has_value());
    CHECK(header->version == 5);
    CHECK(header->compressed);
    CHECK_FALSE(header->encrypted);
    CHECK(header->payload_offset == std::string_view("ANDROID BACKUP\n5\n1\nnone\n").size());
  }
  SECTION("encrypted: salts, rounds, IV and blob") {
    const auto header = parse_android_backup_header(fixture("android_encrypted.ab"));
    REQUIRE(header.has_value());
    CHECK(header->encrypted);
    CHECK(header->user_salt.size() == 64);
    CHECK(header->checksum_salt.size() == 64);
    CHECK(header->rounds == 10000);
    CHECK(to_hex(header->user_iv) == "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
    CHECK(header->master_key_blob.size() == 96);  // 1+16+1+32+1+32 = 83 bytes, padded to 96
  }
  SECTION("the master key unlocks with the password, not without") {
    const auto header = parse_android_backup_header(fixture("android_encrypted.ab"));
    REQUIRE(header.has_value());
    const auto master = unlock_master_key(*header, "correct horse");
    REQUIRE(master.has_value());
    CHECK(to_hex(master->iv) == "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf");
    CHECK(master->key.size() == 32);
    CHECK(master->key[0] == 0xE0);
    const auto wrong = unlock_master_key(*header, "Correct horse");
    REQUIRE_FALSE(wrong.has_value());
    CHECK(wrong.error().kind == ErrorKind::authentication);
  }
}

// A header with one line changed, each rejected with a sentence naming that field.
struct BadHeader {
  const char* text;
  const char* error;
};
const BadHeader kBadHeaders[] = {
    {"ANDROID BACKUP\n9\n1\nnone\n", "unsupported Android backup version"},
    {"ANDROID BACKUP\nfive\n1\nnone\n", "unsupported Android backup version"},
    {"ANDROID BACKUP\n5\n2\nnone\n", "compression flag"},
    {"ANDROID BACKUP\n5\n1\nDES\n", "unsupported Android backup encryption"},
    {"ANDROID BACKUP\n5\n1\nAES-256\nXYZ\n00\n10000\n00\n00\n", "bad Android backup user salt"},
    {"ANDROID BACKUP\n5\n1\nAES-256\n00\n00\n0\n00\n00\n", "PBKDF2 round count"},
    {"ANDROID BACKUP\n5\n1\nAES-256\n00\n00\n10000\n0011\n00\n", "user IV"},
    {"ANDROID BACKUP\n5\n1\nAES-256\n00\n00\n10000\n", "truncated Android backup: the header ends before its user IV"},
    {"ANDROID BACKUP\n5", "truncated Android backup: the header ends before its version"},
};

TEST_CASE("Android backup header: each bad field has its own error") {
  for (const BadHeader& bad : kBadHeaders) {
    CAPTURE(bad.text);
    const auto header = parse_android_backup_header(bytes_of(bad.text));
    REQUIRE_FALSE(header.has_value());
    CHECK_THAT(header.error().what, Catch::Contains(bad.error));
  }
}

TEST_CASE("Android backups give the devices of miio2.db and miot.xml") {
  const char* name = GENERATE("android_plain.ab", "android_uncompressed.ab", "unpacked.tar");
  CAPTURE(name);
  const Bytes file = fixture(name);
  const auto contents = read_backup(file, kNoPassword);
  REQUIRE(contents.has_value());
  check_devices(contents->devices, kAndroidDevices);
}

TEST_CASE("encrypted Android backups: version 5 (Java checksum) and version 1 (plain checksum)") {
  const char* name = GENERATE("android_encrypted.ab", "android_encrypted_v1.ab");
  CAPTURE(name);
  const Bytes file = fixture(name);
  CHECK(backup_needs_password(file));
  const auto contents = read_backup(file, kPassword);
  REQUIRE(contents.has_value());
  CHECK(contents->kind == BackupKind::android_backup);
  check_devices(contents->devices, kAndroidDevices);

  const auto wrong = read_backup(file, std::string("wrong"));
  REQUIRE_FALSE(wrong.has_value());
  CHECK(wrong.error().kind == ErrorKind::authentication);
  CHECK(wrong.error().what == "wrong password for this encrypted backup");
  CHECK_THAT(error_of(file, kNoPassword), Catch::Contains("encrypted and no password"));
}

TEST_CASE("a WAL-mode miio2.db is read from memory") {
  const auto contents = read_backup(fixture("android_wal_database.ab"), kNoPassword);
  REQUIRE(contents.has_value());
  check_devices(contents->devices, std::span(kAndroidDevices).first(5));
}

TEST_CASE("a backup of the Yeelight app alone") {
  const auto contents = read_backup(fixture("yeelight_only.ab"), kNoPassword);
  REQUIRE(contents.has_value());
  check_devices(contents->devices, std::span(kAndroidDevices).subspan(5));
}

TEST_CASE("SQLite files given directly: miio2.db and the iOS database") {
  SECTION("miio2.db") {
    const auto contents = read_backup(fixture("miio2.db"), kNoPassword);
    REQUIRE(contents.has_value());
    CHECK(contents->kind == BackupKind::sqlite);
    check_devices(contents->devices, std::span(kAndroidDevices).first(5));
  }
  SECTION("iOS ZDEVICE: 64-digit, 96-digit and plain ZTOKEN") {
    const ExpectedDevice ios[] = {
        {"Desk plug", "chuangmi.plug.v3", "192.168.1.50", "78:11:DC:00:00:01", "100000001",
         "00112233445566778899aabbccddeeff", "ZDEVICE"},
        {"Hallway plug", "chuangmi.plug.212a01", "192.168.1.51", "78:11:DC:00:00:02", "100000002",
         "0123456789abcdef0123456789abcdef", "ZDEVICE"},
        {"Old plug", "chuangmi.plug.m1", "192.168.1.59", "78:11:DC:00:00:09", "100000009",
         "0f0e0d0c0b0a09080706050403020100", "ZDEVICE"},
    };
    const auto contents = read_backup(fixture("ios_mihome.sqlite"), kNoPassword);
    REQUIRE(contents.has_value());
    check_devices(contents->devices, ios);
  }
}

TEST_CASE("bad inputs: each with its own error") {
  SECTION("not a backup at all") {
    CHECK_THAT(error_of(bytes_of("hello, world\n"), kNoPassword), Catch::Contains("not a Mi Home backup"));
    CHECK_THAT(error_of(Bytes{}, kNoPassword), Catch::Contains("not a Mi Home backup"));
  }
  SECTION("an archive without Mi Home data") {
    CHECK_THAT(error_of(fixture("no_mihome.ab"), kNoPassword), Catch::Contains("no Mi Home data in the archive"));
  }
  SECTION("a database without the tables") {
    CHECK_THAT(error_of(fixture("no_tables.sqlite"), kNoPassword),
               Catch::Contains("neither devicerecord nor ZDEVICE"));
  }
  SECTION("a corrupt database") {
    Bytes database = fixture("miio2.db");
    std::fill(database.begin() + 100, database.end(), 0xA5);
    CHECK_THAT(error_of(database, kNoPassword), Catch::Contains("cannot read the database"));
  }
  SECTION("a corrupt miio2.db inside a backup names the member") {
    Bytes database = fixture("miio2.db");
    database.resize(50);  // "SQLite format 3" and then nothing
    CHECK_THAT(error_of(database, kNoPassword), Catch::Contains("not an SQLite database"));
  }
  SECTION("a decompression bomb stops at the bound") {
    BackupLimits limits;
    limits.max_tar_bytes = 4096;
    CHECK_THAT(error_of(fixture("android_plain.ab"), kNoPassword, limits), Catch::Contains("decompression bomb"));
  }
  SECTION("a member larger than the bound") {
    BackupLimits limits;
    limits.max_member_bytes = 1024;
    CHECK_THAT(error_of(fixture("android_plain.ab"), kNoPassword, limits),
               Catch::Contains("apps/com.xiaomi.smarthome/db/miio2.db is larger than"));
  }
}

TEST_CASE("every truncation of a compressed backup fails, none crashes") {
  const Bytes file = fixture("android_plain.ab");
  for (std::size_t length = 0; length < file.size(); ++length) {
    CAPTURE(length);
    CHECK_FALSE(read_backup(ByteView(file).first(length), kNoPassword).has_value());
  }
}

TEST_CASE("truncations of an encrypted backup fail") {
  const Bytes file = fixture("android_encrypted.ab");
  const auto header = parse_android_backup_header(file);
  REQUIRE(header.has_value());
  // Every cut in the header; then cuts in the payload (each costs the PBKDF2 rounds, so a stride),
  // including the last block, where only the padding check can tell.
  for (std::size_t length = 0; length < file.size(); length += length < header->payload_offset ? 1 : 37) {
    CAPTURE(length);
    CHECK_FALSE(read_backup(ByteView(file).first(length), kPassword).has_value());
  }
  for (std::size_t cut : {1, 15, 16, 17}) {
    CAPTURE(cut);
    const auto error = error_of(ByteView(file).first(file.size() - cut), kPassword);
    CHECK_THAT(error, Catch::Contains("truncated") || Catch::Contains("corrupt"));
  }
}

// Deflate has bits that change nothing (e.g. code lengths in the dynamic Huffman header of symbols the
// block never uses): Python's zlib inflates such a file to the very same bytes. So the promise is: a
// changed byte is an error, or the devices read are exactly the original ones — never different data.
TEST_CASE("a changed byte anywhere in a compressed payload is noticed or changes nothing") {
  const Bytes original = fixture("android_plain.ab");
  const auto header = parse_android_backup_header(original);
  REQUIRE(header.has_value());
  std::size_t noticed = 0;
  for (std::size_t at = header->payload_offset; at < original.size(); ++at) {
    CAPTURE(at);
    Bytes file = original;
    file[at] ^= 0x01;
    const auto read = read_backup(file, kNoPassword);
    if (!read.has_value()) {
      ++noticed;
      continue;
    }
    check_devices(read->devices, kAndroidDevices);
  }
  CHECK(noticed > (original.size() - header->payload_offset) * 9 / 10);
}

TEST_CASE("a changed byte in an encrypted payload is noticed") {
  const Bytes original = fixture("android_encrypted.ab");
  const auto header = parse_android_backup_header(original);
  REQUIRE(header.has_value());
  // The last block: its padding breaks. The one before: it garbles the zlib trailer (Adler-32).
  for (std::size_t from_end : {1, 16, 17, 32, 200}) {
    CAPTURE(from_end);
    Bytes file = original;
    file[file.size() - from_end] ^= 0x01;
    CHECK_FALSE(read_backup(file, kPassword).has_value());
  }
}

TEST_CASE("miot.xml: the deviceList set, XML-escaped JSON") {
  SECTION("escapes") {
    CHECK(xml_unescape("&lt;a&gt; &amp;&quot;&apos; &#65;&#x42; &#x20AC; & lone") == "<a> &\"' AB \xE2\x82\xAC & lone");
  }
  SECTION("entries") {
    const auto devices = read_yeelight_device_list(
        "<map><set name=\"deviceList\"><string>{&quot;localip&quot;:&quot;10.0.0.2&quot;,&quot;mac&quot;:"
        "&quot;AA:BB:CC:DD:EE:FF&quot;,&quot;model&quot;:&quot;yeelink.light.lamp1&quot;,&quot;name&quot;:"
        "&quot;Desk &amp; lamp&quot;,&quot;token&quot;:&quot;00112233445566778899AABBCCDDEEFF&quot;}</string>"
        "<string>{&quot;name&quot;:&quot;no token&quot;}</string></set></map>");
    REQUIRE(devices.has_value());
    REQUIRE(devices->size() == 1);
    CHECK((*devices)[0].name == "Desk & lamp");
    CHECK((*devices)[0].ip == "10.0.0.2");
    CHECK((*devices)[0].token == "00112233445566778899aabbccddeeff");  // stored in lower case
  }
  SECTION("an empty set, or none: no devices") {
    CHECK(read_yeelight_device_list("<map><set name=\"deviceList\" /></map>")->empty());
    CHECK(read_yeelight_device_list("<map></map>")->empty());
  }
  SECTION("an entry that is not JSON") {
    const auto devices = read_yeelight_device_list("<set name=\"deviceList\"><string>{oops</string></set>");
    REQUIRE_FALSE(devices.has_value());
    CHECK_THAT(devices.error().what, Catch::Contains("not a JSON object"));
  }
}

TEST_CASE("kinds are told by content, not by name") {
  CHECK(detect_backup_kind(fixture("android_plain.ab")) == BackupKind::android_backup);
  CHECK(detect_backup_kind(fixture("unpacked.tar")) == BackupKind::tar);
  CHECK(detect_backup_kind(fixture("ios_mihome.sqlite")) == BackupKind::sqlite);
  CHECK(detect_backup_kind(bytes_of("ANDROID BACKUP")) == BackupKind::unknown);  // no newline: not the magic
  CHECK_FALSE(backup_needs_password(fixture("android_plain.ab")));
  CHECK_FALSE(backup_needs_password(fixture("miio2.db")));
}
