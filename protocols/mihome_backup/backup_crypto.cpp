#include "protocols/mihome_backup/backup_crypto.h"

#include <algorithm>
#include <array>

#include <openssl/evp.h>

namespace cloudless::mihome_backup {

namespace {

struct CipherContextDeleter {
  void operator()(EVP_CIPHER_CTX* context) const { EVP_CIPHER_CTX_free(context); }
};
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, CipherContextDeleter>;

constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kAesBlock = 16;

class CbcDecryptStream final : public ByteStream {
 public:
  CbcDecryptStream(std::unique_ptr<ByteStream> source, ByteView key, ByteView iv)
      : source_(std::move(source)), context_(EVP_CIPHER_CTX_new()) {
    ready_ = context_ && key.size() == 32 && iv.size() == kAesBlock &&
             EVP_DecryptInit_ex(context_.get(), EVP_aes_256_cbc(), nullptr, key.data(), iv.data()) == 1;
  }

  Result<std::size_t> read(std::span<std::uint8_t> out) override {
    if (!ready_) return parse_error("cannot set up AES-256-CBC");
    while (pending_offset_ == pending_.size() && !finished_) {
      if (auto refilled = refill(); !refilled) return refilled.error();
    }
    const std::size_t count = std::min(out.size(), pending_.size() - pending_offset_);
    std::copy_n(pending_.begin() + static_cast<std::ptrdiff_t>(pending_offset_), count, out.begin());
    pending_offset_ += count;
    return count;
  }

 private:
  // Decrypts the next chunk of ciphertext into pending_ (possibly nothing: OpenSSL holds back the
  // last block until it knows whether it is the padded one).
  Result<bool> refill() {
    std::array<std::uint8_t, kChunk> input;
    auto got = source_->read(input);
    if (!got) return got.error();
    pending_.assign(*got + kAesBlock, 0);
    pending_offset_ = 0;
    int written = 0;
    if (*got == 0) {
      finished_ = true;
      if (EVP_DecryptFinal_ex(context_.get(), pending_.data(), &written) != 1) {
        return parse_error("the encrypted data is truncated or corrupt (no valid padding at its end)");
      }
    } else if (EVP_DecryptUpdate(context_.get(), pending_.data(), &written, input.data(),
                                 static_cast<int>(*got)) != 1) {
      return parse_error("AES-256-CBC decryption failed");
    }
    pending_.resize(static_cast<std::size_t>(written));
    return true;
  }

  std::unique_ptr<ByteStream> source_;
  CipherContext context_;
  bool ready_ = false;
  bool finished_ = false;
  Bytes pending_;
  std::size_t pending_offset_ = 0;
};

}  // namespace

std::optional<Bytes> pbkdf2_hmac_sha1(ByteView password, ByteView salt, int rounds, std::size_t length) {
  Bytes out(length);
  if (PKCS5_PBKDF2_HMAC_SHA1(reinterpret_cast<const char*>(password.data()), static_cast<int>(password.size()),
                             salt.data(), static_cast<int>(salt.size()), rounds, static_cast<int>(length),
                             out.data()) != 1) {
    return std::nullopt;
  }
  return out;
}

std::optional<Bytes> aes128_ecb_decrypt_no_padding(ByteView key, ByteView ciphertext) {
  if (key.size() != kAesBlock || ciphertext.empty() || ciphertext.size() % kAesBlock != 0) return std::nullopt;
  CipherContext context(EVP_CIPHER_CTX_new());
  if (!context || EVP_DecryptInit_ex(context.get(), EVP_aes_128_ecb(), nullptr, key.data(), nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(context.get(), 0) != 1) {
    return std::nullopt;
  }
  Bytes out(ciphertext.size() + kAesBlock);
  int written = 0;
  int final_written = 0;
  if (EVP_DecryptUpdate(context.get(), out.data(), &written, ciphertext.data(),
                        static_cast<int>(ciphertext.size())) != 1 ||
      EVP_DecryptFinal_ex(context.get(), out.data() + written, &final_written) != 1) {
    return std::nullopt;
  }
  out.resize(static_cast<std::size_t>(written + final_written));
  return out;
}

std::unique_ptr<ByteStream> aes256_cbc_decrypt_stream(std::unique_ptr<ByteStream> source, ByteView key,
                                                      ByteView iv) {
  return std::make_unique<CbcDecryptStream>(std::move(source), key, iv);
}

}  // namespace cloudless::mihome_backup
