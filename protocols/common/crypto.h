// Thin wrappers over OpenSSL 3 EVP for the primitives the device protocols use. Never hand-written
// crypto: each function is one EVP call sequence. All return nullopt on any OpenSSL failure.
#pragma once

#include <array>
#include <cstdint>
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

// Compares without an early exit (CRYPTO_memcmp), for checksums/MICs computed under a secret key.
// Different sizes compare unequal.
bool constant_time_equal(ByteView a, ByteView b);

}  // namespace cloudless::crypto
