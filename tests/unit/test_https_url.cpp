// The key commands' URL, form and cookie handling (protocols/https): what the clouds' requests are
// built from and what their logins leave behind.
#include <catch2/catch.hpp>

#include "protocols/https/cookie_jar.h"
#include "protocols/https/url.h"

using namespace cloudless::https;

TEST_CASE("https URLs are split into host, port and target") {
  const auto cloud = parse_url("https://de.api.io.mi.com/app/v2/homeroom/gethome?x=1");
  REQUIRE(cloud);
  CHECK(cloud->host == "de.api.io.mi.com");
  CHECK(cloud->port == 443);
  CHECK(cloud->target == "/app/v2/homeroom/gethome?x=1");

  const auto loopback = parse_url("HTTPS://127.0.0.1:8443");
  REQUIRE(loopback);
  CHECK(loopback->host == "127.0.0.1");
  CHECK(loopback->port == 8443);
  CHECK(loopback->target == "/");

  const auto query_only = parse_url("https://example.org?a=b#frag");
  REQUIRE(query_only);
  CHECK(query_only->target == "/?a=b");

  const auto v6 = parse_url("https://[::1]:4443/x");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 4443);
  CHECK(v6->target == "/x");
}

TEST_CASE("anything but a plain https URL is refused") {
  CHECK_FALSE(parse_url("http://127.0.0.1/"));
  CHECK_FALSE(parse_url("https://"));
  CHECK_FALSE(parse_url("https:///path"));
  CHECK_FALSE(parse_url("https://user@host/"));
  CHECK_FALSE(parse_url("https://host:0/"));
  CHECK_FALSE(parse_url("https://host:65536/"));
  CHECK_FALSE(parse_url("https://host:12ab/"));
  CHECK_FALSE(parse_url("https://host:/"));
  CHECK_FALSE(parse_url("https://[::1/"));
}

TEST_CASE("only loopback hosts count as loopback") {
  CHECK(is_loopback_host("127.0.0.1"));
  CHECK(is_loopback_host("127.255.3.9"));
  CHECK(is_loopback_host("localhost"));
  CHECK(is_loopback_host("::1"));
  CHECK_FALSE(is_loopback_host("128.0.0.1"));
  CHECK_FALSE(is_loopback_host("10.0.0.1"));
  CHECK_FALSE(is_loopback_host("api.io.mi.com"));
  CHECK_FALSE(is_loopback_host("127.0.0.1.example.org"));
  CHECK_FALSE(is_loopback_host("::2"));
  CHECK_FALSE(is_loopback_host(""));
}

TEST_CASE("form fields are percent-encoded but for RFC 3986's unreserved characters") {
  CHECK(url_encode("AZaz09-._~") == "AZaz09-._~");
  CHECK(url_encode("a b+c/d=e&f") == "a%20b%2Bc%2Fd%3De%26f");
  CHECK(url_encode("\xc3\xa9") == "%C3%A9");
  CHECK(form_encode({{"data", "{\"did\":1}"}, {"_nonce", "AQID+/=="}}) ==
        "data=%7B%22did%22%3A1%7D&_nonce=AQID%2B%2F%3D%3D");
  CHECK(form_encode({}).empty());
}

TEST_CASE("the cookie jar keeps the first pair of each Set-Cookie, the latest value winning") {
  CookieJar jar;
  CHECK(jar.header().empty());
  Response response;
  response.headers = {{"set-cookie", "serviceToken=abc/def==; Path=/; Domain=.mi.com; HttpOnly"},
                      {"Content-Type", "text/plain"},
                      {"Set-Cookie", "userId=42"},
                      {"Set-Cookie", "broken"},
                      {"Set-Cookie", "=nameless"},
                      {"Set-Cookie", "quoted=\"v 1\"; Secure"}};
  jar.take(response);
  CHECK(jar.get("serviceToken") == "abc/def==");
  CHECK(jar.get("userId") == "42");
  CHECK(jar.get("quoted") == "v 1");
  CHECK_FALSE(jar.get("broken"));
  CHECK(jar.header() == "serviceToken=abc/def==; userId=42; quoted=v 1");

  jar.take_set_cookie("userId=43; Path=/");
  jar.set("locale", "en_GB");
  CHECK(jar.header() == "serviceToken=abc/def==; userId=43; quoted=v 1; locale=en_GB");
}

TEST_CASE("response headers are found whatever their case") {
  Response response;
  response.headers = {{"Location", "https://a/"}, {"extension-pragma", "{}"}, {"LOCATION", "https://b/"}};
  CHECK(response.header("location") == "https://a/");
  CHECK(response.header("Extension-Pragma") == "{}");
  CHECK(response.header("missing").empty());
  CHECK(response.headers_named("Location") == std::vector<std::string>{"https://a/", "https://b/"});
}
