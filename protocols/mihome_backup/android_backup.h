// The Android backup container (`adb backup`, *.ab; docs/mihome_backup.md §1): a text header, then
// the payload — AES-256-CBC under a password-protected master key when encrypted, a zlib stream when
// compressed — which is a tar archive. Reads the header, unlocks the master key and hands out the
// tar bytes as a stream, decrypting and inflating as they are read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/common/bytes.h"
#include "protocols/common/result.h"
#include "protocols/mihome_backup/byte_stream.h"

namespace cloudless::mihome_backup {

inline constexpr std::string_view kAndroidBackupMagic = "ANDROID BACKUP\n";

struct AndroidBackupHeader {
  int version = 0;          // 1..5
  bool compressed = false;  // the payload (after decryption) is a zlib stream
  bool encrypted = false;   // "AES-256"; the fields below are set only then
  Bytes user_salt;          // PBKDF2 salt of the password → user key
  Bytes checksum_salt;      // PBKDF2 salt of the master key checksum
  int rounds = 0;           // PBKDF2 iterations, for both
  Bytes user_iv;            // IV of the master key blob
  Bytes master_key_blob;    // AES-256-CBC(user key, user IV) of IV ‖ master key ‖ checksum
  std::size_t payload_offset = 0;  // where the payload starts in the file
};

Result<AndroidBackupHeader> parse_android_backup_header(ByteView file);

struct MasterKey {
  Bytes key;  // 32 bytes: the payload's AES-256 key
  Bytes iv;   // 16 bytes: the payload's IV
};

// Derives the user key from `password`, decrypts the master key blob and checks the master key
// against its checksum: a wrong password is an authentication error, never garbage output.
Result<MasterKey> unlock_master_key(const AndroidBackupHeader& header, std::string_view password);

// The inflated payload may not exceed this (a zip bomb stops here with an error).
inline constexpr std::uint64_t kDefaultMaxTarBytes = 4ULL << 30;

// The tar archive inside `file` as a stream. `file` must outlive the stream. An encrypted backup
// needs `password`; errors on the way (truncation, bad padding, corrupt zlib data, the bound) surface
// from the stream's read().
Result<std::unique_ptr<ByteStream>> open_android_backup_tar(ByteView file, const std::optional<std::string>& password,
                                                            std::uint64_t max_tar_bytes = kDefaultMaxTarBytes);

// A zlib (RFC 1950) stream inflated on the fly; at most `max_output` bytes, and the stream must end
// properly (input that stops early is reported as truncated).
std::unique_ptr<ByteStream> inflate_stream(std::unique_ptr<ByteStream> source, std::uint64_t max_output);

// Android's checksum input: the master key as Java's PBKDF2 sees it after a byte[] → char[] cast
// (each byte sign-extended, so 0x80..0xFF become U+FF80..U+FFFF), encoded as UTF-8.
Bytes java_utf8_of_bytes(ByteView bytes);

}  // namespace cloudless::mihome_backup
