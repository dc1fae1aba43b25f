// OpenSSL 3 EVP wrappers. Each function is one EVP call sequence; no primitive is written by hand.
#include "protocols/common/crypto.h"

#include <algorithm>
#include <climits>
#include <initializer_list>
#include <memory>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

namespace cloudless::crypto {

namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

constexpr std::size_t kAesBlock = 16;
constexpr std::size_t kAes128KeySize = 16;
constexpr std::size_t kAes256KeySize = 32;

// OpenSSL 3 looks an algorithm up in its provider on every EVP_md5()/EVP_aes_128_cbc() init, which
// costs more than hashing a packet: fetch each once, and reuse one context per thread (a poll of 50
// plugs a second, or a fuzzer, does thousands of these).
const EVP_MD* md5_algorithm() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "MD5", nullptr);
  return md;
}

const EVP_CIPHER* aes128_cbc_algorithm() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-128-CBC", nullptr);
  return cipher;
}

const EVP_MD* sha256_algorithm() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

const EVP_CIPHER* aes128_ecb_algorithm() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-128-ECB", nullptr);
  return cipher;
}

const EVP_CIPHER* aes256_cbc_algorithm() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
  return cipher;
}

const EVP_CIPHER* aes128_ccm_algorithm() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-128-CCM", nullptr);
  return cipher;
}

const EVP_CIPHER* aes128_ctr_algorithm() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-128-CTR", nullptr);
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

EVP_MD_CTX* md_context() {
  thread_local MdCtx ctx(EVP_MD_CTX_new());
  return ctx.get();
}

EVP_CIPHER_CTX* cipher_context() {
  thread_local CipherCtx ctx(EVP_CIPHER_CTX_new());
  return ctx.get();
}

// A separate context for the unpadded ciphers: OpenSSL 3 keeps EVP_CIPHER_CTX_set_padding(ctx, 0)
// across later EVP_CipherInit_ex calls on the same context, so sharing one would silently turn off
// PKCS#7 for the miIO and Midea V2 ciphers.
EVP_CIPHER_CTX* unpadded_cipher_context() {
  thread_local CipherCtx ctx(EVP_CIPHER_CTX_new());
  return ctx.get();
}

// AEAD and stream ciphers get contexts of their own for the same reason: CCM keeps its IV/tag
// lengths and RC4 its key length in the context.
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

// MD5 over several parts with one digest context, so callers never concatenate buffers. The
// default provider cannot fail MD5 on sane input; should it fail anyway (e.g. a FIPS-only
// configuration without MD5), the all-zero digest matches no real checksum, so packets are
// rejected rather than accepted.
Md5Digest md5_parts(std::initializer_list<ByteView> parts) {
  Md5Digest digest{};
  EVP_MD_CTX* ctx = md_context();
  if (!ctx || !md5_algorithm() || EVP_DigestInit_ex(ctx, md5_algorithm(), nullptr) != 1) return Md5Digest{};
  for (const ByteView part : parts) {
    if (EVP_DigestUpdate(ctx, part.data(), part.size()) != 1) return Md5Digest{};
  }
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(ctx, digest.data(), &size) != 1 || size != digest.size()) return Md5Digest{};
  return digest;
}

// One EVP cipher pass (encrypt = 1, decrypt = 0) with OpenSSL's PKCS#7 padding left enabled.
std::optional<Bytes> aes128_cbc(int encrypt, ByteView key, ByteView iv, ByteView input) {
  if (key.size() != kAes128KeySize || iv.size() != kAesBlock) return std::nullopt;
  // EVP takes int lengths; the output may grow by one block.
  if (input.size() > static_cast<std::size_t>(INT_MAX) - kAesBlock) return std::nullopt;
  EVP_CIPHER_CTX* ctx = cipher_context();
  if (!ctx || !aes128_cbc_algorithm()) return std::nullopt;
  if (EVP_CipherInit_ex(ctx, aes128_cbc_algorithm(), nullptr, key.data(), iv.data(), encrypt) != 1) {
    return std::nullopt;
  }
  Bytes out(input.size() + kAesBlock);
  int written = 0;
  if (EVP_CipherUpdate(ctx, out.data(), &written, input.data(), static_cast<int>(input.size())) != 1) {
    return std::nullopt;
  }
  int final_written = 0;
  // Decrypt: fails here on a bad PKCS#7 padding or a length that is not a multiple of 16.
  if (EVP_CipherFinal_ex(ctx, out.data() + written, &final_written) != 1) return std::nullopt;
  out.resize(static_cast<std::size_t>(written) + static_cast<std::size_t>(final_written));
  return out;
}

// One EVP pass of `cipher` (encrypt = 1, decrypt = 0) on `ctx`, with PKCS#7 on or off. `iv` is
// empty for ECB. Lengths are checked here so each public wrapper stays one line.
std::optional<Bytes> cipher_pass(const EVP_CIPHER* cipher, EVP_CIPHER_CTX* ctx, int encrypt, bool padding,
                                 std::size_t key_size, ByteView key, ByteView iv, ByteView input) {
  if (!cipher || !ctx || key.size() != key_size) return std::nullopt;
  const bool wants_iv = EVP_CIPHER_get_iv_length(cipher) > 0;
  if (wants_iv ? iv.size() != kAesBlock : !iv.empty()) return std::nullopt;
  if (input.size() > static_cast<std::size_t>(INT_MAX) - kAesBlock) return std::nullopt;
  if (EVP_CipherInit_ex(ctx, cipher, nullptr, key.data(), wants_iv ? iv.data() : nullptr, encrypt) != 1) {
    return std::nullopt;
  }
  if (EVP_CIPHER_CTX_set_padding(ctx, padding ? 1 : 0) != 1) return std::nullopt;
  Bytes out(input.size() + kAesBlock);
  int written = 0;
  if (EVP_CipherUpdate(ctx, out.data(), &written, input.data(), static_cast<int>(input.size())) != 1) {
    return std::nullopt;
  }
  int final_written = 0;
  // Fails on a bad PKCS#7 padding (decrypt) or, without padding, on a partial last block.
  if (EVP_CipherFinal_ex(ctx, out.data() + written, &final_written) != 1) return std::nullopt;
  out.resize(static_cast<std::size_t>(written) + static_cast<std::size_t>(final_written));
  return out;
}

}  // namespace

Md5Digest md5(ByteView data) {
  return md5_parts({data});
}

Md5Digest md5(ByteView first, ByteView second) { return md5_parts({first, second}); }

Md5Digest md5(ByteView first, ByteView second, ByteView third) { return md5_parts({first, second, third}); }

Sha256Digest sha256(ByteView data) {
  Sha256Digest digest{};
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 ||
      size != digest.size()) {
    return Sha256Digest{};
  }
  return digest;
}

Sha256Digest sha256(ByteView first, ByteView second) {
  // Same failure policy as md5_parts: an all-zero digest matches no real signature.
  Sha256Digest digest{};
  EVP_MD_CTX* ctx = md_context();
  if (!ctx || !sha256_algorithm() || EVP_DigestInit_ex(ctx, sha256_algorithm(), nullptr) != 1) {
    return Sha256Digest{};
  }
  if (EVP_DigestUpdate(ctx, first.data(), first.size()) != 1 ||
      EVP_DigestUpdate(ctx, second.data(), second.size()) != 1) {
    return Sha256Digest{};
  }
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(ctx, digest.data(), &size) != 1 || size != digest.size()) return Sha256Digest{};
  return digest;
}

std::optional<Bytes> aes128_ecb_encrypt(ByteView key, ByteView plaintext) {
  return cipher_pass(aes128_ecb_algorithm(), cipher_context(), 1, true, kAes128KeySize, key, {}, plaintext);
}

std::optional<Bytes> aes128_ecb_decrypt(ByteView key, ByteView ciphertext) {
  if (ciphertext.empty() || ciphertext.size() % kAesBlock != 0) return std::nullopt;
  return cipher_pass(aes128_ecb_algorithm(), cipher_context(), 0, true, kAes128KeySize, key, {}, ciphertext);
}

std::optional<Bytes> aes256_cbc_encrypt_no_padding(ByteView key, ByteView iv, ByteView plaintext) {
  if (plaintext.size() % kAesBlock != 0) return std::nullopt;
  return cipher_pass(aes256_cbc_algorithm(), unpadded_cipher_context(), 1, false, kAes256KeySize, key, iv,
                     plaintext);
}

std::optional<Bytes> aes256_cbc_decrypt_no_padding(ByteView key, ByteView iv, ByteView ciphertext) {
  if (ciphertext.size() % kAesBlock != 0) return std::nullopt;
  return cipher_pass(aes256_cbc_algorithm(), unpadded_cipher_context(), 0, false, kAes256KeySize, key, iv,
                     ciphertext);
}

std::optional<Bytes> aes128_cbc_encrypt(ByteView key, ByteView iv, ByteView plaintext) {
  return aes128_cbc(1, key, iv, plaintext);
}

std::optional<Bytes> aes128_cbc_decrypt(ByteView key, ByteView iv, ByteView ciphertext) {
  if (ciphertext.empty() || ciphertext.size() % kAesBlock != 0) return std::nullopt;
  return aes128_cbc(0, key, iv, ciphertext);
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
  return cipher_pass(aes128_ctr_algorithm(), unpadded_cipher_context(), 1, false, kAes128KeySize, key, iv, data);
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
