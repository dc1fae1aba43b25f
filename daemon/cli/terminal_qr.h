// A QR code as terminal text, for `cloudless keys xiaomi` (the Mi Home app scans its login code).
#pragma once

#include <string>
#include <string_view>

namespace cloudless::cli {

// `text` as a QR code (libqrencode, error correction M) drawn with half blocks (▀ ▄ █ and space), two
// module rows per line, with a 4-module quiet zone. Light modules are drawn as blocks and dark ones as
// spaces, as `qrencode -t UTF8` does: on the usual dark terminal that shows dark-on-light, which is
// what phone scanners expect. Empty when the text cannot be encoded (too long).
std::string render_terminal_qr(std::string_view text);

}  // namespace cloudless::cli
