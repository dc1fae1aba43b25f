// OpenSSL 3 EVP wrappers. Each function is one EVP call sequence; no primitive is written by hand.
#include "protocols/common/crypto.h"

#include <climits>
#include <initializer_list>
#include <memory>

#include <openssl/crypto.h>
#include <openssl/evp.h>

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

bool constant_time_equal(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace cloudless::crypto
