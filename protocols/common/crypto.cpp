// OpenSSL wrappers; no primitive is written by hand. The hashes and the block-cipher modes a poll or
// an advert runs (MD5, SHA-256, AES ECB/CBC/CTR/CCM) use OpenSSL's low-level functions, the rest
// (SHA-1, HMAC, RC4) EVP. Why (docs/build.md §9): the first EVP call loads OpenSSL's configuration and
// provider tables, 1.6-2.2 MB resident for the rest of the process, and every EVP init looks the
// algorithm up again; the low-level functions are the same OpenSSL code without that machinery.
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

// RC4 keeps its key length in the context, so it gets one of its own per thread.
EVP_CIPHER_CTX* rc4_cipher_context() {
  thread_local CipherCtx ctx(EVP_CIPHER_CTX_new());
  return ctx.get();
}

// CCM parameters: nonce 7..13 bytes (15 − L with L = 2..8), even tag 4..16 (SP 800-38C A.1).
bool valid_ccm_parameters(ByteView key, ByteView nonce, std::size_t tag_length) {
  return key.size() == kAes128KeySize && nonce.size() >= 7 && nonce.size() <= 13 && tag_length >= 4 &&
         tag_length <= 16 && tag_length % 2 == 0;
}

// AES-128-CCM through OpenSSL's mode functions (CRYPTO_ccm128_*, <openssl/modes.h>) over the low-level
// AES block function: the same code EVP's CCM runs, without loading EVP (1.6 MB resident,
// docs/build.md §9). OpenSSL keeps the context's layout private and lets the caller provide its memory:
// in OpenSSL 3 it is two 16-byte blocks, a block counter and two pointers (56 bytes on 64-bit systems,
// 48 on 32-bit ones). It gets 128 bytes here, and the bytes past the first 64 carry a pattern that is
// checked after each use, so a future OpenSSL with a larger context fails closed instead of silently.
class Ccm {
 public:
  // The caller has checked the parameters (valid_ccm_parameters).
  Ccm(ByteView key, ByteView nonce, ByteView aad, std::size_t message_length, std::size_t tag_length)
      : tag_length_(tag_length) {
    std::fill(std::begin(storage_.bytes) + kUsed, std::end(storage_.bytes), kGuard);
    ok_ = AES_set_encrypt_key(key.data(), 128, &schedule_) == 0;
    if (!ok_) return;
    // M = the tag length, L = the size of the length field (15 - nonce length), both in bytes.
    CRYPTO_ccm128_init(context(), static_cast<unsigned>(tag_length), static_cast<unsigned>(15 - nonce.size()),
                       &schedule_, reinterpret_cast<block128_f>(AES_encrypt));
    ok_ = CRYPTO_ccm128_setiv(context(), nonce.data(), nonce.size(), message_length) == 0;
    if (ok_) CRYPTO_ccm128_aad(context(), aad.data(), aad.size());  // nothing for an empty aad
  }
  ~Ccm() {
    OPENSSL_cleanse(&schedule_, sizeof schedule_);
    OPENSSL_cleanse(storage_.bytes, sizeof storage_.bytes);
  }
  Ccm(const Ccm&) = delete;
  Ccm& operator=(const Ccm&) = delete;

  // Encrypts or decrypts `in` (the whole message) into `out` (as long) and writes the tag; false on
  // an OpenSSL refusal (e.g. a length that does not fit L bytes).
  bool run(bool encrypt, ByteView in, std::uint8_t* out, std::uint8_t* tag) {
    if (!ok_) return false;
    // Called for an empty message too: this call also runs the MAC's first block and the tag's mask.
    const int result = encrypt ? CRYPTO_ccm128_encrypt(context(), in.data(), out, in.size())
                               : CRYPTO_ccm128_decrypt(context(), in.data(), out, in.size());
    if (result != 0) return false;
    if (CRYPTO_ccm128_tag(context(), tag, tag_length_) != tag_length_) return false;
    return std::all_of(std::begin(storage_.bytes) + kUsed, std::end(storage_.bytes),
                       [](std::uint8_t byte) { return byte == kGuard; });
  }

 private:
  static constexpr std::size_t kUsed = 64;
  static constexpr std::uint8_t kGuard = 0xA5;
  struct alignas(16) Storage {
    std::uint8_t bytes[2 * kUsed];
  };
  CCM128_CONTEXT* context() { return reinterpret_cast<CCM128_CONTEXT*>(storage_.bytes); }

  Storage storage_{};
  AES_KEY schedule_{};
  std::size_t tag_length_;
  bool ok_ = false;
};

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
  Ccm ccm(key, nonce, aad, plaintext.size(), tag_length);
  Bytes out(plaintext.size() + tag_length);
  if (!ccm.run(true, plaintext, out.data(), out.data() + plaintext.size())) return std::nullopt;
  return out;
}

std::optional<Bytes> aes128_ccm_decrypt(ByteView key, ByteView nonce, ByteView aad, ByteView ciphertext,
                                        ByteView tag) {
  if (!valid_ccm_parameters(key, nonce, tag.size())) return std::nullopt;
  Ccm ccm(key, nonce, aad, ciphertext.size(), tag.size());
  Bytes out(ciphertext.size());
  std::array<std::uint8_t, kAesBlock> computed{};
  // The tag is checked without an early exit, and on a mismatch no unauthenticated byte escapes.
  if (!ccm.run(false, ciphertext, out.data(), computed.data()) ||
      !constant_time_equal(ByteView(computed.data(), tag.size()), tag)) {
    OPENSSL_cleanse(out.data(), out.size());
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
