// Cost per encrypted advert of the MiBeacon codec: decode_advert (parse the frame, check the MAC,
// build the nonce, AES-128-CCM decrypt + MIC check through OpenSSL EVP, split and decode the
// objects) on real captures, with the same frames and keys as bench/ble_codec_python.py. Prints JSON.
// Times are CPU time of this process (CLOCK_PROCESS_CPUTIME_ID), not wall time, as on the Python side.
//
//   bench_ble_codec [ITERATIONS]      (default 200000 per vector)
#include <cstdio>
#include <ctime>
#include <string>

#include "protocols/common/bytes.h"
#include "protocols/xiaomi_ble/codec/mibeacon.h"

using namespace cloudless;
using namespace cloudless::xiaomi_ble;

namespace {

struct Vector {
  const char* name;
  const char* mac;
  const char* frame;
  const char* key;
  Quantity quantity;  // what it must decode to (checked once before timing)
  double value;
};

// docs/ble.md §3.2 (real captures) and §3.4 S1 (the synthetic v4 frame: no real v4 capture exists).
constexpr Vector kVectors[] = {
    {"v5_lywsd03mmc_V16", "A4:C1:38:02:83:F4", "58585b0550f4830238c1a495ef58763c26000097e2abb5",
     "e9ea895fac7cca6d30532432a516f3a8", Quantity::humidity, 46.7},
    {"v5_cgdk2_V18", "58:2D:34:12:20:89", "58586f0607892012342d585f176dd54f0200002fa453fa",
     "a3bfe9853dd85a620debe3620caaa351", Quantity::temperature, 22.6},
    {"v4_lywsd03mmc_S1", "A4:C1:38:02:83:F4", "58485b0542f4830238c1a42340c411d27f87010000eea7e206",
     "e9ea895fac7cca6d30532432a516f3a8", Quantity::temperature, 21.5},
};

}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::stoi(argv[1]) : 200000;
  const auto cpu_now = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
  };
  std::string json = "{\"iterations\": " + std::to_string(iterations) + ", \"decode_ns\": {";
  std::size_t sink = 0;
  bool first = true;
  for (const Vector& vector : kVectors) {
    const Bytes frame = *from_hex(vector.frame);
    const Bytes key = *from_hex(vector.key);
    const MacAddress mac = *parse_mac(vector.mac);
    const auto check = decode_advert(frame, mac, key);
    if (!check || !check->decrypted || !check->objects.value(vector.quantity) ||
        *check->objects.value(vector.quantity) != vector.value) {
      std::fprintf(stderr, "%s: does not decode to the expected value\n", vector.name);
      return 1;
    }
    const double start = cpu_now();
    for (int i = 0; i < iterations; ++i) {
      const auto decoded = decode_advert(frame, mac, key);
      sink += decoded->objects.readings.size();
    }
    const double ns = (cpu_now() - start) / iterations;
    char entry[128];
    std::snprintf(entry, sizeof entry, "%s\"%s\": %.1f", first ? "" : ", ", vector.name, ns);
    json += entry;
    first = false;
  }
  json += "}, \"sink\": " + std::to_string(sink) + "}";
  std::printf("%s\n", json.c_str());
  return 0;
}
