// Midea SmartHome cloud codec (protocols/midea_cloud, docs/midea_cloud.md): the HMAC-SHA256 `sign`
// header, the two password proofs, the exact request bodies, and the replies (success, the refusals
// 3004 / 3201 / 9999, login refusals, malformed answers).
//
// Expected values were computed independently with /usr/bin/python3's hmac, hashlib and json (not with
// our code), by this generator:
//
//   import hmac, hashlib, json
//   sign = lambda body, rnd: hmac.new(b"PROD_VnoClJI9aikS8dyy", ("meicloud" + body + rnd).encode(),
//                                     hashlib.sha256).hexdigest()
//   sha = lambda t: hashlib.sha256(t.encode()).hexdigest(); md5 = lambda t: hashlib.md5(t.encode()).hexdigest()
//   APP_KEY = "ac21b9f9cbfe4ca5a88562ef25e2b768"
//   password = sha(login_id + sha(pw) + APP_KEY); iampwd = sha(login_id + md5(md5(pw)) + APP_KEY)
//   body = json.dumps(fields, sort_keys=True, separators=(",", ":"))
//
// with the fixed context below (kContext) and random = "0123456789abcdef0123456789abcdef".
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "protocols/common/bytes.h"
#include "protocols/common/crypto.h"
#include "protocols/midea_cloud/smarthome_reply.h"
#include "protocols/midea_cloud/smarthome_request.h"

using namespace cloudless;
using namespace cloudless::midea_cloud;

namespace {

const RequestContext kContext{"20261206063000", "00112233445566778899aabbccddeeff", "a1b2c3d4e5f60718", ""};
constexpr const char* kRandom = "0123456789abcdef0123456789abcdef";

const std::string kToken(128, 'a');
const std::string kKey(64, 'b');

CloudReply reply_of(const std::string& text) {
  Result<CloudReply> reply = parse_reply(text);
  REQUIRE(reply.has_value());
  return *reply;
}

}  // namespace

TEST_CASE("midea cloud: HMAC-SHA256 (RFC 4231 test case 2)", "[midea_cloud][crypto]") {
  const auto digest = crypto::hmac_sha256(as_bytes("Jefe"), as_bytes("what do ya want for nothing?"));
  REQUIRE(digest.has_value());
  CHECK(to_hex(*digest) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("midea cloud: the sign header over a fixed body and random (python3 hmac)", "[midea_cloud][sign]") {
  CHECK(sign("{\"a\":1}", kRandom) == "885ab3d0675d66be89d547fb19958e2ddf518821a7adfd61852b6b791fe7b96c");
  // The sign covers every byte: one more space changes it.
  CHECK(sign("{\"a\": 1}", kRandom) != sign("{\"a\":1}", kRandom));
  CHECK(sign("{\"a\":1}", "x") != sign("{\"a\":1}", kRandom));
}

TEST_CASE("midea cloud: the password proofs of the login (python3 hashlib)", "[midea_cloud][login]") {
  CHECK(password_proof("7fb2c8d1e0", "correct horse") ==
        "30f5d613dc462db8999c6839b7f25192906730c76fbb5cf1761334fd55c28d7f");
  CHECK(iam_password_proof("7fb2c8d1e0", "correct horse") ==
        "3b250dbdec93fab663b30b3a578c0d9347237bc05a849844ab47ed958a11ff01");
}

TEST_CASE("midea cloud: the login id request body and its sign", "[midea_cloud][sign]") {
  const std::string body = login_id_body(kContext, "user@example.com");
  CHECK(body ==
        R"({"appId":"1010","clientType":"1","deviceId":"a1b2c3d4e5f60718","format":"2","language":"en_US",)"
        R"("loginAccount":"user@example.com","platformId":"1","reqId":"00112233445566778899aabbccddeeff",)"
        R"("src":"1010","stamp":"20261206063000"})");
  CHECK(sign(body, kRandom) == "5cbbd6a878a9a5cd3ee939a3acbd810044d1a0d19dd3d1b95a5de641466a55da");
}

TEST_CASE("midea cloud: the getToken body carries the decimal appliance id as applianceCodes",
          "[midea_cloud][sign]") {
  RequestContext context = kContext;
  context.uid = "u-42";
  const std::string body = get_token_body(context, "4fbe0d4139de99cc88a0285e14657045", 147334558165565);
  CHECK(body ==
        R"({"appId":"1010","applianceCodes":"147334558165565","clientType":"1","deviceId":"a1b2c3d4e5f60718",)"
        R"("format":"2","language":"en_US","platformId":"1","reqId":"00112233445566778899aabbccddeeff",)"
        R"("src":"1010","stamp":"20261206063000","udpid":"4fbe0d4139de99cc88a0285e14657045","uid":"u-42"})");
  CHECK(sign(body, kRandom) == "31de13d3f1d1b24a598589cfb59cd8e9c4db8a4a4660d6857e87ab9e5cd272f1");
}

TEST_CASE("midea cloud: the login body holds the proofs, never the password", "[midea_cloud][login]") {
  const std::string body = login_body(kContext, "user@example.com", "correct horse", "7fb2c8d1e0");
  CHECK(body.find("correct horse") == std::string::npos);
  const auto json = nlohmann::json::parse(body);
  CHECK(json["iotData"]["password"] == password_proof("7fb2c8d1e0", "correct horse"));
  CHECK(json["iotData"]["iampwd"] == iam_password_proof("7fb2c8d1e0", "correct horse"));
  CHECK(json["iotData"]["loginAccount"] == "user@example.com");
  CHECK(json["iotData"]["appId"] == "1010");
  CHECK(json["data"]["appKey"] == std::string(kAppKey));
  CHECK(json["data"]["deviceId"] == "a1b2c3d4e5f60718");
  CHECK(json["stamp"] == "20261206063000");
  // A non-UTF-8 account name is replaced, not thrown on, and the body stays ASCII.
  const std::string odd = login_id_body(kContext, std::string("us\xff\xc3\xa9r"));
  CHECK(std::all_of(odd.begin(), odd.end(), [](char c) { return c >= 0x20 && c <= 0x7e; }));
}

TEST_CASE("midea cloud: headers and URL", "[midea_cloud][sign]") {
  const auto headers = request_headers("{}", kRandom, "", "");
  const auto value = [&](const std::string& name) {
    for (const auto& [n, v] : headers)
      if (n == name) return v;
    return std::string("(absent)");
  };
  CHECK(value("sign") == sign("{}", kRandom));
  CHECK(value("random") == kRandom);
  CHECK(value("secretVersion") == "1");
  CHECK(value("accessToken") == "(absent)");
  CHECK(value("uid") == "(absent)");
  const auto logged_in = request_headers("{}", kRandom, "at", "u");
  CHECK(logged_in.size() == headers.size() + 2);
  CHECK(endpoint_url("https://127.0.0.1:4443/", kGetTokenEndpoint) ==
        "https://127.0.0.1:4443/mas/v5/app/proxy?alias=/v1/iot/secure/getToken");
  CHECK(endpoint_url(kSmartHomeBaseUrl, kLoginEndpoint) ==
        "https://mp-prod.appsmb.com/mas/v5/app/proxy?alias=/mj/user/login");
}

TEST_CASE("midea cloud: successful replies", "[midea_cloud][reply]") {
  // The code comes as a string ("0") in real answers; numbers are accepted too.
  const CloudReply login_id = reply_of(R"({"code":"0","msg":"ok","data":{"loginId":"7fb2c8d1e0"}})");
  CHECK(login_id.ok());
  CHECK(*read_login_id(login_id.data) == "7fb2c8d1e0");
  const CloudReply login = reply_of(R"({"code":0,"data":{"uid":"u-42","mdata":{"accessToken":"T0K"}}})");
  const Result<LoginSession> session = read_login_session(login.data);
  REQUIRE(session.has_value());
  CHECK(session->access_token == "T0K");
  CHECK(session->uid == "u-42");

  // A decoy entry for another unit first; udpIds compare case-insensitively; hex comes back lower case.
  const std::string upper_token(128, 'C');
  const nlohmann::json tokens = {
      {"code", "0"},
      {"data",
       {{"tokenlist",
         {{{"udpId", "505407553cbc909df7d36b82967ace2e"}, {"token", kToken}, {"key", kKey}},
          {{"udpId", "4FBE0D4139DE99CC88A0285E14657045"}, {"token", upper_token}, {"key", kKey}}}}}}};
  const Result<TokenPair> pair = read_token_pair(reply_of(tokens.dump()).data, "4fbe0d4139de99cc88a0285e14657045");
  REQUIRE(pair.has_value());
  CHECK(pair->token_hex == std::string(128, 'c'));
  CHECK(pair->key_hex == kKey);
}

TEST_CASE("midea cloud: refusals become one clear sentence", "[midea_cloud][reply]") {
  const CloudReply no_permission = reply_of(R"({"code":"3201","msg":"You have no permissions"})");
  CHECK_FALSE(no_permission.ok());
  CHECK(no_permission.code == kCodeNoPermission);
  const std::string permission = describe_refusal(Step::get_token, no_permission, 151732605161920, false);
  CHECK(permission.rfind("no permission: appliance 151732605161920 is not in this SmartHome account", 0) == 0);
  CHECK(permission.find("3201") != std::string::npos);

  const CloudReply illegal = reply_of(R"({"code":"3004","msg":"value is illegal."})");
  CHECK(describe_refusal(Step::get_token, illegal, 1, false).find("3004") != std::string::npos);

  const CloudReply system = reply_of(R"({"code":"9999","msg":"system error"})");
  const std::string nethome = describe_refusal(Step::get_token, system, 1, true);
  CHECK(nethome.find("NetHome Plus") != std::string::npos);
  CHECK(nethome.find("August 2026") != std::string::npos);
  CHECK(describe_refusal(Step::get_token, system, 1, false).find("NetHome") == std::string::npos);

  const CloudReply wrong_password = reply_of(R"({"code":3106,"msg":"password error"})");
  const std::string login = describe_refusal(Step::login, wrong_password, 0, false);
  CHECK(login.find("login refused") == 0);
  CHECK(login.find("check --account and the password") != std::string::npos);
  CHECK(login.find("password error") != std::string::npos);

  // Cloud text is made printable before it reaches a terminal.
  const CloudReply hostile = reply_of("{\"code\":\"1\",\"msg\":\"a\\u001b[2Jb\"}");
  CHECK(hostile.message == "a?[2Jb");
}

TEST_CASE("midea cloud: malformed answers are errors, never exceptions", "[midea_cloud][reply]") {
  for (const char* text : {"", "garbage", "[]", "{}", R"({"code":null})", R"({"code":"0x1"})", R"({"code":" 0"})",
                           R"({"code":1.5})", R"({"code":"99999999999999999999999"})", "{\"code\":\"0\"",
                           R"({"code":"0","data":1e999})"}) {
    CAPTURE(text);
    CHECK_FALSE(parse_reply(text).has_value());
  }
  CHECK_FALSE(read_login_id(nlohmann::json()).has_value());
  CHECK_FALSE(read_login_id(nlohmann::json{{"loginId", 5}}).has_value());
  CHECK_FALSE(read_login_session(nlohmann::json{{"mdata", "x"}}).has_value());
  CHECK_FALSE(read_login_session(nlohmann::json{{"mdata", {{"accessToken", ""}}}}).has_value());

  const std::string udpid = "4fbe0d4139de99cc88a0285e14657045";
  CHECK_FALSE(read_token_pair(nlohmann::json{{"tokenlist", "x"}}, udpid).has_value());
  const Result<TokenPair> other =
      read_token_pair(nlohmann::json{{"tokenlist", {{{"udpId", "00"}, {"token", kToken}, {"key", kKey}}}}}, udpid);
  REQUIRE_FALSE(other.has_value());
  CHECK(other.error().what == "the getToken answer has no entry for udpid " + udpid);
  const Result<TokenPair> short_key = read_token_pair(
      nlohmann::json{{"tokenlist", {{{"udpId", udpid}, {"token", kToken}, {"key", kKey.substr(1)}}}}}, udpid);
  REQUIRE_FALSE(short_key.has_value());
  CHECK(short_key.error().what.find(kToken) == std::string::npos);  // never quotes a secret
  CHECK_FALSE(read_token_pair(
                  nlohmann::json{{"tokenlist", {{{"udpId", udpid}, {"token", std::string(128, 'g')}, {"key", kKey}}}}},
                  udpid)
                  .has_value());
}
