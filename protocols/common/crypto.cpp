// OpenSSL wrappers; no primitive is written by hand. The hashes and the block-cipher modes a poll
// runs (MD5, SHA-256, AES ECB/CBC/CTR) use OpenSSL's low-level functions, the rest (CCM,
// RC4) EVP. Why (docs/build.md §9): the first EVP call loads OpenSSL's configuration and provider
// tables, 2.2 MB resident for the rest of the process, and every EVP init looks the algorithm up
// again; the low-level functions are the same OpenSSL code without that machinery (+68 kB).
// OpenSSL 3 marks them deprecated for new designs; they remain part of its API and ABI.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "protocols/common/crypto.h"

#include <algorithm>
#include <climits>
#include <initializer_list>
#include <memory>

#include <openssl/aes.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/md5.h>
#include <openssl/modes.h>
#include <openssl/provider.h>
#include <openssl/sha.h>

namespace cloudless::crypto {

namespace {

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

constexpr std::size_t kAesBlock = 16;
constexpr std::size_t kAes128KeySize = 16;
constexpr std::size_t kAes256KeySize = 32;

// OpenSSL 3 looks an algorithm up in its provider on every EVP_aes_128_ccm() init: fetch each
// once, and reuse one context per thread.
const EVP_CIPHER* aes128_ccm_algorithm() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-128-CCM", nullptr);
  return cipher;
}

// RC4 from the legacy provider, loaded into a library context of its own: loading "legacy" into the
// default context would stop OpenSSL from loading "default" there implicitly (docs/build.md §8),
// and nothing else should change behaviour because the bind-key tool ran. Fetched once; never freed
// (it lives as long as the process, like the other cached fetches).
const EVP_CIPHER* rc4_algorithm() {
  static EVP_CIPHER* const cipher = [] {
    OSSL_LIB_CTX* const library = OSSL_LIB_CTX_new();
    if (!library) return static_cast<EVP_CIPHER*>(nullptr);
    if (OSSL_PROVIDER_load(library, "legacy") == nullptr) {
      ERR_clear_error();  // leave no stale error for unrelated OpenSSL callers
      OSSL_LIB_CTX_free(library);
      return static_cast<EVP_CIPHER*>(nullptr);
    }
    EVP_CIPHER* const rc4 = EVP_CIPHER_fetch(library, "RC4", nullptr);
    if (!rc4) ERR_clear_error();
    return rc4;
  }();
  return cipher;
}

// CCM and RC4 get contexts of their own: CCM keeps its IV/tag lengths and RC4 its key length in
// the context.
EVP_CIPHER_CTX* aead_cipher_context() {
  thread_local CipherCtx ctx(EVP_CIPHER_CTX_new());
  return ctx.get();
}

EVP_CIPHER_CTX* rc4_cipher_context() {
  thread_local CipherCtx ctx(EVP_CIPHER_CTX_new());
  return ctx.get();
}

// CCM parameters: nonce 7..13 bytes (15 − L with L = 2..8), even tag 4..16 (SP 800-38C A.1).
bool valid_ccm_parameters(ByteView key, ByteView nonce, std::size_t tag_length) {
  return key.size() == kAes128KeySize && nonce.size() >= 7 && nonce.size() <= 13 && tag_length >= 4 &&
         tag_length <= 16 && tag_length % 2 == 0;
}

// EVP never reads a zero-length buffer, but it tells "no data" from "empty data" by the pointer
// (a null input means "set the length" or "finish"), and an empty std::vector may hand out nullptr.
const std::uint8_t* non_null(ByteView bytes) {
  static const std::uint8_t kNothing = 0;
  return bytes.empty() ? &kNothing : bytes.data();
}

std::uint8_t* non_null(Bytes& bytes) {
  thread_local std::uint8_t nothing = 0;
  return bytes.empty() ? &nothing : bytes.data();
}

// MD5 over several parts with one context, so callers never concatenate buffers.
Md5Digest md5_parts(std::initializer_list<ByteView> parts) {
  Md5Digest digest{};
  MD5_CTX ctx;
  MD5_Init(&ctx);
  for (const ByteView part : parts) MD5_Update(&ctx, part.data(), part.size());
  MD5_Final(digest.data(), &ctx);
  OPENSSL_cleanse(&ctx, sizeof ctx);
  return digest;
}

// An AES key schedule for one call, wiped when the call ends. Bits: 128 or 256.
class AesKey {
 public:
  AesKey(ByteView key, bool encrypt) {
    const int bits = static_cast<int>(key.size() * 8);
    ok_ = (bits == 128 || bits == 256) &&
          (encrypt ? AES_set_encrypt_key(key.data(), bits, &schedule_) : AES_set_decrypt_key(key.data(), bits, &schedule_)) == 0;
  }
  ~AesKey() { OPENSSL_cleanse(&schedule_, sizeof schedule_); }
  AesKey(const AesKey&) = delete;
  AesKey& operator=(const AesKey&) = delete;
  bool ok() const { return ok_; }
  const AES_KEY* get() const { return &schedule_; }

 private:
  AES_KEY schedule_{};
  bool ok_ = false;
};

// PKCS#7: 1..16 bytes, each holding the pad length; a full block when the input is aligned.
Bytes pkcs7_padded(ByteView input) {
  const std::size_t pad = kAesBlock - input.size() % kAesBlock;
  Bytes out(input.size() + pad, static_cast<std::uint8_t>(pad));
  std::copy(input.begin(), input.end(), out.begin());
  return out;
}

// Removes PKCS#7 padding in place; false on a bad pad (what EVP_DecryptFinal_ex refuses).
bool pkcs7_unpad(Bytes& data) {
  if (data.empty()) return false;
  const std::size_t pad = data.back();
  if (pad == 0 || pad > kAesBlock || pad > data.size()) return false;
  for (std::size_t i = data.size() - pad; i < data.size(); ++i) {
    if (data[i] != pad) return false;
  }
  data.resize(data.size() - pad);
  return true;
}

// CBC over whole blocks (no padding here), key size 16 or 32.
std::optional<Bytes> aes_cbc_blocks(bool encrypt, ByteView key, ByteView iv, ByteView input) {
  if (iv.size() != kAesBlock || input.size() % kAesBlock != 0) return std::nullopt;
  const AesKey schedule(key, encrypt);
  if (!schedule.ok()) return std::nullopt;
  Bytes out(input.size());
  if (input.empty()) return out;
  std::array<std::uint8_t, kAesBlock> chain{};  // AES_cbc_encrypt updates the IV as it goes
  std::copy(iv.begin(), iv.end(), chain.begin());
  AES_cbc_encrypt(input.data(), out.data(), input.size(), schedule.get(), chain.data(),
                  encrypt ? AES_ENCRYPT : AES_DECRYPT);
  return out;
}

std::optional<Bytes> aes_ecb_blocks(bool encrypt, ByteView key, ByteView input) {
  if (input.size() % kAesBlock != 0) return std::nullopt;
  const AesKey schedule(key, encrypt);
  if (!schedule.ok()) return std::nullopt;
  Bytes out(input.size());
  for (std::size_t at = 0; at < input.size(); at += kAesBlock) {
    AES_ecb_encrypt(input.data() + at, out.data() + at, schedule.get(), encrypt ? AES_ENCRYPT : AES_DECRYPT);
  }
  return out;
}

// CBC with already expanded schedules: PKCS#7 added (encrypt) or checked and removed (decrypt).
std::optional<Bytes> cbc_padded(const AES_KEY& schedule, bool encrypt, ByteView iv, ByteView input) {
  if (iv.size() != kAesBlock) return std::nullopt;
  if (!encrypt && (input.empty() || input.size() % kAesBlock != 0)) return std::nullopt;
  Bytes out = encrypt ? pkcs7_padded(input) : Bytes(input.begin(), input.end());
  std::array<std::uint8_t, kAesBlock> chain{};  // AES_cbc_encrypt updates the IV as it goes
  std::copy(iv.begin(), iv.end(), chain.begin());
  AES_cbc_encrypt(out.data(), out.data(), out.size(), &schedule, chain.data(), encrypt ? AES_ENCRYPT : AES_DECRYPT);
  if (!encrypt && !pkcs7_unpad(out)) return std::nullopt;
  return out;
}

}  // namespace

struct Aes128Key::Schedules {
  AES_KEY encrypt{};
  AES_KEY decrypt{};
  ~Schedules() { OPENSSL_cleanse(this, sizeof *this); }
};

Aes128Key::Aes128Key(const std::array<std::uint8_t, 16>& key) : schedules_(std::make_unique<Schedules>()) {
  // Only a null pointer or a bad bit count make these fail; 128 bits from an array is neither.
  AES_set_encrypt_key(key.data(), 128, &schedules_->encrypt);
  AES_set_decrypt_key(key.data(), 128, &schedules_->decrypt);
}

Aes128Key::~Aes128Key() = default;
Aes128Key::Aes128Key(Aes128Key&&) noexcept = default;
Aes128Key& Aes128Key::operator=(Aes128Key&&) noexcept = default;

std::optional<Bytes> Aes128Key::cbc_encrypt(ByteView iv, ByteView plaintext) const {
  if (!schedules_) return std::nullopt;  // moved from
  return cbc_padded(schedules_->encrypt, true, iv, plaintext);
}

std::optional<Bytes> Aes128Key::cbc_decrypt(ByteView iv, ByteView ciphertext) const {
  if (!schedules_) return std::nullopt;
  return cbc_padded(schedules_->decrypt, false, iv, ciphertext);
}

Md5Digest md5(ByteView data) {
  return md5_parts({data});
}

Md5Digest md5(ByteView first, ByteView second) { return md5_parts({first, second}); }

Md5Digest md5(ByteView first, ByteView second, ByteView third) { return md5_parts({first, second, third}); }

// Init/Update/Final, never the one-shot SHA256()/MD5(): OpenSSL 3 routes those through EVP.
Sha256Digest sha256(ByteView data) { return sha256(data, ByteView{}); }

Sha256Digest sha256(ByteView first, ByteView second) {
  Sha256Digest digest{};
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, first.data(), first.size());
  SHA256_Update(&ctx, second.data(), second.size());
  SHA256_Final(digest.data(), &ctx);
  OPENSSL_cleanse(&ctx, sizeof ctx);
  return digest;
}

std::optional<Bytes> aes128_ecb_encrypt(ByteView key, ByteView plaintext) {
  if (key.size() != kAes128KeySize) return std::nullopt;
  return aes_ecb_blocks(true, key, pkcs7_padded(plaintext));
}

std::optional<Bytes> aes128_ecb_decrypt(ByteView key, ByteView ciphertext) {
  if (key.size() != kAes128KeySize || ciphertext.empty()) return std::nullopt;
  std::optional<Bytes> out = aes_ecb_blocks(false, key, ciphertext);
  if (!out || !pkcs7_unpad(*out)) return std::nullopt;
  return out;
}

std::optional<Bytes> aes256_cbc_encrypt_no_padding(ByteView key, ByteView iv, ByteView plaintext) {
  if (key.size() != kAes256KeySize) return std::nullopt;
  return aes_cbc_blocks(true, key, iv, plaintext);
}

std::optional<Bytes> aes256_cbc_decrypt_no_padding(ByteView key, ByteView iv, ByteView ciphertext) {
  if (key.size() != kAes256KeySize) return std::nullopt;
  return aes_cbc_blocks(false, key, iv, ciphertext);
}

std::optional<Bytes> aes128_cbc_encrypt(ByteView key, ByteView iv, ByteView plaintext) {
  if (key.size() != kAes128KeySize) return std::nullopt;
  const AesKey schedule(key, true);
  if (!schedule.ok()) return std::nullopt;
  return cbc_padded(*schedule.get(), true, iv, plaintext);
}

std::optional<Bytes> aes128_cbc_decrypt(ByteView key, ByteView iv, ByteView ciphertext) {
  if (key.size() != kAes128KeySize) return std::nullopt;
  const AesKey schedule(key, false);
  if (!schedule.ok()) return std::nullopt;
  return cbc_padded(*schedule.get(), false, iv, ciphertext);
}

std::optional<Bytes> aes128_ccm_encrypt(ByteView key, ByteView nonce, ByteView aad, ByteView plaintext,
                                        std::size_t tag_length) {
  if (!valid_ccm_parameters(key, nonce, tag_length)) return std::nullopt;
  if (plaintext.size() > static_cast<std::size_t>(INT_MAX) - 16 || aad.size() > static_cast<std::size_t>(INT_MAX)) {
    return std::nullopt;
  }
  EVP_CIPHER_CTX* ctx = aead_cipher_context();
  const EVP_CIPHER* cipher = aes128_ccm_algorithm();
  if (!ctx || !cipher) return std::nullopt;
  // CCM order (OpenSSL's documented sequence): lengths before the key, the total plaintext length
  // before any AAD, the AAD in one call, then the data in one call.
  if (EVP_EncryptInit_ex(ctx, cipher, nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag_length), nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx, nullptr, nullptr, key.data(), nonce.data()) != 1) {
    return std::nullopt;
  }
  int written = 0;
  if (EVP_EncryptUpdate(ctx, nullptr, &written, nullptr, static_cast<int>(plaintext.size())) != 1) {
    return std::nullopt;
  }
  if (!aad.empty() && EVP_EncryptUpdate(ctx, nullptr, &written, aad.data(), static_cast<int>(aad.size())) != 1) {
    return std::nullopt;
  }
  Bytes out(plaintext.size() + tag_length);
  if (EVP_EncryptUpdate(ctx, out.data(), &written, non_null(plaintext), static_cast<int>(plaintext.size())) != 1 ||
      static_cast<std::size_t>(written) != plaintext.size()) {
    return std::nullopt;
  }
  int final_written = 0;
  if (EVP_EncryptFinal_ex(ctx, out.data() + written, &final_written) != 1 || final_written != 0) return std::nullopt;
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(tag_length), out.data() + plaintext.size()) !=
      1) {
    return std::nullopt;
  }
  return out;
}

std::optional<Bytes> aes128_ccm_decrypt(ByteView key, ByteView nonce, ByteView aad, ByteView ciphertext,
                                        ByteView tag) {
  if (!valid_ccm_parameters(key, nonce, tag.size())) return std::nullopt;
  if (ciphertext.size() > static_cast<std::size_t>(INT_MAX) || aad.size() > static_cast<std::size_t>(INT_MAX)) {
    return std::nullopt;
  }
  EVP_CIPHER_CTX* ctx = aead_cipher_context();
  const EVP_CIPHER* cipher = aes128_ccm_algorithm();
  if (!ctx || !cipher) return std::nullopt;
  // The expected tag goes in before the key; EVP_CTRL_AEAD_SET_TAG copies it.
  Bytes expected(tag.begin(), tag.end());
  if (EVP_DecryptInit_ex(ctx, cipher, nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(expected.size()), expected.data()) != 1 ||
      EVP_DecryptInit_ex(ctx, nullptr, nullptr, key.data(), nonce.data()) != 1) {
    return std::nullopt;
  }
  int written = 0;
  if (EVP_DecryptUpdate(ctx, nullptr, &written, nullptr, static_cast<int>(ciphertext.size())) != 1) {
    return std::nullopt;
  }
  if (!aad.empty() && EVP_DecryptUpdate(ctx, nullptr, &written, aad.data(), static_cast<int>(aad.size())) != 1) {
    return std::nullopt;
  }
  Bytes out(ciphertext.size());
  // CCM checks the tag inside this call (there is no DecryptFinal step for CCM): ≤ 0 is a mismatch,
  // and OpenSSL has wiped `out` by then. Wipe it ourselves too, so no unauthenticated byte escapes.
  if (EVP_DecryptUpdate(ctx, non_null(out), &written, non_null(ciphertext), static_cast<int>(ciphertext.size())) <=
          0 ||
      static_cast<std::size_t>(written) != ciphertext.size()) {
    OPENSSL_cleanse(out.data(), out.size());
    ERR_clear_error();
    return std::nullopt;
  }
  return out;
}

std::optional<Bytes> aes128_ctr(ByteView key, ByteView iv, ByteView data) {
  if (key.size() != kAes128KeySize || iv.size() != kAesBlock) return std::nullopt;
  const AesKey schedule(key, true);
  if (!schedule.ok()) return std::nullopt;
  Bytes out(data.size());
  if (data.empty()) return out;
  std::array<std::uint8_t, kAesBlock> counter{};
  std::array<std::uint8_t, kAesBlock> keystream{};
  std::copy(iv.begin(), iv.end(), counter.begin());
  unsigned int used = 0;
  CRYPTO_ctr128_encrypt(data.data(), out.data(), data.size(), schedule.get(), counter.data(), keystream.data(),
                        &used, reinterpret_cast<block128_f>(AES_encrypt));
  OPENSSL_cleanse(keystream.data(), keystream.size());
  return out;
}

bool rc4_available() { return rc4_algorithm() != nullptr; }

std::optional<Bytes> rc4(ByteView key, ByteView data, std::size_t drop) {
  constexpr std::size_t kMaxRc4Key = 256;  // the key schedule reads at most 256 key bytes
  if (key.empty() || key.size() > kMaxRc4Key) return std::nullopt;
  if (data.size() > static_cast<std::size_t>(INT_MAX)) return std::nullopt;
  EVP_CIPHER_CTX* ctx = rc4_cipher_context();
  const EVP_CIPHER* cipher = rc4_algorithm();
  if (!ctx || !cipher) return std::nullopt;
  // RC4's key length is variable: set it between an init without key and the init with it.
  if (EVP_EncryptInit_ex(ctx, cipher, nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_key_length(ctx, static_cast<int>(key.size())) != 1 ||
      EVP_EncryptInit_ex(ctx, nullptr, nullptr, key.data(), nullptr) != 1) {
    return std::nullopt;
  }
  // Dropping n keystream bytes = encrypting n bytes and throwing them away.
  std::array<std::uint8_t, 256> discard{};
  for (std::size_t left = drop; left > 0;) {
    const std::size_t chunk = std::min(left, discard.size());
    int written = 0;
    if (EVP_EncryptUpdate(ctx, discard.data(), &written, discard.data(), static_cast<int>(chunk)) != 1) {
      return std::nullopt;
    }
    left -= chunk;
  }
  Bytes out(data.size());
  int written = 0;
  if (EVP_EncryptUpdate(ctx, non_null(out), &written, non_null(data), static_cast<int>(data.size())) != 1 ||
      static_cast<std::size_t>(written) != data.size()) {
    return std::nullopt;
  }
  return out;
}

bool constant_time_equal(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace cloudless::crypto
