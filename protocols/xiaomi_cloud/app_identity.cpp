#include "protocols/xiaomi_cloud/app_identity.h"

#include <random>

namespace cloudless::xiaomi_cloud {

void fill_random(unsigned char* out, std::size_t size) {
  std::random_device device;
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<unsigned char>(device() & 0xff);
}

namespace {

std::string random_letters(std::size_t count, char first, char last) {
  std::string text(count, first);
  std::vector<unsigned char> bytes(count);
  fill_random(bytes.data(), bytes.size());
  const int span = last - first + 1;
  for (std::size_t i = 0; i < count; ++i) text[i] = static_cast<char>(first + bytes[i] % span);
  return text;
}

}  // namespace

AppIdentity make_app_identity() {
  return AppIdentity{"Android-7.1.1-1.0.0-ONEPLUS A3010-136-" + random_letters(13, 'A', 'E') +
                         " APP/xiaomi.smarthome APPV/62830",
                     random_letters(6, 'a', 'z')};
}

}  // namespace cloudless::xiaomi_cloud
