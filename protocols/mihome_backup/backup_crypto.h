// The primitives of the Android backup container and the iOS token column that
// protocols/common/crypto.h does not have, each one OpenSSL call sequence (never hand-written
// crypto): PBKDF2-HMAC-SHA1, AES-128-ECB without padding, and a streaming AES-256-CBC decryptor.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "protocols/common/bytes.h"
#include "protocols/mihome_backup/byte_stream.h"

namespace cloudless::mihome_backup {

// PBKDF2 with HMAC-SHA1, `length` bytes; nullopt on an OpenSSL failure.
std::optional<Bytes> pbkdf2_hmac_sha1(ByteView password, ByteView salt, int rounds, std::size_t length);

// AES-128-ECB, no padding: `ciphertext` must be a non-empty multiple of 16 bytes.
std::optional<Bytes> aes128_ecb_decrypt_no_padding(ByteView key, ByteView ciphertext);

// AES-256-CBC with PKCS#7 padding over a whole stream: reads `source` chunk by chunk and hands out
// the plaintext. A length that is not a multiple of 16 or a bad final padding (truncated or corrupt
// data) is an error at the end of the stream.
std::unique_ptr<ByteStream> aes256_cbc_decrypt_stream(std::unique_ptr<ByteStream> source, ByteView key,
                                                      ByteView iv);

}  // namespace cloudless::mihome_backup
