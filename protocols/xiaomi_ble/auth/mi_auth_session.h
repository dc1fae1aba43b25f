// The Mi auth handshakes driven over a GattLink (docs/ble.md §4.2, §4.4, §10;
// §S2): each is a small async object owning its timer, run on the io thread.
// The byte-level work lives in the codecs (mi_auth_legacy.h, mi_auth_standard.h); these classes only
// sequence writes, reads and notifications, wait with a timeout, and check every confirmation.
//
// Nothing is returned that was not verified: a register result exists only after the device's
// confirmation checked out (legacy: mixB check; standard: 0x11000000 after our DID proof), a login
// only after the device proved it knows the token. No logging (protocols/ layer): errors come back as
// AuthError with a sentence for the user.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "protocols/common/bytes.h"
#include "protocols/xiaomi_ble/auth/gatt_link.h"
#include "protocols/xiaomi_ble/codec/mibeacon.h"  // MacAddress

namespace cloudless::xiaomi_ble {

// Which auth a device speaks, from its characteristics (docs/ble.md §10): the AVDTP data channel 0x0019
// means standard auth (Mi service 2.x); the token characteristic 0x0001 without it means legacy.
enum class AuthKind { legacy, standard, none };
AuthKind detect_auth_kind(const GattLink& link);
std::string_view auth_kind_name(AuthKind kind);  // "legacy" | "standard" | "none"

enum class AuthFailure {
  link,          // a GATT operation failed (see `gatt`): out of range, disconnected mid-handshake, ...
  timeout,       // the device never sent the notification we waited for
  mismatch,      // the device's confirmation does not match: wrong token, or not our device
  device_error,  // the device answered with an error code (standard auth e0..e3, register/login fail)
  malformed,     // a notification of the wrong size or shape, or out of sequence
  unsupported,   // the device lacks the characteristics of this handshake
  crypto,        // OpenSSL refused (RC4 provider missing, ECDH failure)
};
std::string_view auth_failure_name(AuthFailure failure);

struct AuthError {
  AuthFailure kind = AuthFailure::malformed;
  std::string text;               // "the device's confirmation does not match: wrong token?"
  std::optional<GattError> gatt;  // set for `link`
};

using LegacyToken = std::array<std::uint8_t, 12>;
using StandardToken = std::array<std::uint8_t, 12>;
using BindKey = std::array<std::uint8_t, 16>;

struct AuthTimeouts {
  std::chrono::milliseconds notification{std::chrono::seconds(10)};  // each awaited notification
};

// ---- legacy Mi auth (RC4, mixA/mixB) ---------------------------------------------------------------

struct LegacyRegisterParams {
  MacAddress mac{};
  std::uint16_t product_id = 0;
  LegacyToken token{};           // new (generate_legacy_token) or the stored one
  bool read_beacon_key = false;  // also read char 0x0014 (the v2/v3 MiBeacon key; pairing mode)
};
struct LegacyRegisterResult {
  LegacyToken token{};
  std::string version;  // char 0x0004 decrypted with the token, printable part, e.g. "1.0.0_0050"
  std::optional<std::array<std::uint8_t, 12>> beacon_key;  // when asked and the read succeeded
};

// The login constants of docs/ble.md §S2 are 32-bit values; the Mi SDK sends them little-endian (docs/ble.md §10),
// the write-up prints them big-endian. The login key is the token with the 4-byte tick XORed into its
// first 4 bytes (Mi Home's library: 12 bytes) or only those 4 bytes (docs/ble.md §S2). Both are unverified on
// hardware, so both are selectable; `ble login` tries each.
struct LegacyLoginVariant {
  bool little_endian_constants = true;
  bool twelve_byte_key = true;
};
struct LegacyLoginParams {
  LegacyToken token{};
  LegacyLoginVariant variant{};
};
struct LegacyLoginResult {
  Bytes session_key;  // 12 or 4 bytes, per variant
};

// ---- standard auth (ECDH P-256, HKDF-SHA256, AES-CCM, AVDTP frames) --------------------------------

struct StandardRegisterParams {
  // Our P-256 private scalar, big-endian 32 bytes; nullopt = a fresh random key (always, except tests
  // replaying the published vectors).
  std::optional<std::array<std::uint8_t, 32>> private_key;
};
struct StandardRegisterResult {
  StandardToken token{};
  BindKey bind_key{};  // the MiBeacon v4/v5 key
  std::string did;     // the device id from its remote info, e.g. "blt.4.18n58266kgg00"
};
struct StandardLoginParams {
  StandardToken token{};
  std::optional<std::array<std::uint8_t, 16>> app_random;  // Ra; nullopt = random (tests fix it)
};
struct StandardLoginResult {
  std::array<std::uint8_t, 16> dev_key{}, app_key{};
  std::array<std::uint8_t, 4> dev_iv{}, app_iv{};
};

// ---- one running handshake --------------------------------------------------------------------------

// Runs one handshake on `link`; the handler gets the result or the error exactly once, on the io
// thread. The session keeps itself alive while running (dropping the returned pointer does not stop
// it); cancel() ends it without calling the handler.
class AuthSession {
 public:
  virtual ~AuthSession() = default;
  virtual void cancel() = 0;
};

using LegacyRegisterHandler = std::function<void(const std::optional<AuthError>&, const LegacyRegisterResult&)>;
using LegacyLoginHandler = std::function<void(const std::optional<AuthError>&, const LegacyLoginResult&)>;
using StandardRegisterHandler = std::function<void(const std::optional<AuthError>&, const StandardRegisterResult&)>;
using StandardLoginHandler = std::function<void(const std::optional<AuthError>&, const StandardLoginResult&)>;

// Legacy register (docs/ble.md §4.2 steps 1–7): 90CA85DE on 0x0010, notify 0x0001, mixA(token) write, the
// device's reply checked with mixB, RC4(token, 92AB54FA), version read, optional beacon-key read.
// The Mi kettle needs exactly this on every connection (with the token kept from the first time).
std::shared_ptr<AuthSession> start_legacy_register(boost::asio::io_context& io, std::shared_ptr<GattLink> link,
                                                   LegacyRegisterParams params, AuthTimeouts timeouts,
                                                   LegacyRegisterHandler done);
// Legacy login (docs/ble.md §S2).
std::shared_ptr<AuthSession> start_legacy_login(boost::asio::io_context& io, std::shared_ptr<GattLink> link,
                                                LegacyLoginParams params, AuthTimeouts timeouts,
                                                LegacyLoginHandler done);
// Standard-auth registration (docs/ble.md §4.4 "Register").
std::shared_ptr<AuthSession> start_standard_register(boost::asio::io_context& io, std::shared_ptr<GattLink> link,
                                                     StandardRegisterParams params, AuthTimeouts timeouts,
                                                     StandardRegisterHandler done);
// Standard-auth login (docs/ble.md §4.4 "Login").
std::shared_ptr<AuthSession> start_standard_login(boost::asio::io_context& io, std::shared_ptr<GattLink> link,
                                                  StandardLoginParams params, AuthTimeouts timeouts,
                                                  StandardLoginHandler done);

}  // namespace cloudless::xiaomi_ble
