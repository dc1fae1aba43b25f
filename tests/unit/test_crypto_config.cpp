// crypto::skip_system_config: a daemon without TLS does not read openssl.cnf (docs/build.md §9), and the
// primitives that go through EVP work without it. Each test case runs in a process of its own (ctest), so
// OpenSSL is initialised here for the first time.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "protocols/common/bytes.h"
#include "protocols/common/crypto.h"

using namespace cloudless;

namespace {

// A configuration that activates only OpenSSL's "null" provider: read, it leaves EVP no cipher at all.
constexpr const char* kConfigWithoutCiphers =
    "openssl_conf = openssl_init\n"
    "[openssl_init]\nproviders = provider_sect\n"
    "[provider_sect]\nnull = null_sect\n"
    "[null_sect]\nactivate = 1\n";

// RFC 3610 packet vector #1: AES-128-CCM, 13-byte nonce, 8 bytes of AAD, 23 of payload, 8-byte tag.
std::optional<Bytes> rfc3610_vector1() {
  const Bytes key = *from_hex("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf");
  const Bytes nonce = *from_hex("00000003020100a0a1a2a3a4a5");
  const Bytes aad = *from_hex("0001020304050607");
  const Bytes payload = *from_hex("08090a0b0c0d0e0f101112131415161718191a1b1c1d1e");
  return crypto::aes128_ccm_encrypt(key, nonce, aad, payload, 8);
}
const Bytes kVector1Output = *from_hex("588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0");

// SHA-1 goes through EVP (the cloud API's signature): it needs a provider with SHA-1 in it.
std::optional<Bytes> sha1_of_abc() {
  const auto digest = crypto::sha1(ByteView(reinterpret_cast<const std::uint8_t*>("abc"), 3));
  if (!digest) return std::nullopt;
  return Bytes(digest->begin(), digest->end());
}
const Bytes kSha1OfAbc = *from_hex("a9993e364706816aba3e25717850c26c9cd0d89d");

}  // namespace

TEST_CASE("crypto: skip_system_config leaves openssl.cnf unread, and EVP works without it", "[common][crypto]") {
  const auto path = std::filesystem::temp_directory_path() / ("cloudless-openssl-" + std::to_string(getpid()) + ".cnf");
  std::ofstream(path) << kConfigWithoutCiphers;
  REQUIRE(setenv("OPENSSL_CONF", path.c_str(), 1) == 0);

  // The control: a process that reads this configuration has no EVP algorithm (so the check below can
  // fail), while CCM, which runs on OpenSSL's low-level AES and mode functions, needs no provider at all.
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) _exit((sha1_of_abc().has_value() ? 1 : 0) | (rfc3610_vector1() == kVector1Output ? 0 : 2));
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);

  crypto::skip_system_config();
  const auto digest = sha1_of_abc();
  REQUIRE(digest.has_value());
  CHECK(*digest == kSha1OfAbc);
  crypto::skip_system_config();  // a second call is harmless
  CHECK(sha1_of_abc() == digest);
  CHECK(rfc3610_vector1() == kVector1Output);

  unsetenv("OPENSSL_CONF");
  std::filesystem::remove(path);
}
