// Mi "standard auth" primitives (Mi service 2.x: LYWSD03MMC, scooters, ...; docs/ble.md §4.4,
// §10): the P-256/HKDF/AES-CCM/HMAC steps of register and login, the AVDTP framing on char 0x0019
// and the UPNP commands and results on char 0x0010. Pure codec, OpenSSL libcrypto only; nothing
// here throws: errors are Result / nullopt.
//
// AVDTP (0x0019), all little-endian:
//   header   00 00 00 <type> <frames LE16>      6 bytes, announces a transfer of `frames` frames
//   control  00 00 01 01                        RCV_RDY: send your frames
//            00 00 01 00                        RCV_OK: all frames received
//            00 00 01 05 01 00                  RCV_TIMEOUT
//            00 00 01 05 03 00                  RCV_ERR
//   frame    <index LE16, from 1> <≤ 18 bytes>  one slice of the transfer
// A transfer: the sender writes the header, the receiver answers RCV_RDY, the sender writes the
// frames, the receiver answers RCV_OK.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/bytes.h"
#include "protocols/common/result.h"

namespace cloudless::xiaomi_ble::standard_auth {

using PrivateKey = std::array<std::uint8_t, 32>;  // P-256 scalar, big-endian
using PublicKey = std::array<std::uint8_t, 64>;   // X ‖ Y, big-endian, no 0x04 prefix
using SharedSecret = std::array<std::uint8_t, 32>;
using Token = std::array<std::uint8_t, 12>;       // = StandardToken of mi_auth_session.h
using Key16 = std::array<std::uint8_t, 16>;
using Iv = std::array<std::uint8_t, 4>;
using Random = std::array<std::uint8_t, 16>;      // Ra / Rd
using Hmac = std::array<std::uint8_t, 32>;

inline constexpr std::string_view kSetupInfo = "mible-setup-info";
inline constexpr std::string_view kLoginInfo = "mible-login-info";
inline constexpr std::string_view kDidAad = "devID";
inline constexpr std::size_t kDidSize = 20;             // remote_info[4:]
inline constexpr std::size_t kRemoteInfoSize = 24;      // 4-byte prefix + DID
inline constexpr std::size_t kDidCiphertextSize = 24;   // DID + 4-byte tag
inline constexpr std::size_t kSessionTagSize = 4;

// ---- crypto -----------------------------------------------------------------------------------------

struct KeyPair {
  PrivateKey private_key{};
  PublicKey public_key{};
};
// A fresh random P-256 key pair (EVP_PKEY_Q_keygen).
std::optional<KeyPair> generate_key_pair();
// The key pair of a given scalar (1 ≤ d < n; the published vectors use a fixed one).
std::optional<KeyPair> key_pair_from_private(const PrivateKey& private_key);
// ECDH with the device's X ‖ Y; nullopt for a point that is not on the curve, or an invalid scalar.
std::optional<SharedSecret> derive_shared_secret(const PrivateKey& private_key, const PublicKey& device_public);

// HKDF-SHA256 (RFC 5869) through EVP_KDF "HKDF"; an empty salt means none (= HashLen zero bytes).
std::optional<Bytes> hkdf_sha256(ByteView ikm, ByteView salt, std::string_view info, std::size_t length);
// HMAC-SHA256 through EVP_MAC "HMAC".
std::optional<Hmac> hmac_sha256(ByteView key, ByteView data);

// Register: HKDF(shared, no salt, "mible-setup-info", 64) → token [0:12], bind key [12:28], A [28:44].
struct RegisterKeys {
  Token token{};
  Key16 bind_key{};  // the MiBeacon v4/v5 key
  Key16 a{};         // encrypts the DID
};
std::optional<RegisterKeys> derive_register_keys(const SharedSecret& shared);

// The device's remote info (type 0x00 transfer after GET_INFO): 4-byte prefix + 20-byte DID.
struct RemoteInfo {
  std::array<std::uint8_t, 4> prefix{};
  std::array<std::uint8_t, kDidSize> did{};  // as sent, e.g. 00 "blt.4.18n58266kgg00"
  std::string did_text;                      // its printable characters: "blt.4.18n58266kgg00"
};
Result<RemoteInfo> parse_remote_info(ByteView value);
// AES-128-CCM(key A, nonce 10 11 … 1b, AAD "devID", tag 4) over the 20-byte DID: 24 bytes.
std::optional<Bytes> encrypt_did(const Key16& a, ByteView did);

// Login: HKDF(token, salt Ra ‖ Rd, "mible-login-info", 64) → dev_key [0:16], app_key [16:32],
// dev_iv [32:36], app_iv [36:40].
struct LoginKeys {
  Key16 dev_key{}, app_key{};
  Iv dev_iv{}, app_iv{};
};
std::optional<LoginKeys> derive_login_keys(const Token& token, const Random& app_random, const Random& device_random);
// What the device proves it knows the token with: HMAC(dev_key, Rd ‖ Ra).
std::optional<Hmac> device_info(const LoginKeys& keys, const Random& app_random, const Random& device_random);
// What we prove it with: HMAC(app_key, Ra ‖ Rd).
std::optional<Hmac> app_info(const LoginKeys& keys, const Random& app_random, const Random& device_random);
// The device's info against the expected one, in constant time; false for a wrong size too.
bool check_device_info(const LoginKeys& keys, const Random& app_random, const Random& device_random,
                       ByteView received);

// Session messages after login: AES-128-CCM, tag 4, nonce = iv(4) ‖ 00 00 00 00 ‖ counter LE32.
// app→device with app_key/app_iv, device→app with dev_key/dev_iv. Encrypt returns ciphertext ‖ tag;
// decrypt fails (authentication error) on a wrong tag.
std::array<std::uint8_t, 12> session_nonce(const Iv& iv, std::uint32_t counter);
std::optional<Bytes> encrypt_session_message(const Key16& key, const Iv& iv, std::uint32_t counter,
                                             ByteView plaintext);
Result<Bytes> decrypt_session_message(const Key16& key, const Iv& iv, std::uint32_t counter, ByteView sealed);

// ---- AVDTP framing (char 0x0019) --------------------------------------------------------------------

inline constexpr std::uint8_t kTypeRemoteInfo = 0x00;   // device → us, after GET_INFO (§10: 0x00)
inline constexpr std::uint8_t kTypeDid = 0x00;          // us → device: DID ciphertext, 2 frames
inline constexpr std::uint8_t kTypePublicKey = 0x03;    // both ways: X ‖ Y, 4 frames
inline constexpr std::uint8_t kTypeAppInfo = 0x0a;      // us → device: HMAC, 2 frames
inline constexpr std::uint8_t kTypeAppRandom = 0x0b;    // us → device: Ra, 1 frame
inline constexpr std::uint8_t kTypeDeviceInfo = 0x0c;   // device → us: HMAC, 2 frames
inline constexpr std::uint8_t kTypeDeviceRandom = 0x0d; // device → us: Rd, 1 frame

inline constexpr std::size_t kFramePayload = 18;        // 20-byte ATT payload (MTU 23) minus the index
inline constexpr std::size_t kMaxTransferSize = 512;    // far above the largest transfer (64 bytes)

struct Header {
  std::uint8_t type = 0;
  std::uint16_t frames = 0;
};
Bytes encode_header(std::uint8_t type, std::uint16_t frames);
Result<Header> parse_header(ByteView value);

enum class Control { ready, ok, timeout, error };  // RCV_RDY, RCV_OK, RCV_TIMEOUT, RCV_ERR
Bytes encode_control(Control control);
std::optional<Control> parse_control(ByteView value);
std::string_view control_name(Control control);  // "RCV_RDY" | "RCV_OK" | "RCV_TIMEOUT" | "RCV_ERR"

// One AVDTP notification, told apart by its first bytes: 00 00 00 = header, 00 00 01 = control,
// anything else (index ≠ 0) = data frame.
struct AvdtpMessage {
  enum class Kind { header, control, frame } kind = Kind::frame;
  Header header;           // kind == header
  Control control{};       // kind == control
  std::uint16_t index = 0; // kind == frame
  Bytes payload;           // kind == frame, 1..
};
Result<AvdtpMessage> parse_avdtp(ByteView value);

// The frames of one transfer: LE16 index from 1, then up to 18 bytes each. Empty data → no frames.
std::vector<Bytes> split_frames(ByteView data);
// How many frames split_frames makes (what the header announces).
std::uint16_t frame_count(std::size_t size);

// Collects the frames of one announced transfer in any order; rejects index 0, an index above the
// announced count, a repeated index, an empty frame, and a total above the limit.
class FrameReassembler {
 public:
  enum class Status { more, complete };

  explicit FrameReassembler(std::size_t max_total = kMaxTransferSize) : max_total_(max_total) {}

  // Starts a transfer of `frames` frames (from its header), dropping any earlier one. Errors: zero
  // frames, or more than could fit under the limit (each frame carries at least one byte).
  Result<Status> start(std::uint16_t frames);
  // Adds one raw frame (index + data). Errors leave the transfer as it was.
  Result<Status> add(ByteView frame);
  bool complete() const { return expected_ > 0 && received_ == expected_; }
  // The data in index order; empty until complete.
  Bytes assemble() const;

 private:
  std::size_t max_total_;
  std::uint16_t expected_ = 0;
  std::uint16_t received_ = 0;
  std::size_t total_ = 0;
  std::vector<std::optional<Bytes>> frames_;
};

// ---- UPNP (char 0x0010) -----------------------------------------------------------------------------

inline constexpr std::array<std::uint8_t, 4> kCmdGetInfo = {0xa2, 0x00, 0x00, 0x00};
inline constexpr std::array<std::uint8_t, 4> kCmdSetKey = {0x15, 0x00, 0x00, 0x00};
inline constexpr std::array<std::uint8_t, 4> kCmdAuth = {0x13, 0x00, 0x00, 0x00};
inline constexpr std::array<std::uint8_t, 4> kCmdLogin = {0x24, 0x00, 0x00, 0x00};

enum class UpnpStatus {
  register_ok,      // 11 00 00 00
  register_failed,  // 12 00 00 00
  login_ok,         // 21 00 00 00
  login_failed,     // 23 00 00 00
  error,            // e0..e3 00 00 00
  unknown,          // anything else (any size)
};
struct UpnpResult {
  UpnpStatus status = UpnpStatus::unknown;
  std::string code;  // the value in hex, e.g. "e1000000" (for messages)
};
UpnpResult classify_upnp(ByteView value);
std::string_view upnp_status_name(UpnpStatus status);

}  // namespace cloudless::xiaomi_ble::standard_auth
