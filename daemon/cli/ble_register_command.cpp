// `cloudless ble register MAC` and `cloudless ble login MAC` (docs/contract.md "The binary", issue #6):
// bind keys and tokens straight from the device, no cloud, no phone.
//
//   GattClient::connect(mac) ─▶ which auth? (0x0019 present: standard, else 0x0001: legacy)
//     register, standard: ECDH P-256 → token + MiBeacon bind key (+ DID proof) → device says 0x11
//     register, legacy:   RC4 mixA/mixB with a new token → device's mixB proof → version → beacon key
//     ─▶ only then: <state_dir>/ble_<mac>.json (0600), printed; the daemon's sensor picks it up
//     login: the stored (or configured) token, the device must prove it knows it
//
// Registering makes us the device's owner: a standard-auth device forgets its Mi Home binding (new
// token, new bind key), which is why it is a command the user types and never something the daemon
// does on its own (docs/ble.md §10).
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "daemon/cli/ble_settings.h"
#include "daemon/cli/commands.h"
#include "daemon/devices/ble_key_store.h"
#include "protocols/common/bytes.h"
#include "protocols/xiaomi_ble/bluez/bluez_gatt_client.h"
#include "protocols/xiaomi_ble/auth/mi_auth_legacy.h"
#include "protocols/xiaomi_ble/auth/mi_auth_session.h"
#include "protocols/xiaomi_ble/codec/mibeacon.h"

namespace cloudless::cli {

namespace ble = cloudless::xiaomi_ble;
namespace asio = boost::asio;

namespace {

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

template <std::size_t N>
Bytes bytes_of(const std::array<std::uint8_t, N>& array) {
  return Bytes(array.begin(), array.end());
}

// What both commands share: the settings, the MAC, one io_context, a GATT client and an overall
// deadline. `run` drives the io_context until a command calls finish() or the deadline passes.
class GattCommand {
 public:
  GattCommand(const BleGattOptions& options, const char* verb) : options_(options), verb_(verb), deadline_(io_) {}

  // 0 to go on, else the exit code.
  int prepare() {
    const auto mac = ble::parse_mac(options_.mac);
    if (!mac) {
      std::fprintf(stderr, "cloudless: '%s' is not a Bluetooth address (expected AA:BB:CC:DD:EE:FF)\n",
                   options_.mac.c_str());
      return kExitUsage;
    }
    mac_ = *mac;
    mac_text_ = ble::format_mac(*mac);
    int exit_code = kExitOk;
    auto settings = load_ble_settings(options_.config_path, options_.config_given, exit_code);
    if (!settings) return exit_code;
    settings_ = std::move(*settings);
    adapter_ = !options_.adapter.empty() ? options_.adapter : !settings_.adapter.empty() ? settings_.adapter : "hci0";
    state_dir_ = !options_.state_dir.empty()   ? options_.state_dir
                 : !settings_.state_dir.empty() ? settings_.state_dir
                                                : "/var/lib/cloudless";
    if (const auto it = settings_.by_mac.find(mac_text_); it != settings_.by_mac.end()) configured_ = it->second;
    return kExitOk;
  }

  // Connects, then hands the link to `with_link`; returns the exit code given to finish().
  int run(std::function<void(std::shared_ptr<ble::GattConnection>)> with_link) {
    ble::GattClientOptions client_options;
    client_options.discovery_timeout = std::chrono::milliseconds(static_cast<long long>(options_.timeout_s * 1000));
    client_ = ble::GattClient::create(io_, adapter_, client_options);
    std::printf("connecting to %s on %s…\n", mac_text_.c_str(), adapter_.c_str());
    std::fflush(stdout);
    request_ = client_->connect(mac_text_, [this, with_link](const std::optional<ble::GattError>& error,
                                                               std::shared_ptr<ble::GattConnection> connection) {
      if (error) {
        fail("could not connect to " + mac_text_ + ": " + error->describe() + advice(*error));
        return;
      }
      connection_ = connection;
      connection_->on_disconnected([this](const ble::GattError& why) {
        // The session reports the failed operation itself; this covers a drop while idle.
        if (!done_) fail(std::string("the device disconnected: ") + why.describe());
      });
      with_link(connection);
    });
    deadline_.expires_after(std::chrono::milliseconds(static_cast<long long>(options_.timeout_s * 1000) + 30000));
    deadline_.async_wait([this](const boost::system::error_code& error) {
      if (!error) fail(std::string(verb_) + " timed out: the device gave no answer");
    });
    io_.run();
    return exit_code_;
  }

  void finish(int code) {
    if (done_) return;
    done_ = true;
    exit_code_ = code;
    deadline_.cancel();
    if (session_) session_->cancel();
    if (connection_) connection_->disconnect();
    request_.cancel();
    if (client_) client_->stop();
    // Let the Disconnect call go out before the io_context runs dry.
    io_.stop();
  }

  void fail(const std::string& text) {
    if (done_) return;
    std::fprintf(stderr, "cloudless: %s %s failed: %s\n", verb_, mac_text_.c_str(), text.c_str());
    finish(kExitFailure);
  }

  static std::string advice(const ble::GattError& error) {
    switch (error.kind) {
      case ble::GattErrorKind::device_unknown:
      case ble::GattErrorKind::disconnected:
      case ble::GattErrorKind::timeout:
        return " (is it in range and powered? Some devices accept connections only in pairing mode)";
      case ble::GattErrorKind::bluez_gone:
        return " (is bluetoothd running, and may this user use the system bus?)";
      case ble::GattErrorKind::adapter:
        return " (check `bluetoothctl show`, or choose another adapter with --adapter)";
      default:
        return "";
    }
  }

  asio::io_context io_;
  const BleGattOptions& options_;
  const char* verb_;
  ble::MacAddress mac_{};
  std::string mac_text_;
  BleSettings settings_;
  std::optional<ConfiguredBle> configured_;
  std::string adapter_;
  std::string state_dir_;
  std::shared_ptr<ble::GattClient> client_;
  ble::GattConnectRequest request_;
  std::shared_ptr<ble::GattConnection> connection_;
  std::shared_ptr<ble::AuthSession> session_;
  asio::steady_timer deadline_;
  bool done_ = false;
  int exit_code_ = kExitFailure;
};

// One line for the user: what kind of failure first (what to do differs), then the session's details.
std::string auth_failure_text(const ble::AuthError& error) {
  switch (error.kind) {
    case ble::AuthFailure::mismatch:
      return "the device's confirmation does not match: " + error.text +
             " (a wrong token, or the device is bound to someone else)";
    case ble::AuthFailure::timeout:
      return "no answer from the device: " + error.text +
             " (out of range, busy, or it accepts this only in pairing mode)";
    case ble::AuthFailure::device_error:
      return "the device refused: " + error.text;
    case ble::AuthFailure::malformed:
      return "unexpected data from the device: " + error.text;
    case ble::AuthFailure::unsupported:
      return "the device does not support this: " + error.text;
    case ble::AuthFailure::crypto:
      return error.text;
    case ble::AuthFailure::link:
      break;
  }
  std::string text = "the connection failed mid-handshake: " + error.text;
  if (error.gatt) text += " (" + error.gatt->describe() + ")";
  return text;
}

}  // namespace

int ble_register(const BleGattOptions& options) {
  GattCommand command(options, "register");
  if (const int code = command.prepare(); code != kExitOk) return code;
  std::optional<int> product_id = options.product_id;
  if (!product_id && command.configured_) product_id = command.configured_->product_id;

  const auto save = [&command](StoredBleKeys keys) -> bool {
    const std::string error = save_ble_keys(command.state_dir_, keys);
    if (!error.empty()) {
      command.fail("the device accepted us, but the keys could not be stored: " + error +
                   " (run as the daemon's user, or pass --state-dir)");
      return false;
    }
    return true;
  };

  return command.run([&](std::shared_ptr<ble::GattConnection> link) {
    const ble::AuthKind kind = ble::detect_auth_kind(*link);
    if (kind == ble::AuthKind::none) {
      command.fail("the device offers no Mi service characteristics (0x0001 or 0x0019): not a Xiaomi device "
                   "that registers over GATT");
      return;
    }
    if (kind == ble::AuthKind::standard) {
      std::printf("standard auth (Mi service 2.x): registering as the new owner…\n");
      std::fflush(stdout);
      command.session_ = ble::start_standard_register(
          command.io_, link, {}, {},
          [&command, save, product_id](const std::optional<ble::AuthError>& error,
                                       const ble::StandardRegisterResult& result) {
            if (error) {
              command.fail(auth_failure_text(*error));
              return;
            }
            StoredBleKeys keys;
            keys.mac = command.mac_text_;
            keys.auth = "standard";
            keys.token = bytes_of(result.token);
            keys.bindkey = bytes_of(result.bind_key);
            keys.did = result.did;
            keys.product_id = product_id;  // informative only here (the key exchange needs none)
            keys.registered = utc_now();
            if (!save(keys)) return;
            std::printf("registered %s (standard auth, device id %s); Mi Home no longer controls it\n",
                        command.mac_text_.c_str(), result.did.c_str());
            std::printf("token:   %s\n", to_hex(result.token).c_str());
            std::printf("bindkey: %s\n", to_hex(result.bind_key).c_str());
            std::printf("stored in %s: the daemon decrypts this device's adverts with it from the next one\n",
                        ble_key_file(command.state_dir_, command.mac_text_).c_str());
            command.finish(kExitOk);
          });
      return;
    }
    if (!product_id) {
      command.fail("this device speaks the legacy Mi auth, which needs its product id: pass --product-id N "
                   "(131 for a YM-K1501 kettle, 275 for a YM-K1501EU; `cloudless ble scan` shows it)");
      return;
    }
    if (*product_id < 0 || *product_id > 0xFFFF) {
      command.fail("--product-id must be 0..65535");
      return;
    }
    ble::LegacyRegisterParams params;
    params.mac = command.mac_;
    params.product_id = static_cast<std::uint16_t>(*product_id);
    params.token = ble::legacy_auth::generate_token();
    params.read_beacon_key = true;
    std::printf("legacy Mi auth (product id %d): registering a new token…\n", *product_id);
    std::fflush(stdout);
    command.session_ = ble::start_legacy_register(
        command.io_, link, params, {},
        [&command, save, product_id](const std::optional<ble::AuthError>& error, const ble::LegacyRegisterResult& result) {
          if (error) {
            command.fail(auth_failure_text(*error));
            return;
          }
          StoredBleKeys keys;
          keys.mac = command.mac_text_;
          keys.auth = "legacy";
          keys.token = bytes_of(result.token);
          if (result.beacon_key) keys.bindkey = bytes_of(*result.beacon_key);
          keys.product_id = *product_id;
          keys.registered = utc_now();
          if (!save(keys)) return;
          std::printf("registered %s (legacy Mi auth, product id %d, firmware %s)\n", command.mac_text_.c_str(),
                      *product_id, result.version.empty() ? "unknown" : result.version.c_str());
          std::printf("token:   %s\n", to_hex(result.token).c_str());
          if (result.beacon_key)
            std::printf("bindkey: %s (legacy MiBeacon v2/v3 key)\n", to_hex(*result.beacon_key).c_str());
          else
            std::printf("no beacon key: the device did not hand it out (most do only in pairing mode)\n");
          std::printf("stored in %s\n", ble_key_file(command.state_dir_, command.mac_text_).c_str());
          command.finish(kExitOk);
        });
  });
}

int ble_login(const BleGattOptions& options) {
  GattCommand command(options, "login");
  if (const int code = command.prepare(); code != kExitOk) return code;

  // The token: the configured one wins (the user said so), else the one `ble register` stored.
  std::optional<Bytes> token;
  std::string token_source;
  if (command.configured_ && !command.configured_->token_hex.empty()) {
    token = from_hex(command.configured_->token_hex);
    token_source = "the configuration (" + command.configured_->id + ")";
  }
  if (!token) {
    const LoadedBleKeys loaded = load_ble_keys(command.state_dir_, command.mac_text_);
    if (!loaded.error.empty()) {
      std::fprintf(stderr, "cloudless: %s\n", loaded.error.c_str());
      return kExitFailure;
    }
    if (loaded.keys && loaded.keys->token) {
      token = loaded.keys->token;
      token_source = ble_key_file(command.state_dir_, command.mac_text_);
    }
  }
  if (!token || token->size() != 12) {
    std::fprintf(stderr,
                 "cloudless: no token stored for %s in %s: run `cloudless ble register %s` first (or configure "
                 "`token:`)\n",
                 command.mac_text_.c_str(), command.state_dir_.c_str(), command.mac_text_.c_str());
    return kExitFailure;
  }
  std::array<std::uint8_t, 12> token_array{};
  std::copy(token->begin(), token->end(), token_array.begin());

  return command.run([&](std::shared_ptr<ble::GattConnection> link) {
    const ble::AuthKind kind = ble::detect_auth_kind(*link);
    if (kind == ble::AuthKind::standard) {
      ble::StandardLoginParams params;
      params.token = token_array;
      command.session_ = ble::start_standard_login(
          command.io_, link, params, {},
          [&command, &token_source](const std::optional<ble::AuthError>& error, const ble::StandardLoginResult&) {
            if (error) {
              command.fail(auth_failure_text(*error));
              return;
            }
            std::printf("login ok: %s accepted the token from %s (standard auth)\n", command.mac_text_.c_str(),
                        token_source.c_str());
            command.finish(kExitOk);
          });
      return;
    }
    if (kind == ble::AuthKind::none) {
      command.fail("the device offers no Mi service characteristics (0x0001 or 0x0019)");
      return;
    }
    // Legacy: the login of docs/ble.md §S2. Its constants' byte order and key length are unverified on hardware
    // (docs/ble.md §10): the SDK's reading by default, the write-up's with --seed-byte-order / --short-key.
    ble::LegacyLoginParams params;
    params.token = token_array;
    params.variant.little_endian_constants = !options.legacy_big_endian;
    params.variant.twelve_byte_key = !options.legacy_short_key;
    command.session_ = ble::start_legacy_login(
        command.io_, link, params, {},
        [&command, &token_source](const std::optional<ble::AuthError>& error, const ble::LegacyLoginResult&) {
          if (error) {
            command.fail(auth_failure_text(*error));
            return;
          }
          std::printf("login ok: %s accepted the token from %s (legacy Mi auth)\n", command.mac_text_.c_str(),
                      token_source.c_str());
          command.finish(kExitOk);
        });
  });
}

}  // namespace cloudless::cli
