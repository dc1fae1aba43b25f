// Offline decryption of a captured Mi Home bind request: the bind key of an encrypted BLE sensor,
// without the vendor app's help and without Python (ble_monitor issue #198, docs/ble.md §S1).
//
// What the user captured with an HTTPS proxy (Charles, mitmproxy, Stream):
//  * ssecurity — in the login response of account.xiaomi.com (base64, 16 bytes);
//  * _nonce and data — form fields of `POST https://<region>.api.io.mi.com/app/device/bltbind`
//    sent while adding the sensor (base64; proxies often show them URL-encoded: %2B %2F %3D).
// The three must come from the same login session: a nonce signed with another session's
// ssecurity decrypts to garbage (the "weird characters" comments of docs/ble.md §S1).
//
// Procedure (docs/ble.md §5.1, "rc4mi"):
//   rc4_key   = SHA-256(base64dec(ssecurity) ‖ base64dec(nonce))          (32 bytes)
//   plaintext = RC4(rc4_key, base64dec(data)) after dropping 1024 keystream bytes
// The plaintext is JSON, e.g. {"did":"blt.3.129q4nasgeg00","token":"…","props":[{"type":"prop",
// "key":"bind_key","value":"cfc7…3cb0"},{"type":"prop","key":"smac","value":"A4:C1:38:8C:34:B7"}]}.
// A decrypted API *response* ({"code":0,"result":{"beaconkey":"…"}}) is understood too.
//
// Pure codec: no I/O, no logging. RC4 comes from OpenSSL's legacy provider (crypto::rc4).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/bytes.h"
#include "protocols/common/crypto.h"
#include "protocols/common/result.h"
#include "protocols/xiaomi_ble/codec/mibeacon.h"

namespace cloudless::xiaomi_ble {

// RC4 keystream bytes the Mi Home API throws away before use.
inline constexpr std::size_t kMiCloudRc4Drop = 1024;

struct CapturedKey {
  std::string key_hex;      // lower-case hex: 32 digits (bind key, v4/v5) or 24 (beacon key, v2/v3)
  Encryption scheme = Encryption::ccm;  // ccm for 32 digits, legacy for 24
  std::string did;          // "blt.3.129q4nasgeg00", or empty when the JSON does not say
  std::string mac;          // "A4:C1:38:8C:34:B7" (upper case when it parses as a MAC), or empty
  std::string model;        // e.g. "miaomiaoce.sensor_ht.t2", or empty
  std::optional<std::uint32_t> product_id;
  std::string found_at;     // where in the JSON: "props[bind_key]", "result.beaconkey", ...
};

struct BindKeyCapture {
  std::string plaintext;           // the decrypted JSON text, for printing when no key is found
  std::vector<CapturedKey> keys;   // empty: valid JSON without a recognisable key
};

// Form-field text as a proxy shows it → the base64 text: surrounding whitespace and double quotes
// removed, %XX sequences decoded (any byte; '+' stays '+', it is a base64 digit here). nullopt for
// a broken % sequence.
std::optional<std::string> url_decode(std::string_view text);

// Base64 (RFC 4648) with the standard or the URL-safe alphabet, padding optional, ASCII whitespace
// ignored. nullopt for any other character, misplaced padding or an impossible length.
std::optional<Bytes> base64_decode(std::string_view text);
std::string base64_encode(ByteView bytes);  // standard alphabet, padded

// The RC4 key of one request: SHA-256(ssecurity ‖ nonce) (the base64 of this is Mi Home's
// "signed nonce").
crypto::Sha256Digest signed_nonce(ByteView ssecurity, ByteView nonce);

// The whole procedure. `data` may also be the complete form body ("data=…&rc4_hash__=…&_nonce=…"):
// its data field is used, and its _nonce when `nonce` is empty.
// Errors (offset 0 — they concern the inputs, not a byte stream):
//  * malformed: an input is empty, is not (URL-encoded) base64, or RC4 is unavailable (the message
//    then says the legacy provider is missing);
//  * authentication: the decrypted bytes are not JSON text — the usual cause being an ssecurity
//    from another login session than the nonce (the message says what to redo).
Result<BindKeyCapture> decode_bindkey_capture(std::string_view ssecurity, std::string_view nonce,
                                              std::string_view data);

// The inverse, for tests and simulators: base64(RC4-drop-1024(signed_nonce, plaintext)).
// Empty when an input is not base64 or RC4 is unavailable.
std::string encode_bindkey_capture(std::string_view ssecurity, std::string_view nonce, std::string_view plaintext);

// The key-finding half on its own (decrypted JSON text → keys). Malformed when `json_text` is not
// JSON. Walks every object (up to 32 levels deep) for members named beaconkey, beacon_key,
// bind_key or bindkey, and for "props" arrays of {"key": <one of those>, "value": …}; a value
// counts when it is 24 or 32 hex digits. did, mac/smac, model and pid come from the same object
// (or its props). The same key found twice for the same device is reported once.
Result<std::vector<CapturedKey>> extract_bind_keys(std::string_view json_text);

}  // namespace cloudless::xiaomi_ble
