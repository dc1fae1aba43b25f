#include "protocols/xiaomi_cloud/rc4mi.h"

#include <optional>

#include "protocols/common/bytes.h"
#include "protocols/common/crypto.h"
#include "protocols/xiaomi_ble/codec/bindkey_capture.h"

namespace cloudless::xiaomi_cloud {

namespace {

using xiaomi_ble::base64_decode;
using xiaomi_ble::base64_encode;

Result<Bytes> decode_field(std::string_view text, std::string_view what) {
  if (text.empty()) return parse_error(std::string(what) + " is empty");
  std::optional<Bytes> bytes = base64_decode(text);
  if (!bytes || bytes->empty()) return parse_error(std::string(what) + " is not base64");
  return std::move(*bytes);
}

Result<Bytes> rc4_drop_1024(std::string_view signed_nonce, ByteView data) {
  Result<Bytes> key = decode_field(signed_nonce, "signed nonce");
  if (!key) return key.error();
  std::optional<Bytes> out = crypto::rc4(*key, data, xiaomi_ble::kMiCloudRc4Drop);
  if (!out) return parse_error(crypto::rc4_available() ? "RC4 failed" : crypto::kRc4UnavailableReason);
  return std::move(*out);
}

}  // namespace

std::string make_nonce(const std::array<std::uint8_t, 8>& random, std::int64_t unix_ms) {
  Bytes nonce(random.begin(), random.end());
  const auto minutes = static_cast<std::uint32_t>(unix_ms / 60000);
  for (int shift = 24; shift >= 0; shift -= 8) nonce.push_back(static_cast<std::uint8_t>(minutes >> shift));
  return base64_encode(nonce);
}

Result<std::string> make_signed_nonce(std::string_view ssecurity, std::string_view nonce) {
  Result<Bytes> security_bytes = decode_field(ssecurity, "ssecurity");
  if (!security_bytes) return security_bytes.error();
  Result<Bytes> nonce_bytes = decode_field(nonce, "nonce");
  if (!nonce_bytes) return nonce_bytes.error();
  const crypto::Sha256Digest key = xiaomi_ble::signed_nonce(*security_bytes, *nonce_bytes);
  return base64_encode(key);
}

std::string request_hash(std::string_view method, std::string_view path, const std::vector<Param>& params,
                         std::string_view signed_nonce) {
  std::string text(method);
  text += '&';
  text += path;
  for (const auto& [name, value] : params) {
    text += '&';
    text += name;
    text += '=';
    text += value;
  }
  text += '&';
  text += signed_nonce;
  const std::optional<crypto::Sha1Digest> digest = crypto::sha1(as_bytes(text));
  return digest ? base64_encode(*digest) : std::string{};
}

Result<std::string> encrypt_value(std::string_view signed_nonce, std::string_view plaintext) {
  Result<Bytes> sealed = rc4_drop_1024(signed_nonce, as_bytes(plaintext));
  if (!sealed) return sealed.error();
  return base64_encode(*sealed);
}

Result<std::string> decrypt_reply(std::string_view signed_nonce, std::string_view body) {
  std::optional<Bytes> ciphertext = base64_decode(body);
  if (!ciphertext) return parse_error("the reply is not base64 (not an encrypted API answer)");
  Result<Bytes> plain = rc4_drop_1024(signed_nonce, *ciphertext);
  if (!plain) return plain.error();
  return std::string(plain->begin(), plain->end());
}

Result<EncryptedCall> encrypt_call(std::string_view path, std::string_view data_json, std::string_view ssecurity,
                                   std::string_view nonce) {
  Result<std::string> key = make_signed_nonce(ssecurity, nonce);
  if (!key) return key.error();
  const std::string hash = request_hash("POST", path, {{"data", std::string(data_json)}}, *key);
  if (hash.empty()) return parse_error("SHA-1 failed");
  Result<std::string> data_sealed = encrypt_value(*key, data_json);
  if (!data_sealed) return data_sealed.error();
  Result<std::string> hash_sealed = encrypt_value(*key, hash);
  if (!hash_sealed) return hash_sealed.error();

  EncryptedCall call;
  call.signed_nonce = *key;
  call.params = {{"data", *data_sealed}, {"rc4_hash__", *hash_sealed}};
  const std::string signature = request_hash("POST", path, call.params, *key);
  call.params.emplace_back("signature", signature);
  call.params.emplace_back("ssecurity", std::string(ssecurity));
  call.params.emplace_back("_nonce", std::string(nonce));
  return call;
}

}  // namespace cloudless::xiaomi_cloud
