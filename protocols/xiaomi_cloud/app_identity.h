// How the client presents itself to Xiaomi: as the Mi Home Android app (the servers answer other
// agents differently), with a random device id per run so nothing ties two runs together.
#pragma once

#include <string>
#include <vector>

#include "protocols/https/https_client.h"

namespace cloudless::xiaomi_cloud {

struct AppIdentity {
  std::string user_agent;  // "Android-7.1.1-1.0.0-ONEPLUS A3010-136-<13 letters A–E> APP/xiaomi.smarthome APPV/62830"
  std::string device_id;   // 6 random letters a–z, sent as the deviceId cookie
};

AppIdentity make_app_identity();

// Uniform random bytes from the system (std::random_device: getrandom on Linux).
void fill_random(unsigned char* out, std::size_t size);

}  // namespace cloudless::xiaomi_cloud
