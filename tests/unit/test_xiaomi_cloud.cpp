// The Xiaomi cloud codec (protocols/xiaomi_cloud/): the rc4mi request crypto against the synthetic
// vectors of docs/xiaomi_cloud.md §3 (computed by an independent Python implementation:
// hashlib + python3-cryptography's ARC4), the login replies (with and without "&&&START&&&"), the API
// replies of the four calls, and the errors a user sees.
#include <catch2/catch.hpp>

#include <array>
#include <string>
#include <vector>

#include <qrencode.h>

#include "daemon/cli/terminal_qr.h"
#include "protocols/xiaomi_cloud/api_messages.h"
#include "protocols/xiaomi_cloud/login_messages.h"
#include "protocols/xiaomi_cloud/rc4mi.h"
#include "protocols/xiaomi_cloud/regions.h"

using namespace cloudless;
using namespace cloudless::xiaomi_cloud;

namespace {

// docs/xiaomi_cloud.md §3: ssecurity = bytes 00..0f; nonce = 0102030405060708 ‖ 01ba8140 (minute
// 29000000, i.e. unix ms 1740000000000); path and data of a blt_get_beaconkey call.
constexpr const char* kSsecurity = "AAECAwQFBgcICQoLDA0ODw==";
constexpr const char* kNonce = "AQIDBAUGBwgBuoFA";
constexpr const char* kSignedNonce = "OvTYd+kPHbQ1ydSQk+BfzPRIb6HFRVhbboouPVPgNro=";
constexpr const char* kPath = "/v2/device/blt_get_beaconkey";
constexpr const char* kData = R"({"did":"blt.3.abcdef","pdid":1})";
constexpr const char* kRc4Hash = "so2sskOg/Z2mKUuyNcONhzvg7xM=";
constexpr const char* kEncData = "JERjVv7k2qwBH7hb+/a+KXnkZic81FthUmPmhHI2rg==";
constexpr const char* kEncHash = "LAk1TOmtr+lMKf4Yg42qMlTjTA92gg92AXLPmw==";
constexpr const char* kSignature = "E87sqWLUkV5+MBJfUQNYvv/kZgI=";
constexpr const char* kResponse =
    "JERkUP6jwrRTX+4YrausKn3lIXs8lxIzGijwwztyv0J/w9bVrTO4csVPa3PdWYRIHxhoUUDC8FU5qpG8eWiXt25cj4K5p3ULeOxyDbWAmVYCP6g=";
constexpr const char* kResponsePlain =
    R"({"code":0,"message":"ok","result":{"beaconkey":"00112233445566778899aabbccddeeff"}})";

nlohmann::json result_of(const char* reply) {
  Result<nlohmann::json> result = parse_api_reply(reply);
  REQUIRE(result.has_value());
  return *result;
}

}  // namespace

TEST_CASE("rc4mi: nonce and signed nonce of the vectors") {
  const std::array<std::uint8_t, 8> random = {1, 2, 3, 4, 5, 6, 7, 8};
  CHECK(make_nonce(random, 1740000000000) == kNonce);
  CHECK(make_nonce(random, 1740000059999) == kNonce);  // same minute
  CHECK(make_nonce(random, 1740000060000) != kNonce);
  Result<std::string> signed_nonce = make_signed_nonce(kSsecurity, kNonce);
  REQUIRE(signed_nonce.has_value());
  CHECK(*signed_nonce == kSignedNonce);
}

TEST_CASE("rc4mi: rc4_hash__, ENC(data), ENC(hash) and signature of the vectors") {
  CHECK(request_hash("POST", kPath, {{"data", kData}}, kSignedNonce) == kRc4Hash);
  CHECK(encrypt_value(kSignedNonce, kData).value() == kEncData);
  CHECK(encrypt_value(kSignedNonce, kRc4Hash).value() == kEncHash);
  CHECK(request_hash("POST", kPath, {{"data", kEncData}, {"rc4_hash__", kEncHash}}, kSignedNonce) == kSignature);

  Result<EncryptedCall> call = encrypt_call(kPath, kData, kSsecurity, kNonce);
  REQUIRE(call.has_value());
  CHECK(call->signed_nonce == kSignedNonce);
  const std::vector<Param> expected = {{"data", kEncData},     {"rc4_hash__", kEncHash}, {"signature", kSignature},
                                       {"ssecurity", kSsecurity}, {"_nonce", kNonce}};
  CHECK(call->params == expected);
}

TEST_CASE("rc4mi: the reply of the vectors decrypts, and round-trips") {
  Result<std::string> plain = decrypt_reply(kSignedNonce, kResponse);
  REQUIRE(plain.has_value());
  CHECK(*plain == kResponsePlain);
  CHECK(decrypt_reply(kSignedNonce, encrypt_value(kSignedNonce, "{}").value()).value() == "{}");
  CHECK(parse_beaconkey(result_of(plain->c_str())).value() == "00112233445566778899aabbccddeeff");
}

TEST_CASE("rc4mi: bad inputs are errors, not crashes") {
  CHECK_FALSE(make_signed_nonce("", kNonce).has_value());
  CHECK_FALSE(make_signed_nonce(kSsecurity, "not base64!").has_value());
  CHECK_FALSE(encrypt_call(kPath, kData, "%%%", kNonce).has_value());
  CHECK_FALSE(decrypt_reply(kSignedNonce, "<html>502 Bad Gateway</html>").has_value());
  CHECK_FALSE(decrypt_reply("", kResponse).has_value());
  // Another nonce's key: the bytes decrypt, but to garbage the API parser rejects.
  const std::string other = make_signed_nonce(kSsecurity, "AQIDBAUGBwkBuoFA").value();
  Result<std::string> garbage = decrypt_reply(other, kResponse);
  REQUIRE(garbage.has_value());
  CHECK_FALSE(parse_api_reply(*garbage).has_value());
}

TEST_CASE("login: loginUrl reply with and without &&&START&&&") {
  const std::string json =
      R"({"qr":"https://account.xiaomi.com/qr.png","loginUrl":"https://account.xiaomi.com/l?d=1",)"
      R"("lp":"https://lp.account.xiaomi.com/lp/x","timeout":300,"code":0})";
  for (const std::string& body : {json, "&&&START&&&" + json, "  &&&START&&&\n" + json + "\n"}) {
    CAPTURE(body);
    Result<QrLoginOffer> offer = parse_login_url_reply(body);
    REQUIRE(offer.has_value());
    CHECK(offer->login_url == "https://account.xiaomi.com/l?d=1");
    CHECK(offer->long_poll_url == "https://lp.account.xiaomi.com/lp/x");
    CHECK(offer->qr_image_url == "https://account.xiaomi.com/qr.png");
    CHECK(offer->timeout == std::chrono::seconds(300));
  }
}

TEST_CASE("login: loginUrl errors say what is missing") {
  CHECK(parse_login_url_reply("").error().what.find("not JSON") != std::string::npos);
  CHECK(parse_login_url_reply("&&&START&&&[]").error().what.find("not a JSON object") != std::string::npos);
  CHECK(parse_login_url_reply(R"({"lp":"https://x/lp","timeout":60})").error().what.find("loginUrl") !=
        std::string::npos);
  CHECK(parse_login_url_reply(R"({"loginUrl":"https://x/l","lp":"https://x/lp"})").error().what.find("timeout") !=
        std::string::npos);
  CHECK(parse_login_url_reply(R"({"loginUrl":"https://x/l","lp":"https://x/lp","timeout":-1})").has_value() == false);
  const std::string refused = parse_login_url_reply(R"(&&&START&&&{"code":70016,"desc":"busy"})").error().what;
  CHECK(refused.find("70016") != std::string::npos);
  CHECK(refused.find("busy") != std::string::npos);
}

TEST_CASE("login: the long poll's grant") {
  Result<LoginGrant> grant = parse_long_poll_reply(
      R"(&&&START&&&{"code":0,"userId":1234567890,"ssecurity":"AAECAwQFBgcICQoLDA0ODw==","cUserId":"c-id",)"
      R"("passToken":"pt","location":"https://sts.api.io.mi.com/sts?d=1"})");
  REQUIRE(grant.has_value());
  CHECK(grant->user_id == "1234567890");
  CHECK(grant->ssecurity == kSsecurity);
  CHECK(grant->c_user_id == "c-id");
  CHECK(grant->location == "https://sts.api.io.mi.com/sts?d=1");
  CHECK(parse_long_poll_reply(R"({"userId":"12","location":"https://x/"})").error().what.find("ssecurity") !=
        std::string::npos);
  CHECK(parse_long_poll_reply(R"({"userId":"x12","ssecurity":"AA==","location":"https://x/"})").error().what.find(
            "userId") != std::string::npos);
  CHECK_FALSE(parse_long_poll_reply(R"({"code":1,"userId":"12","ssecurity":"AA==","location":"https://x/"})"));
}

TEST_CASE("login: the loginUrl query is the app's") {
  const std::string query = login_url_query(1700000000123);
  CHECK(query.find("sid=xiaomiio") != std::string::npos);
  CHECK(query.find("qs=%3Fsid%3Dxiaomiio%26_json%3Dtrue") != std::string::npos);
  CHECK(query.find("callback=https%3A%2F%2Fsts.api.io.mi.com%2Fsts") != std::string::npos);
  CHECK(query.find("_qrsize=480") != std::string::npos);
  CHECK(query.find("_dc=1700000000123") != std::string::npos);
}

TEST_CASE("api: request data texts") {
  CHECK(nlohmann::json::parse(gethome_data()) ==
        nlohmann::json{{"fg", true}, {"fetch_share", true}, {"fetch_share_dev", true}, {"limit", 300}, {"app_ver", 7}});
  CHECK(nlohmann::json::parse(device_count_data()) == nlohmann::json{{"fetch_own", true}, {"fetch_share", true}});
  const nlohmann::json list = nlohmann::json::parse(home_device_list_data("1234567890", "987654321012"));
  CHECK(list["home_owner"] == 1234567890);
  CHECK(list["home_id"] == 987654321012);
  CHECK(list["limit"] == 200);
  CHECK(home_device_list_data("1\",\"x", "2").find("\"x") == std::string::npos);  // never injected
  CHECK(beaconkey_data("blt.3.abcdef") == kData);
  CHECK(has_beaconkey("blt.3.abcdef"));
  CHECK_FALSE(has_beaconkey("123456789"));
}

TEST_CASE("api: code != 0 and missing result are errors with the server's words") {
  const std::string refused = parse_api_reply(R"({"code":-8,"message":"auth err"})").error().what;
  CHECK(refused.find("-8") != std::string::npos);
  CHECK(refused.find("auth err") != std::string::npos);
  CHECK(parse_api_reply(R"({"code":0,"message":"ok"})").error().what.find("result") != std::string::npos);
  CHECK(parse_api_reply(R"({"message":"ok","result":{}})").error().what.find("code") != std::string::npos);
  CHECK_FALSE(parse_api_reply("[1,2]").has_value());
  CHECK_FALSE(parse_api_reply("").has_value());
}

TEST_CASE("api: homes, shared homes, device list, beacon key") {
  const nlohmann::json homes_result =
      result_of(R"({"code":0,"result":{"homelist":[{"id":"111","name":"Flat","uid":5},{"id":222,"name":"Cabin"}]}})");
  Result<std::vector<Home>> homes = parse_homes(homes_result, "5");
  REQUIRE(homes.has_value());
  REQUIRE(homes->size() == 2);
  CHECK((*homes)[0].id == "111");
  CHECK((*homes)[0].name == "Flat");
  CHECK((*homes)[1].id == "222");
  CHECK((*homes)[1].owner == "5");
  CHECK_FALSE((*homes)[1].shared);
  CHECK(parse_homes(result_of(R"({"code":0,"result":{"homelist":null}})"), "5")->empty());
  CHECK_FALSE(parse_homes(result_of(R"({"code":0,"result":{"homelist":[{"name":"x"}]}})"), "5").has_value());

  Result<std::vector<Home>> shared = parse_shared_homes(
      result_of(R"({"code":0,"result":{"share":{"share_family":[{"home_id":333,"home_owner":"77"}]}}})"));
  REQUIRE(shared.has_value());
  REQUIRE(shared->size() == 1);
  CHECK((*shared)[0].id == "333");
  CHECK((*shared)[0].owner == "77");
  CHECK((*shared)[0].shared);
  CHECK(parse_shared_homes(result_of(R"({"code":0,"result":{}})"))->empty());

  Result<std::vector<CloudDevice>> devices = parse_device_list(result_of(
      R"({"code":0,"result":{"device_info":[{"did":"123","name":"Desk plug","model":"chuangmi.plug.v3",)"
      R"("mac":"AA:BB:CC:DD:EE:01","localip":"192.168.1.20","token":"00112233445566778899aabbccddeeff"},)"
      R"({"name":"no did"},{"did":"blt.3.abc","name":"Sensor","model":"miaomiaoce.sensor_ht.t2"}]}})"));
  REQUIRE(devices.has_value());
  REQUIRE(devices->size() == 2);
  CHECK((*devices)[0].token == "00112233445566778899aabbccddeeff");
  CHECK((*devices)[0].ip == "192.168.1.20");
  CHECK((*devices)[1].did == "blt.3.abc");
  CHECK((*devices)[1].token.empty());
  CHECK(parse_device_list(result_of(R"({"code":0,"result":{"device_info":null}})"))->empty());
  CHECK_FALSE(parse_device_list(result_of(R"({"code":0,"result":{"device_info":{}}})")).has_value());

  CHECK(parse_beaconkey(result_of(R"({"code":0,"result":{"beaconkey":"AABBCCDDEEFF00112233445566778899"}})")).value() ==
        "aabbccddeeff00112233445566778899");
  CHECK(parse_beaconkey(result_of(R"({"code":0,"result":{"beaconkey":"aabbccddeeff001122334455"}})")).has_value());
  CHECK_FALSE(parse_beaconkey(result_of(R"({"code":0,"result":{"beaconkey":"xyz"}})")).has_value());
  CHECK_FALSE(parse_beaconkey(result_of(R"({"code":0,"result":{}})")).has_value());
}

TEST_CASE("regions: API bases") {
  CHECK(region_api_base("cn") == "https://api.io.mi.com/app");
  CHECK(region_api_base("de") == "https://de.api.io.mi.com/app");
  CHECK(is_region("i2"));
  CHECK_FALSE(is_region("eu"));
  CHECK(expand_api_base("https://127.0.0.1:4443/{region}/app", "sg") == "https://127.0.0.1:4443/sg/app");
  CHECK(expand_api_base("https://127.0.0.1:4443/app", "sg") == "https://127.0.0.1:4443/app");
}

TEST_CASE("terminal QR: half blocks map back to libqrencode's modules, with a light quiet zone") {
  const std::string url = "https://account.xiaomi.com/longPolling/login?ticket=abc&dc=1700000000000";
  const std::string drawn = cloudless::cli::render_terminal_qr(url);
  QRcode* code = QRcode_encodeString(url.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  REQUIRE(code != nullptr);
  const int width = code->width;
  const int side = width + 8;  // 4 light modules each side
  // Back from characters to modules: each character is a top and a bottom module, light = block.
  std::vector<std::vector<bool>> light;
  std::size_t at = 0;
  while (at < drawn.size()) {
    std::vector<bool> top, bottom;
    while (at < drawn.size() && drawn[at] != '\n') {
      const std::string_view rest(drawn.data() + at, drawn.size() - at);
      if (rest[0] == ' ') {
        top.push_back(false), bottom.push_back(false), at += 1;
      } else if (rest.substr(0, 3) == "\u2588") {
        top.push_back(true), bottom.push_back(true), at += 3;
      } else if (rest.substr(0, 3) == "\u2580") {
        top.push_back(true), bottom.push_back(false), at += 3;
      } else {
        REQUIRE(rest.substr(0, 3) == "\u2584");
        top.push_back(false), bottom.push_back(true), at += 3;
      }
    }
    ++at;
    light.push_back(top);
    light.push_back(bottom);
  }
  REQUIRE(light.size() >= static_cast<std::size_t>(side));
  for (int y = 0; y < side; ++y) {
    REQUIRE(light[y].size() == static_cast<std::size_t>(side));
    for (int x = 0; x < side; ++x) {
      const int mx = x - 4, my = y - 4;
      const bool inside = mx >= 0 && my >= 0 && mx < width && my < width;
      const bool dark = inside && (code->data[my * width + mx] & 1) != 0;
      CAPTURE(x, y);
      CHECK(light[y][x] == !dark);
    }
  }
  QRcode_free(code);
}
