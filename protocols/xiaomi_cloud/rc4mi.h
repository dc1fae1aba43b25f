// The request crypto of Mi Home's app API ("rc4mi", docs/xiaomi_cloud.md §3): every call is signed
// with SHA-1 over the method, the path, its parameters and a per-request key, and its parameters and
// its reply are RC4-encrypted with that key. Pure: the caller brings the random bytes and the clock.
//
//   nonce        = base64( 8 random bytes ‖ big-endian u32 (unix ms / 60000) )
//   signed_nonce = base64( SHA-256( base64dec(ssecurity) ‖ base64dec(nonce) ) )   also the RC4 key
//   rc4_hash__   = base64( SHA-1( "POST&<path>&data=<json>&<signed_nonce>" ) )
//   data, rc4_hash__ sent as ENC(value) = base64( RC4-drop-1024(key, value) )
//   signature    = base64( SHA-1( "POST&<path>&data=<ENC data>&rc4_hash__=<ENC hash>&<signed_nonce>" ) )
//   reply body   = base64( RC4-drop-1024(key, json) ), key of the nonce *sent*
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocols/common/result.h"

namespace cloudless::xiaomi_cloud {

using Param = std::pair<std::string, std::string>;

// What one encrypted POST sends, in the order the app sends it: data, rc4_hash__, signature,
// ssecurity, _nonce (as the query string; the body stays empty).
struct EncryptedCall {
  std::string signed_nonce;   // the RC4 key of this call and of its reply, base64; never sent
  std::vector<Param> params;
};

std::string make_nonce(const std::array<std::uint8_t, 8>& random, std::int64_t unix_ms);

// base64(SHA-256(ssecurity ‖ nonce)). Errors: an input is empty or not base64.
Result<std::string> make_signed_nonce(std::string_view ssecurity, std::string_view nonce);

// base64(SHA-1("<method>&<path>&<name>=<value>&…&<signed_nonce>")): rc4_hash__ over the clear
// parameters, signature over the encrypted ones.
std::string request_hash(std::string_view method, std::string_view path, const std::vector<Param>& params,
                         std::string_view signed_nonce);

// ENC(value) and DEC(body). Errors: the key or the body is not base64, or RC4 is unavailable.
Result<std::string> encrypt_value(std::string_view signed_nonce, std::string_view plaintext);
Result<std::string> decrypt_reply(std::string_view signed_nonce, std::string_view body);

// The whole request side for `path` (the part after /app, e.g. "/v2/homeroom/gethome") and the call's
// JSON `data`.
Result<EncryptedCall> encrypt_call(std::string_view path, std::string_view data_json, std::string_view ssecurity,
                                   std::string_view nonce);

}  // namespace cloudless::xiaomi_cloud
