#include "protocols/xiaomi_ble/auth/mi_auth_standard.h"

#include <algorithm>
#include <memory>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <openssl/param_build.h>

#include "protocols/common/crypto.h"

namespace cloudless::xiaomi_ble::standard_auth {

namespace {

// ---- OpenSSL ownership ----------------------------------------------------------------------------

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct BnDeleter {
  void operator()(BIGNUM* bn) const { BN_clear_free(bn); }
};
struct ParamBuildDeleter {
  void operator()(OSSL_PARAM_BLD* build) const { OSSL_PARAM_BLD_free(build); }
};
struct ParamDeleter {
  void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); }
};
struct GroupDeleter {
  void operator()(EC_GROUP* group) const { EC_GROUP_free(group); }
};
struct PointDeleter {
  void operator()(EC_POINT* point) const { EC_POINT_free(point); }
};
struct KdfDeleter {
  void operator()(EVP_KDF* kdf) const { EVP_KDF_free(kdf); }
};
struct KdfCtxDeleter {
  void operator()(EVP_KDF_CTX* ctx) const { EVP_KDF_CTX_free(ctx); }
};
struct MacDeleter {
  void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
};
struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;
using Bn = std::unique_ptr<BIGNUM, BnDeleter>;
using ParamBuild = std::unique_ptr<OSSL_PARAM_BLD, ParamBuildDeleter>;
using Params = std::unique_ptr<OSSL_PARAM, ParamDeleter>;
using Group = std::unique_ptr<EC_GROUP, GroupDeleter>;
using Point = std::unique_ptr<EC_POINT, PointDeleter>;
using Kdf = std::unique_ptr<EVP_KDF, KdfDeleter>;
using KdfCtx = std::unique_ptr<EVP_KDF_CTX, KdfCtxDeleter>;
using Mac = std::unique_ptr<EVP_MAC, MacDeleter>;
using MacCtx = std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter>;

constexpr const char* kCurve = "prime256v1";  // = P-256 = secp256r1
constexpr std::size_t kUncompressedPoint = 65;  // 0x04 ‖ X ‖ Y

// Every failure path ends here: drop OpenSSL's error queue so no stale error surprises a later,
// unrelated OpenSSL caller in the same thread.
template <typename T>
std::optional<T> openssl_failed() {
  ERR_clear_error();
  return std::nullopt;
}

// An EVP_PKEY for P-256 from parameters: a private scalar and/or a public point (0x04 ‖ X ‖ Y).
// Importing a public point checks that it lies on the curve (EC_POINT_oct2point inside the EC
// key manager); a public check below rejects the rest (e.g. the point at infinity is not encodable).
Pkey make_ec_key(const BIGNUM* private_scalar, const std::uint8_t* point, int selection) {
  ParamBuild build(OSSL_PARAM_BLD_new());
  if (!build || OSSL_PARAM_BLD_push_utf8_string(build.get(), OSSL_PKEY_PARAM_GROUP_NAME, kCurve, 0) != 1) return {};
  if (private_scalar && OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_PRIV_KEY, private_scalar) != 1) return {};
  if (point && OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, point, kUncompressedPoint) != 1) {
    return {};
  }
  Params params(OSSL_PARAM_BLD_to_param(build.get()));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return {};
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.get()) != 1) return {};
  return Pkey(raw);
}

std::optional<PublicKey> export_public(const EVP_PKEY* key) {
  std::array<std::uint8_t, kUncompressedPoint> point{};
  std::size_t size = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size(), &size) != 1 ||
      size != kUncompressedPoint || point[0] != 0x04) {
    return openssl_failed<PublicKey>();
  }
  PublicKey out{};
  std::copy(point.begin() + 1, point.end(), out.begin());
  return out;
}

template <std::size_t N>
std::array<std::uint8_t, N> slice(const Bytes& bytes, std::size_t offset) {
  std::array<std::uint8_t, N> out{};
  std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(offset), N, out.begin());
  return out;
}

Bytes concat(ByteView first, ByteView second) {
  Bytes out(first.begin(), first.end());
  out.insert(out.end(), second.begin(), second.end());
  return out;
}

std::string hex_of(ByteView value) { return to_hex(value); }

}  // namespace

// ---- crypto -----------------------------------------------------------------------------------------

std::optional<KeyPair> generate_key_pair() {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", kCurve));
  if (!key) return openssl_failed<KeyPair>();
  BIGNUM* scalar = nullptr;
  if (EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_PRIV_KEY, &scalar) != 1) return openssl_failed<KeyPair>();
  const Bn owned(scalar);
  KeyPair pair;
  if (BN_bn2binpad(owned.get(), pair.private_key.data(), static_cast<int>(pair.private_key.size())) < 0) {
    return openssl_failed<KeyPair>();
  }
  const auto public_key = export_public(key.get());
  if (!public_key) return std::nullopt;
  pair.public_key = *public_key;
  return pair;
}

// OpenSSL 3.0's EVP_PKEY_fromdata does not compute the public point of a bare private scalar, so
// it is computed here as d·G with the EC_GROUP/EC_POINT API (still supported, not deprecated) and
// imported together with the scalar.
std::optional<KeyPair> key_pair_from_private(const PrivateKey& private_key) {
  const Bn scalar(BN_bin2bn(private_key.data(), static_cast<int>(private_key.size()), nullptr));
  const Group group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  if (!scalar || !group) return openssl_failed<KeyPair>();
  // 1 ≤ d < n: zero or a scalar at or beyond the group order is no private key.
  if (BN_is_zero(scalar.get()) || BN_cmp(scalar.get(), EC_GROUP_get0_order(group.get())) >= 0) {
    return std::nullopt;
  }
  const Point point(EC_POINT_new(group.get()));
  std::array<std::uint8_t, kUncompressedPoint> encoded{};
  if (!point || EC_POINT_mul(group.get(), point.get(), scalar.get(), nullptr, nullptr, nullptr) != 1 ||
      EC_POINT_point2oct(group.get(), point.get(), POINT_CONVERSION_UNCOMPRESSED, encoded.data(), encoded.size(),
                         nullptr) != kUncompressedPoint) {
    return openssl_failed<KeyPair>();
  }
  const Pkey key = make_ec_key(scalar.get(), encoded.data(), EVP_PKEY_KEYPAIR);
  if (!key) return openssl_failed<KeyPair>();
  KeyPair pair;
  pair.private_key = private_key;
  std::copy(encoded.begin() + 1, encoded.end(), pair.public_key.begin());
  return pair;
}

std::optional<SharedSecret> derive_shared_secret(const PrivateKey& private_key, const PublicKey& device_public) {
  std::array<std::uint8_t, kUncompressedPoint> point{};
  point[0] = 0x04;
  std::copy(device_public.begin(), device_public.end(), point.begin() + 1);
  const Pkey peer = make_ec_key(nullptr, point.data(), EVP_PKEY_PUBLIC_KEY);
  if (!peer) return openssl_failed<SharedSecret>();
  const PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, peer.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return openssl_failed<SharedSecret>();

  const auto ours = key_pair_from_private(private_key);
  if (!ours) return std::nullopt;
  const Bn scalar(BN_bin2bn(private_key.data(), static_cast<int>(private_key.size()), nullptr));
  std::array<std::uint8_t, kUncompressedPoint> our_point{};
  our_point[0] = 0x04;
  std::copy(ours->public_key.begin(), ours->public_key.end(), our_point.begin() + 1);
  const Pkey key = make_ec_key(scalar.get(), our_point.data(), EVP_PKEY_KEYPAIR);
  if (!key) return openssl_failed<SharedSecret>();

  const PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  SharedSecret secret{};
  std::size_t size = secret.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), secret.data(), &size) != 1 || size != secret.size()) {
    return openssl_failed<SharedSecret>();
  }
  return secret;
}

std::optional<Bytes> hkdf_sha256(ByteView ikm, ByteView salt, std::string_view info, std::size_t length) {
  if (length == 0) return std::nullopt;
  static EVP_KDF* const algorithm = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (!algorithm) return openssl_failed<Bytes>();
  const KdfCtx ctx(EVP_KDF_CTX_new(algorithm));
  if (!ctx) return openssl_failed<Bytes>();
  // OSSL_PARAM takes non-const pointers; OpenSSL only reads them.
  std::string digest = "SHA256";
  Bytes key(ikm.begin(), ikm.end());
  Bytes salt_copy(salt.begin(), salt.end());
  std::string info_copy(info);
  std::uint8_t empty = 0;
  OSSL_PARAM params[5];
  std::size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest.data(), 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, key.empty() ? &empty : key.data(), key.size());
  if (!salt_copy.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt_copy.data(), salt_copy.size());
  }
  if (!info_copy.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info_copy.data(), info_copy.size());
  }
  params[n] = OSSL_PARAM_construct_end();
  Bytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) return openssl_failed<Bytes>();
  return out;
}

std::optional<Hmac> hmac_sha256(ByteView key, ByteView data) {
  static EVP_MAC* const algorithm = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (!algorithm) return openssl_failed<Hmac>();
  const MacCtx ctx(EVP_MAC_CTX_new(algorithm));
  if (!ctx) return openssl_failed<Hmac>();
  std::string digest = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest.data(), 0),
                               OSSL_PARAM_construct_end()};
  static const std::uint8_t kNothing = 0;
  Hmac out{};
  std::size_t size = 0;
  if (EVP_MAC_init(ctx.get(), key.empty() ? &kNothing : key.data(), key.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), data.empty() ? &kNothing : data.data(), data.size()) != 1 ||
      EVP_MAC_final(ctx.get(), out.data(), &size, out.size()) != 1 || size != out.size()) {
    return openssl_failed<Hmac>();
  }
  return out;
}

std::optional<RegisterKeys> derive_register_keys(const SharedSecret& shared) {
  const auto okm = hkdf_sha256(shared, {}, kSetupInfo, 64);
  if (!okm) return std::nullopt;
  RegisterKeys keys;
  keys.token = slice<12>(*okm, 0);
  keys.bind_key = slice<16>(*okm, 12);
  keys.a = slice<16>(*okm, 28);
  return keys;
}

// Remote info: [0..3] a prefix (01 00 00 00 in the vector, meaning unknown), [4..23] the DID, a
// 20-byte field: 00 then "blt.4.18n58266kgg00" in the vector (§10).
Result<RemoteInfo> parse_remote_info(ByteView value) {
  if (value.size() != kRemoteInfoSize) {
    return parse_error("remote info of " + std::to_string(value.size()) + " bytes, expected 24",
                       std::min(value.size(), kRemoteInfoSize));
  }
  RemoteInfo info;
  std::copy_n(value.begin(), 4, info.prefix.begin());
  std::copy_n(value.begin() + 4, kDidSize, info.did.begin());
  for (const std::uint8_t c : info.did) {
    if (c >= 0x21 && c <= 0x7E) info.did_text.push_back(static_cast<char>(c));
  }
  return info;
}

std::optional<Bytes> encrypt_did(const Key16& a, ByteView did) {
  static constexpr std::array<std::uint8_t, 12> kNonce = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
                                                          0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b};
  if (did.size() != kDidSize) return std::nullopt;
  return crypto::aes128_ccm_encrypt(a, kNonce, as_bytes(kDidAad), did, 4);
}

std::optional<LoginKeys> derive_login_keys(const Token& token, const Random& app_random, const Random& device_random) {
  const Bytes salt = concat(app_random, device_random);
  const auto okm = hkdf_sha256(token, salt, kLoginInfo, 64);
  if (!okm) return std::nullopt;
  LoginKeys keys;
  keys.dev_key = slice<16>(*okm, 0);
  keys.app_key = slice<16>(*okm, 16);
  keys.dev_iv = slice<4>(*okm, 32);
  keys.app_iv = slice<4>(*okm, 36);
  return keys;
}

std::optional<Hmac> device_info(const LoginKeys& keys, const Random& app_random, const Random& device_random) {
  return hmac_sha256(keys.dev_key, concat(device_random, app_random));
}

std::optional<Hmac> app_info(const LoginKeys& keys, const Random& app_random, const Random& device_random) {
  return hmac_sha256(keys.app_key, concat(app_random, device_random));
}

bool check_device_info(const LoginKeys& keys, const Random& app_random, const Random& device_random,
                       ByteView received) {
  const auto expected = device_info(keys, app_random, device_random);
  return expected && crypto::constant_time_equal(*expected, received);
}

std::array<std::uint8_t, 12> session_nonce(const Iv& iv, std::uint32_t counter) {
  return {iv[0], iv[1], iv[2], iv[3], 0, 0, 0, 0,
          static_cast<std::uint8_t>(counter), static_cast<std::uint8_t>(counter >> 8),
          static_cast<std::uint8_t>(counter >> 16), static_cast<std::uint8_t>(counter >> 24)};
}

std::optional<Bytes> encrypt_session_message(const Key16& key, const Iv& iv, std::uint32_t counter,
                                             ByteView plaintext) {
  return crypto::aes128_ccm_encrypt(key, session_nonce(iv, counter), {}, plaintext, kSessionTagSize);
}

Result<Bytes> decrypt_session_message(const Key16& key, const Iv& iv, std::uint32_t counter, ByteView sealed) {
  if (sealed.size() < kSessionTagSize) {
    return parse_error("session message of " + std::to_string(sealed.size()) + " bytes, shorter than its tag",
                       sealed.size());
  }
  const std::size_t body = sealed.size() - kSessionTagSize;
  auto clear = crypto::aes128_ccm_decrypt(key, session_nonce(iv, counter), {}, sealed.first(body), sealed.subspan(body));
  if (!clear) return authentication_error("session message tag does not verify: wrong key or counter", body);
  return std::move(*clear);
}

// ---- AVDTP ------------------------------------------------------------------------------------------

Bytes encode_header(std::uint8_t type, std::uint16_t frames) {
  return {0x00, 0x00, 0x00, type, static_cast<std::uint8_t>(frames & 0xFF), static_cast<std::uint8_t>(frames >> 8)};
}

Result<Header> parse_header(ByteView value) {
  if (value.size() != 6) {
    return parse_error("AVDTP header of " + std::to_string(value.size()) + " bytes, expected 6",
                       std::min<std::size_t>(value.size(), 6));
  }
  for (std::size_t i = 0; i < 3; ++i) {
    if (value[i] != 0) return parse_error("not an AVDTP header: " + hex_of(value), i);
  }
  return Header{value[3], static_cast<std::uint16_t>(value[4] | (value[5] << 8))};
}

Bytes encode_control(Control control) {
  switch (control) {
    case Control::ready: return {0x00, 0x00, 0x01, 0x01};
    case Control::ok: return {0x00, 0x00, 0x01, 0x00};
    case Control::timeout: return {0x00, 0x00, 0x01, 0x05, 0x01, 0x00};
    case Control::error: return {0x00, 0x00, 0x01, 0x05, 0x03, 0x00};
  }
  return {};
}

std::optional<Control> parse_control(ByteView value) {
  for (const Control control : {Control::ready, Control::ok, Control::timeout, Control::error}) {
    const Bytes expected = encode_control(control);
    if (std::equal(value.begin(), value.end(), expected.begin(), expected.end())) return control;
  }
  return std::nullopt;
}

std::string_view control_name(Control control) {
  switch (control) {
    case Control::ready: return "RCV_RDY";
    case Control::ok: return "RCV_OK";
    case Control::timeout: return "RCV_TIMEOUT";
    case Control::error: return "RCV_ERR";
  }
  return "RCV_ERR";
}

Result<AvdtpMessage> parse_avdtp(ByteView value) {
  if (value.size() < 3) {
    return parse_error("AVDTP message of " + std::to_string(value.size()) + " bytes", value.size());
  }
  AvdtpMessage message;
  const std::uint16_t index = static_cast<std::uint16_t>(value[0] | (value[1] << 8));
  if (index != 0) {
    message.kind = AvdtpMessage::Kind::frame;
    message.index = index;
    message.payload.assign(value.begin() + 2, value.end());
    return message;
  }
  if (value[2] == 0x00) {
    auto header = parse_header(value);
    if (!header) return header.error();
    message.kind = AvdtpMessage::Kind::header;
    message.header = *header;
    return message;
  }
  if (value[2] == 0x01) {
    const auto control = parse_control(value);
    if (!control) return parse_error("unknown AVDTP control message " + hex_of(value), 3);
    message.kind = AvdtpMessage::Kind::control;
    message.control = *control;
    return message;
  }
  return parse_error("unknown AVDTP message " + hex_of(value), 2);
}

std::uint16_t frame_count(std::size_t size) {
  return static_cast<std::uint16_t>((size + kFramePayload - 1) / kFramePayload);
}

std::vector<Bytes> split_frames(ByteView data) {
  std::vector<Bytes> frames;
  std::uint16_t index = 1;
  for (std::size_t offset = 0; offset < data.size(); offset += kFramePayload, ++index) {
    const std::size_t size = std::min(kFramePayload, data.size() - offset);
    Bytes frame{static_cast<std::uint8_t>(index & 0xFF), static_cast<std::uint8_t>(index >> 8)};
    frame.insert(frame.end(), data.begin() + static_cast<std::ptrdiff_t>(offset),
                 data.begin() + static_cast<std::ptrdiff_t>(offset + size));
    frames.push_back(std::move(frame));
  }
  return frames;
}

Result<FrameReassembler::Status> FrameReassembler::start(std::uint16_t frames) {
  expected_ = 0;
  received_ = 0;
  total_ = 0;
  frames_.clear();
  if (frames == 0) return parse_error("a transfer of zero frames", 4);
  if (frames > max_total_) {
    return parse_error("a transfer of " + std::to_string(frames) + " frames exceeds " + std::to_string(max_total_) +
                           " bytes",
                       4);
  }
  expected_ = frames;
  frames_.assign(frames, std::nullopt);
  return Status::more;
}

Result<FrameReassembler::Status> FrameReassembler::add(ByteView frame) {
  if (expected_ == 0) return parse_error("a frame without an announced transfer", 0);
  if (frame.size() < 3) return parse_error("a frame of " + std::to_string(frame.size()) + " bytes", frame.size());
  const std::uint16_t index = static_cast<std::uint16_t>(frame[0] | (frame[1] << 8));
  if (index == 0 || index > expected_) {
    return parse_error("frame index " + std::to_string(index) + " outside 1.." + std::to_string(expected_), 0);
  }
  auto& slot = frames_[index - 1u];
  if (slot) return parse_error("frame " + std::to_string(index) + " received twice", 0);
  const std::size_t size = frame.size() - 2;
  if (total_ + size > max_total_) {
    return parse_error("transfer exceeds " + std::to_string(max_total_) + " bytes", 2);
  }
  slot = Bytes(frame.begin() + 2, frame.end());
  total_ += size;
  ++received_;
  return complete() ? Status::complete : Status::more;
}

Bytes FrameReassembler::assemble() const {
  Bytes out;
  if (!complete()) return out;
  out.reserve(total_);
  for (const auto& frame : frames_) out.insert(out.end(), frame->begin(), frame->end());
  return out;
}

// ---- UPNP -------------------------------------------------------------------------------------------

UpnpResult classify_upnp(ByteView value) {
  UpnpResult result;
  result.code = hex_of(value);
  if (value.size() != 4 || value[1] != 0 || value[2] != 0 || value[3] != 0) return result;
  switch (value[0]) {
    case 0x11: result.status = UpnpStatus::register_ok; break;
    case 0x12: result.status = UpnpStatus::register_failed; break;
    case 0x21: result.status = UpnpStatus::login_ok; break;
    case 0x23: result.status = UpnpStatus::login_failed; break;
    case 0xe0:
    case 0xe1:
    case 0xe2:
    case 0xe3: result.status = UpnpStatus::error; break;
    default: break;
  }
  return result;
}

std::string_view upnp_status_name(UpnpStatus status) {
  switch (status) {
    case UpnpStatus::register_ok: return "register_ok";
    case UpnpStatus::register_failed: return "register_failed";
    case UpnpStatus::login_ok: return "login_ok";
    case UpnpStatus::login_failed: return "login_failed";
    case UpnpStatus::error: return "error";
    case UpnpStatus::unknown: return "unknown";
  }
  return "unknown";
}

}  // namespace cloudless::xiaomi_ble::standard_auth
