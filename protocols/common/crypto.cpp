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
#include <openssl/hmac.h>
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

// CBC over whole blocks in place; AES_cbc_encrypt updates the IV as it goes, so it gets a copy.
bool cbc_in_place(const AES_KEY& schedule, bool encrypt, ByteView iv, Bytes& data) {
  if (iv.size() != kAesBlock || data.size() % kAesBlock != 0) return false;
  if (data.empty()) return true;
  std::array<std::uint8_t, kAesBlock> chain{};
  std::copy(iv.begin(), iv.end(), chain.begin());
  AES_cbc_encrypt(data.data(), data.data(), data.size(), &schedule, chain.data(), encrypt ? AES_ENCRYPT : AES_DECRYPT);
  return true;
}

bool ecb_in_place(const AES_KEY& schedule, bool encrypt, Bytes& data) {
  if (data.size() % kAesBlock != 0) return false;
  for (std::size_t at = 0; at < data.size(); at += kAesBlock) {
    AES_ecb_encrypt(data.data() + at, data.data() + at, &schedule, encrypt ? AES_ENCRYPT : AES_DECRYPT);
  }
  return true;
}

}  // namespace

struct AesKey::Schedules {
  AES_KEY encrypt{};
  AES_KEY decrypt{};
  ~Schedules() { OPENSSL_cleanse(this, sizeof *this); }
};

AesKey::AesKey(ByteView key) {
  if (key.size() != kAes128KeySize && key.size() != kAes256KeySize) return;  // invalid: every call fails
  auto schedules = std::make_unique<Schedules>();
  const int bits = static_cast<int>(key.size() * 8);
  if (AES_set_encrypt_key(key.data(), bits, &schedules->encrypt) != 0 ||
      AES_set_decrypt_key(key.data(), bits, &schedules->decrypt) != 0) {
    return;
  }
  schedules_ = std::move(schedules);
}

AesKey::~AesKey() = default;
AesKey::AesKey(AesKey&&) noexcept = default;
AesKey& AesKey::operator=(AesKey&&) noexcept = default;

std::optional<Bytes> AesKey::cbc_encrypt(ByteView iv, ByteView plaintext) const {
  if (!schedules_) return std::nullopt;
  Bytes out = pkcs7_padded(plaintext);
  if (!cbc_in_place(schedules_->encrypt, true, iv, out)) return std::nullopt;
  return out;
}

std::optional<Bytes> AesKey::cbc_decrypt(ByteView iv, ByteView ciphertext) const {
  if (!schedules_ || ciphertext.empty()) return std::nullopt;
  Bytes out(ciphertext.begin(), ciphertext.end());
  if (!cbc_in_place(schedules_->decrypt, false, iv, out) || !pkcs7_unpad(out)) return std::nullopt;
  return out;
}

std::optional<Bytes> AesKey::cbc_encrypt_no_padding(ByteView iv, ByteView plaintext) const {
  if (!schedules_) return std::nullopt;
  Bytes out(plaintext.begin(), plaintext.end());
  if (!cbc_in_place(schedules_->encrypt, true, iv, out)) return std::nullopt;
  return out;
}

std::optional<Bytes> AesKey::cbc_decrypt_no_padding(ByteView iv, ByteView ciphertext) const {
  if (!schedules_) return std::nullopt;
  Bytes out(ciphertext.begin(), ciphertext.end());
  if (!cbc_in_place(schedules_->decrypt, false, iv, out)) return std::nullopt;
  return out;
}

std::optional<Bytes> AesKey::ecb_encrypt(ByteView plaintext) const {
  if (!schedules_) return std::nullopt;
  Bytes out = pkcs7_padded(plaintext);
  if (!ecb_in_place(schedules_->encrypt, true, out)) return std::nullopt;
  return out;
}

std::optional<Bytes> AesKey::ecb_decrypt(ByteView ciphertext) const {
  if (!schedules_ || ciphertext.empty()) return std::nullopt;
  Bytes out(ciphertext.begin(), ciphertext.end());
  if (!ecb_in_place(schedules_->decrypt, false, out) || !pkcs7_unpad(out)) return std::nullopt;
  return out;
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

std::optional<Sha256Digest> hmac_sha256(ByteView key, ByteView data) {
  static const std::uint8_t kNothing = 0;  // HMAC() wants non-null pointers even for empty inputs
  Sha256Digest digest{};
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), key.empty() ? &kNothing : key.data(), static_cast<int>(key.size()),
           data.empty() ? &kNothing : data.data(), data.size(), digest.data(), &size) == nullptr ||
      size != digest.size())
    return std::nullopt;
  return digest;
}

std::optional<Sha1Digest> sha1(ByteView data) {
  static const std::uint8_t kNothing = 0;  // EVP_Digest wants a non-null pointer even for empty input
  Sha1Digest digest{};
  unsigned int size = 0;
  const std::uint8_t* bytes = data.empty() ? &kNothing : data.data();
  if (EVP_Digest(bytes, data.size(), digest.data(), &size, EVP_sha1(), nullptr) != 1 ||
      size != digest.size())
    return std::nullopt;
  return digest;
}

// The one-off functions expand the key for the call (AesKey), for callers with no session to keep it.
std::optional<Bytes> aes128_ecb_encrypt(ByteView key, ByteView plaintext) {
  if (key.size() != kAes128KeySize) return std::nullopt;
  return AesKey(key).ecb_encrypt(plaintext);
}

std::optional<Bytes> aes128_ecb_decrypt(ByteView key, ByteView ciphertext) {
  if (key.size() != kAes128KeySize) return std::nullopt;
  return AesKey(key).ecb_decrypt(ciphertext);
}

std::optional<Bytes> aes256_cbc_encrypt_no_padding(ByteView key, ByteView iv, ByteView plaintext) {
  if (key.size() != kAes256KeySize) return std::nullopt;
  return AesKey(key).cbc_encrypt_no_padding(iv, plaintext);
}

std::optional<Bytes> aes256_cbc_decrypt_no_padding(ByteView key, ByteView iv, ByteView ciphertext) {
  if (key.size() != kAes256KeySize) return std::nullopt;
  return AesKey(key).cbc_decrypt_no_padding(iv, ciphertext);
}

std::optional<Bytes> aes128_cbc_encrypt(ByteView key, ByteView iv, ByteView plaintext) {
  if (key.size() != kAes128KeySize) return std::nullopt;
  return AesKey(key).cbc_encrypt(iv, plaintext);
}

std::optional<Bytes> aes128_cbc_decrypt(ByteView key, ByteView iv, ByteView ciphertext) {
  if (key.size() != kAes128KeySize) return std::nullopt;
  return AesKey(key).cbc_decrypt(iv, ciphertext);
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
  AES_KEY schedule{};
  if (AES_set_encrypt_key(key.data(), 128, &schedule) != 0) return std::nullopt;
  Bytes out(data.size());
  std::array<std::uint8_t, kAesBlock> counter{};
  std::array<std::uint8_t, kAesBlock> keystream{};
  std::copy(iv.begin(), iv.end(), counter.begin());
  unsigned int used = 0;
  if (!data.empty()) {
    CRYPTO_ctr128_encrypt(data.data(), out.data(), data.size(), &schedule, counter.data(), keystream.data(), &used,
                          reinterpret_cast<block128_f>(AES_encrypt));
  }
  OPENSSL_cleanse(&schedule, sizeof schedule);
  OPENSSL_cleanse(keystream.data(), keystream.size());
  return out;
}

void skip_system_config() { OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr); }

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
