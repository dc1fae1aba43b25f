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

// AES-128-CBC with PKCS#7 padding (miIO). Decrypt fails on a bad padding or a length that is not a
// multiple of 16.
std::optional<Bytes> aes128_cbc_encrypt(ByteView key, ByteView iv, ByteView plaintext);
std::optional<Bytes> aes128_cbc_decrypt(ByteView key, ByteView iv, ByteView ciphertext);

// Compares without an early exit (CRYPTO_memcmp), for checksums/MICs computed under a secret key.
// Different sizes compare unequal.
bool constant_time_equal(ByteView a, ByteView b);

}  // namespace cloudless::crypto
