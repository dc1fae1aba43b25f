// Thin wrappers over OpenSSL 3 for the primitives the device protocols use. Never hand-written
// crypto: each function is one OpenSSL call sequence. All return nullopt on any OpenSSL failure.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "protocols/common/bytes.h"

namespace cloudless::crypto {

using Md5Digest = std::array<std::uint8_t, 16>;
using Sha256Digest = std::array<std::uint8_t, 32>;

Md5Digest md5(ByteView data);
Md5Digest md5(ByteView first, ByteView second);  // MD5(first ‖ second) without a copy
Md5Digest md5(ByteView first, ByteView second, ByteView third);
Sha256Digest sha256(ByteView data);
Sha256Digest sha256(ByteView first, ByteView second);  // SHA-256(first ‖ second) without a copy
// HMAC-SHA256 (RFC 2104; the Midea SmartHome cloud's request signature). nullopt on an OpenSSL failure.
std::optional<Sha256Digest> hmac_sha256(ByteView key, ByteView data);
// SHA-1 (the Xiaomi cloud API's request signature, docs/xiaomi_cloud.md §3). Never on a poll path, so EVP.
using Sha1Digest = std::array<std::uint8_t, 20>;
std::optional<Sha1Digest> sha1(ByteView data);

// AES-128-ECB with PKCS#7 padding (Midea V2 "5A5A" packets and discovery). Decrypt fails on a bad
// padding or a length that is not a non-zero multiple of 16. ECB has no IV: equal blocks encrypt
// equally, which is the protocol's choice, not ours.
std::optional<Bytes> aes128_ecb_encrypt(ByteView key, ByteView plaintext);
std::optional<Bytes> aes128_ecb_decrypt(ByteView key, ByteView ciphertext);

// AES-256-CBC *without* padding (Midea V3 "8370" transport and its handshake, where the pad count
// travels in the header instead). Input must be a multiple of 16 (empty is fine: empty output); the
// IV is usually 16 zero bytes there.
std::optional<Bytes> aes256_cbc_encrypt_no_padding(ByteView key, ByteView iv, ByteView plaintext);
std::optional<Bytes> aes256_cbc_decrypt_no_padding(ByteView key, ByteView iv, ByteView ciphertext);

// AES-128-CBC with PKCS#7 padding (miIO). Decrypt fails on a bad padding or a length that is not a
// multiple of 16.
std::optional<Bytes> aes128_cbc_encrypt(ByteView key, ByteView iv, ByteView plaintext);
std::optional<Bytes> aes128_cbc_decrypt(ByteView key, ByteView iv, ByteView ciphertext);

// An AES key (16 or 32 bytes) with both schedules expanded once, for a key that serves many
// packets: a miIO token's, a Midea V3 session's TCP key. Expanding it per packet cost as much as the
// cipher itself (docs/build.md §9). Wiped when destroyed. A key of another size makes every call
// return nullopt. The modes are the free functions' below, without the per-call key expansion.
class AesKey {
 public:
  explicit AesKey(ByteView key);
  ~AesKey();
  AesKey(AesKey&&) noexcept;
  AesKey& operator=(AesKey&&) noexcept;
  AesKey(const AesKey&) = delete;
  AesKey& operator=(const AesKey&) = delete;

  std::optional<Bytes> cbc_encrypt(ByteView iv, ByteView plaintext) const;   // PKCS#7
  std::optional<Bytes> cbc_decrypt(ByteView iv, ByteView ciphertext) const;  // PKCS#7
  std::optional<Bytes> cbc_encrypt_no_padding(ByteView iv, ByteView plaintext) const;
  std::optional<Bytes> cbc_decrypt_no_padding(ByteView iv, ByteView ciphertext) const;
  std::optional<Bytes> ecb_encrypt(ByteView plaintext) const;   // PKCS#7
  std::optional<Bytes> ecb_decrypt(ByteView ciphertext) const;  // PKCS#7

 private:
  struct Schedules;
  std::unique_ptr<Schedules> schedules_;  // null: invalid key (or moved from)
};

// AES-128-CCM (NIST SP 800-38C; MiBeacon v4/v5 with a 4-byte tag and a 12-byte nonce, and the
// legacy v2/v3 one-byte check with a 16-byte tag and a 13-byte nonce). The nonce is 7..13 bytes, the
// tag 4, 6, 8, 10, 12, 14 or 16 bytes; aad may be empty. Encrypt returns ciphertext ‖ tag. Decrypt
// releases plaintext only when the tag verifies: nullopt means a wrong key, altered data or a bad
// parameter (the caller checks its own parameters, so in practice "wrong key or altered data").
std::optional<Bytes> aes128_ccm_encrypt(ByteView key, ByteView nonce, ByteView aad, ByteView plaintext,
                                        std::size_t tag_length);
std::optional<Bytes> aes128_ccm_decrypt(ByteView key, ByteView nonce, ByteView aad, ByteView ciphertext,
                                        ByteView tag);

// AES-128-CTR: XOR with the keystream AES(key, counter block), the 16-byte iv being the first counter
// block (incremented as a 128-bit big-endian number). Encrypting and decrypting are the same call.
// MiBeacon v2/v3 frames are CCM without a usable tag, so they are read as plain CTR.
std::optional<Bytes> aes128_ctr(ByteView key, ByteView iv, ByteView data);

// RC4 lives only in OpenSSL 3's "legacy" provider (ossl-modules/legacy.so, shipped by Debian's
// libssl3). It is loaded once, into a private library context so the default context used by every
// other primitive here stays as OpenSSL configured it. rc4_available() says whether that worked;
// rc4() then returns nullopt, and callers tell the user why (kRc4UnavailableReason).
inline constexpr const char* kRc4UnavailableReason =
    "RC4 is not available: OpenSSL's legacy provider (legacy.so in the ossl-modules directory, or "
    "$OPENSSL_MODULES) could not be loaded";
bool rc4_available();

// RC4 with a 1..256-byte key, discarding the first `drop` keystream bytes ("RC4-drop[n]"; Xiaomi's
// cloud API uses drop = 1024, the Mi BLE auth drop = 0). Encrypting and decrypting are the same call.
std::optional<Bytes> rc4(ByteView key, ByteView data, std::size_t drop = 0);

// OpenSSL reads the system's openssl.cnf the first time EVP is used. For the primitives above that
// changes nothing (SHA-1 and HMAC come from the default provider either way, the others do not use EVP
// at all, and RC4 has its own library context), yet reading it leaves ~0.5 MB more of libcrypto
// resident for the life of the process. Call this before any other OpenSSL use in a process that does
// no TLS: TLS is what the file is for (Debian sets libssl's minimum security level there). Later
// requests to load the file are then no-ops.
void skip_system_config();

// Compares without an early exit (CRYPTO_memcmp), for checksums/MICs computed under a secret key.
// Different sizes compare unequal.
bool constant_time_equal(ByteView a, ByteView b);

}  // namespace cloudless::crypto
