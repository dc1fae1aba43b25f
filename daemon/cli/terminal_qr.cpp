#include "daemon/cli/terminal_qr.h"

#include <memory>

#include <qrencode.h>

namespace cloudless::cli {

namespace {

constexpr int kQuietZone = 4;  // modules of light margin on each side (ISO/IEC 18004)

struct QrCodeDeleter {
  void operator()(QRcode* code) const { QRcode_free(code); }
};

}  // namespace

std::string render_terminal_qr(std::string_view text) {
  const std::string input(text);
  const std::unique_ptr<QRcode, QrCodeDeleter> code(QRcode_encodeString(input.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1));
  if (!code) return {};
  const int width = code->width;
  // Bit 0 of each module byte: dark. Everything outside the symbol is quiet zone (light).
  const auto dark = [&](int x, int y) {
    if (x < 0 || y < 0 || x >= width || y >= width) return false;
    return (code->data[y * width + x] & 1) != 0;
  };
  std::string out;
  for (int y = -kQuietZone; y < width + kQuietZone; y += 2) {
    for (int x = -kQuietZone; x < width + kQuietZone; ++x) {
      const bool top_light = !dark(x, y);
      const bool bottom_light = !dark(x, y + 1) && y + 1 < width + kQuietZone;
      if (top_light && bottom_light) out += "\u2588";  // █
      else if (top_light) out += "\u2580";             // ▀
      else if (bottom_light) out += "\u2584";          // ▄
      else out += ' ';
    }
    out += '\n';
  }
  return out;
}

}  // namespace cloudless::cli
