#include "protocols/mihome_backup/android_backup.h"

#include <algorithm>
#include <array>
#include <charconv>

#include <openssl/crypto.h>
#include <zlib.h>

#include "protocols/common/crypto.h"
#include "protocols/mihome_backup/backup_crypto.h"

namespace cloudless::mihome_backup {

namespace {

constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kMaxHeaderLine = 4096;  // the longest real line is the blob: ~200 hex digits
// Android uses 10000 rounds; far more would only let a crafted file keep us busy.
constexpr int kMaxRounds = 10'000'000;

// Splits the header into '\n'-terminated lines, tracking the offset for error messages.
class LineReader {
 public:
  explicit LineReader(ByteView data) : data_(data) {}
  std::size_t offset() const { return offset_; }

  std::optional<std::string_view> next() {
    const std::size_t limit = std::min(data_.size(), offset_ + kMaxHeaderLine);
    for (std::size_t end = offset_; end < limit; ++end) {
      if (data_[end] != '\n') continue;
      std::string_view line(reinterpret_cast<const char*>(data_.data()) + offset_, end - offset_);
      offset_ = end + 1;
      return line;
    }
    return std::nullopt;
  }

 private:
  ByteView data_;
  std::size_t offset_ = 0;
};

std::optional<int> decimal(std::string_view text) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

ParseError truncated_header(const LineReader& lines, std::string_view field) {
  return parse_error("truncated Android backup: the header ends before its " + std::string(field), lines.offset());
}

class InflateStream final : public ByteStream {
 public:
  InflateStream(std::unique_ptr<ByteStream> source, std::uint64_t max_output)
      : source_(std::move(source)), max_output_(max_output) {
    ready_ = inflateInit(&zlib_) == Z_OK;
  }
  ~InflateStream() override {
    if (ready_) inflateEnd(&zlib_);
  }
  InflateStream(const InflateStream&) = delete;
  InflateStream& operator=(const InflateStream&) = delete;

  Result<std::size_t> read(std::span<std::uint8_t> out) override {
    if (!ready_) return parse_error("cannot set up zlib");
    if (ended_ || out.empty()) return std::size_t{0};
    zlib_.next_out = out.data();
    zlib_.avail_out = static_cast<uInt>(std::min<std::size_t>(out.size(), kChunk));
    const uInt wanted = zlib_.avail_out;
    while (zlib_.avail_out == wanted) {
      if (zlib_.avail_in == 0 && !source_done_) {
        auto got = source_->read(input_);
        if (!got) return got.error();
        source_done_ = *got == 0;
        zlib_.next_in = input_.data();
        zlib_.avail_in = static_cast<uInt>(*got);
      }
      const int status = inflate(&zlib_, Z_NO_FLUSH);
      if (status == Z_STREAM_END) {
        ended_ = true;
        if (auto drained = drain_source(); !drained) return drained.error();
        break;
      }
      if (status == Z_BUF_ERROR && source_done_ && zlib_.avail_in == 0) {
        return parse_error("truncated backup: the compressed data ends early");
      }
      if (status != Z_OK && status != Z_BUF_ERROR) {
        return parse_error(std::string("corrupt compressed data (zlib: ") + (zlib_.msg ? zlib_.msg : "error") + ")");
      }
    }
    if (zlib_.total_out > max_output_) {
      return parse_error("the backup inflates to more than " + std::to_string(max_output_ >> 20) +
                         " MiB: refusing it (a decompression bomb?)");
    }
    return static_cast<std::size_t>(wanted - zlib_.avail_out);
  }

 private:
  // Reads the source to its end, so that its own end checks run (an encrypted payload cut inside its
  // padding block still ends the zlib stream properly); what follows the zlib stream is ignored.
  Result<bool> drain_source() {
    while (!source_done_) {
      auto got = source_->read(input_);
      if (!got) return got.error();
      source_done_ = *got == 0;
    }
    zlib_.avail_in = 0;
    return true;
  }

  std::unique_ptr<ByteStream> source_;
  std::uint64_t max_output_;
  z_stream zlib_{};
  std::array<std::uint8_t, kChunk> input_{};
  bool ready_ = false;
  bool source_done_ = false;
  bool ended_ = false;  // bytes after the zlib stream's end are ignored, as Android does
};

}  // namespace

// Header layout, one field per '\n'-terminated ASCII line:
//   "ANDROID BACKUP" | version (decimal, 1..5) | compressed ("1" or "0") | encryption ("none" or "AES-256")
//   when AES-256: user salt (hex) | checksum salt (hex) | PBKDF2 rounds (decimal) | user IV (hex) |
//                 master key blob (hex)
// then the payload, binary, to the end of the file.
Result<AndroidBackupHeader> parse_android_backup_header(ByteView file) {
  const ByteView magic = as_bytes(kAndroidBackupMagic);
  if (file.size() < magic.size() || !std::equal(magic.begin(), magic.end(), file.begin())) {
    return parse_error("not an Android backup (no \"ANDROID BACKUP\" header)");
  }
  LineReader lines(file);
  lines.next();
  AndroidBackupHeader header;
  const auto version_line = lines.next();
  if (!version_line) return truncated_header(lines, "version");
  const auto version = decimal(*version_line);
  if (!version || *version < 1 || *version > 5) {
    return parse_error("unsupported Android backup version \"" + std::string(version_line->substr(0, 16)) + "\"",
                       kAndroidBackupMagic.size());
  }
  header.version = *version;
  const std::size_t compression_offset = lines.offset();
  const auto compression = lines.next();
  if (!compression) return truncated_header(lines, "compression flag");
  if (*compression != "0" && *compression != "1") {
    return parse_error("bad Android backup compression flag (expected 0 or 1)", compression_offset);
  }
  header.compressed = *compression == "1";
  const std::size_t encryption_offset = lines.offset();
  const auto encryption = lines.next();
  if (!encryption) return truncated_header(lines, "encryption name");
  if (*encryption == "none") {
    header.payload_offset = lines.offset();
    return header;
  }
  if (*encryption != "AES-256") {
    return parse_error("unsupported Android backup encryption \"" + std::string(encryption->substr(0, 16)) + "\"",
                       encryption_offset);
  }
  header.encrypted = true;
  struct HexField {
    const char* name;
    Bytes* out;
  };
  const auto read_hex = [&](const HexField& field) -> std::optional<ParseError> {
    const std::size_t offset = lines.offset();
    const auto line = lines.next();
    if (!line) return truncated_header(lines, field.name);
    auto bytes = from_hex(*line);
    if (!bytes || bytes->empty()) return parse_error(std::string("bad Android backup ") + field.name, offset);
    *field.out = std::move(*bytes);
    return std::nullopt;
  };
  if (auto error = read_hex({"user salt", &header.user_salt})) return *error;
  if (auto error = read_hex({"checksum salt", &header.checksum_salt})) return *error;
  const std::size_t rounds_offset = lines.offset();
  const auto rounds_line = lines.next();
  if (!rounds_line) return truncated_header(lines, "PBKDF2 rounds");
  const auto rounds = decimal(*rounds_line);
  if (!rounds || *rounds < 1 || *rounds > kMaxRounds) {
    return parse_error("bad Android backup PBKDF2 round count", rounds_offset);
  }
  header.rounds = *rounds;
  if (auto error = read_hex({"user IV", &header.user_iv})) return *error;
  if (auto error = read_hex({"master key blob", &header.master_key_blob})) return *error;
  if (header.user_iv.size() != 16) return parse_error("bad Android backup user IV (expected 16 bytes)");
  header.payload_offset = lines.offset();
  return header;
}

Bytes java_utf8_of_bytes(ByteView bytes) {
  Bytes out;
  out.reserve(bytes.size() * 3);
  for (const std::uint8_t byte : bytes) {
    if (byte < 0x80) {
      out.push_back(byte);
      continue;
    }
    const unsigned code_point = 0xFF00u | byte;  // (char)(byte) in Java: sign extension to 16 bits
    out.push_back(static_cast<std::uint8_t>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<std::uint8_t>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<std::uint8_t>(0x80 | (code_point & 0x3F)));
  }
  return out;
}

// Master key blob, once decrypted (PKCS#7 removed), three length-prefixed fields:
//   u8 n | IV (n = 16) | u8 n | master key (n = 32) | u8 n | checksum (n = 32)
Result<MasterKey> unlock_master_key(const AndroidBackupHeader& header, std::string_view password) {
  const auto user_key = pbkdf2_hmac_sha1(as_bytes(password), header.user_salt, header.rounds, 32);
  if (!user_key) return parse_error("PBKDF2 failed");
  const auto blob = crypto::AesKey(*user_key).cbc_decrypt(header.user_iv, header.master_key_blob);
  // A wrong password usually breaks the padding already; when it does not, the checksum catches it.
  const ParseError wrong_password = authentication_error("wrong password for this encrypted backup");
  if (!blob) return wrong_password;
  ByteReader reader(*blob);
  const auto field = [&reader]() -> std::optional<ByteView> {
    const auto length = reader.u8();
    if (!length) return std::nullopt;
    return reader.take(*length);
  };
  const auto iv = field();
  const auto key = field();
  const auto checksum = field();
  if (!iv || !key || !checksum || iv->size() != 16 || key->size() != 32) return wrong_password;
  // Version 1 hashed the key bytes as they are; later versions through Java's char conversion. Both
  // are tried, so a mislabelled version does not pass for a wrong password.
  const Bytes java_key = java_utf8_of_bytes(*key);
  for (const ByteView checksum_input : {ByteView(java_key), *key}) {
    const auto expected = pbkdf2_hmac_sha1(checksum_input, header.checksum_salt, header.rounds, checksum->size());
    if (expected && !checksum->empty() && CRYPTO_memcmp(expected->data(), checksum->data(), checksum->size()) == 0) {
      return MasterKey{Bytes(key->begin(), key->end()), Bytes(iv->begin(), iv->end())};
    }
  }
  return wrong_password;
}

std::unique_ptr<ByteStream> inflate_stream(std::unique_ptr<ByteStream> source, std::uint64_t max_output) {
  return std::make_unique<InflateStream>(std::move(source), max_output);
}

Result<std::unique_ptr<ByteStream>> open_android_backup_tar(ByteView file, const std::optional<std::string>& password,
                                                            std::uint64_t max_tar_bytes) {
  auto header = parse_android_backup_header(file);
  if (!header) return header.error();
  std::unique_ptr<ByteStream> stream = std::make_unique<MemoryStream>(file.subspan(header->payload_offset));
  if (header->encrypted) {
    if (!password) return parse_error("the backup is encrypted and no password was given");
    auto master = unlock_master_key(*header, *password);
    if (!master) return master.error();
    stream = aes256_cbc_decrypt_stream(std::move(stream), master->key, master->iv);
  }
  if (header->compressed) stream = inflate_stream(std::move(stream), max_tar_bytes);
  return stream;
}

}  // namespace cloudless::mihome_backup
