// miio_codec_tool: our miIO packet codec on the command line, for the python3-miio cross-check
// (tests/integration/test_miio_crosscheck.py).
//
//   miio_codec_tool encode TOKEN DID_HEX STAMP_HEX   < plaintext bytes   → packet hex + "\n"
//   miio_codec_tool decode TOKEN                     < packet hex        → one JSON line:
//       {"device_id":N,"stamp":N,"payload":"<text>","payload_hex":"<hex>"}
//
// stdin is taken verbatim for encode (a trailing newline would be encrypted too); for decode,
// whitespace around and inside the hex is ignored. Errors go to stderr, exit status 1 (2 for usage).
// "payload" is the decoded text with invalid UTF-8 replaced by U+FFFD; "payload_hex" is exact.
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "protocols/miio/packet.h"

namespace {

using cloudless::miio::Token;

int usage() {
  std::cerr << "usage: miio_codec_tool encode TOKEN DID_HEX STAMP_HEX  (plaintext on stdin)\n"
               "       miio_codec_tool decode TOKEN                    (packet hex on stdin)\n";
  return 2;
}

std::string read_stdin() {
  std::cin >> std::noskipws;
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

// 1..8 hex digits, optionally prefixed with 0x.
std::optional<std::uint32_t> parse_u32_hex(std::string_view text) {
  if (text.starts_with("0x") || text.starts_with("0X")) text.remove_prefix(2);
  if (text.empty() || text.size() > 8) return std::nullopt;
  std::uint32_t value = 0;
  for (const char c : text) {
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    if (digit < 0) return std::nullopt;
    value = value << 4 | static_cast<std::uint32_t>(digit);
  }
  return value;
}

int encode(const Token& token, std::string_view did_hex, std::string_view stamp_hex) {
  const std::optional<std::uint32_t> did = parse_u32_hex(did_hex);
  const std::optional<std::uint32_t> stamp = parse_u32_hex(stamp_hex);
  if (!did || !stamp) {
    std::cerr << "DID_HEX and STAMP_HEX must be 1..8 hex digits\n";
    return 2;
  }
  const std::string plaintext = read_stdin();
  const cloudless::Bytes packet =
      cloudless::miio::encode_message(token, *did, *stamp, cloudless::as_bytes(plaintext));
  if (packet.empty()) {
    std::cerr << "plaintext too long (" << plaintext.size() << " bytes, at most " << cloudless::miio::kMaxPlaintext
              << ")\n";
    return 1;
  }
  std::cout << cloudless::to_hex(packet) << '\n';
  return 0;
}

int decode(const Token& token) {
  std::string hex;
  for (const char c : read_stdin()) {
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') hex.push_back(c);
  }
  const std::optional<cloudless::Bytes> packet = cloudless::from_hex(hex);
  if (!packet) {
    std::cerr << "stdin is not hex\n";
    return 1;
  }
  const auto message = cloudless::miio::decode_message(token, *packet);
  if (!message) {
    const bool wrong_token = message.error().kind == cloudless::ErrorKind::authentication;
    std::cerr << (wrong_token ? "authentication error: " : "malformed packet: ") << message.error().describe() << '\n';
    return 1;
  }
  const nlohmann::json line = {
      {"device_id", message->header.device_id},
      {"stamp", message->header.stamp},
      {"payload", message->payload},
      {"payload_hex", cloudless::to_hex(cloudless::as_bytes(message->payload))},
  };
  std::cout << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string_view command = argv[1];
  const std::optional<Token> token = cloudless::miio::parse_token(argv[2]);
  if (!token) {
    std::cerr << "TOKEN must be exactly 32 hex digits\n";
    return 2;
  }
  if (command == "encode" && argc == 5) return encode(*token, argv[3], argv[4]);
  if (command == "decode" && argc == 3) return decode(*token);
  return usage();
}
