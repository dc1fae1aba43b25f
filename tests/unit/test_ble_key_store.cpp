// Tokens and bind keys from `ble register` in state_dir: round trip, permissions, bad files.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "daemon/devices/ble_key_store.h"

using namespace cloudless;
namespace fs = std::filesystem;

namespace {
fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("cloudless_test_keys_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}
}  // namespace

TEST_CASE("the key file name does not depend on how the MAC is written") {
  CHECK(ble_key_file("/var/lib/cloudless", "A4:C1:38:02:83:F4") == "/var/lib/cloudless/ble_a4c1380283f4.json");
  CHECK(ble_key_file("/s", "a4:c1:38:02:83:f4") == "/s/ble_a4c1380283f4.json");
}

TEST_CASE("stored keys round-trip, in a file only its owner can read") {
  const fs::path dir = fresh_dir("roundtrip");
  CHECK_FALSE(load_ble_keys(dir.string(), "A4:C1:38:02:83:F4").keys);
  CHECK(load_ble_keys(dir.string(), "A4:C1:38:02:83:F4").error.empty());  // absent is not an error

  StoredBleKeys keys;
  keys.mac = "A4:C1:38:02:83:F4";
  keys.auth = "standard";
  keys.token = from_hex("0cf5615003810d89c233a12a");
  keys.bindkey = from_hex("8fc5100e31299d80c4c290dc7d33f19e");
  keys.did = "blt.4.18n58266kgg00";
  keys.registered = "2026-11-22T09:00:00Z";
  REQUIRE(save_ble_keys(dir.string(), keys).empty());

  const LoadedBleKeys loaded = load_ble_keys(dir.string(), "a4:c1:38:02:83:f4");
  REQUIRE(loaded.keys);
  CHECK(loaded.keys->auth == "standard");
  CHECK(to_hex(*loaded.keys->token) == "0cf5615003810d89c233a12a");
  CHECK(to_hex(*loaded.keys->bindkey) == "8fc5100e31299d80c4c290dc7d33f19e");
  CHECK(loaded.keys->did == "blt.4.18n58266kgg00");
  CHECK_FALSE(loaded.keys->product_id);

  struct stat info {};
  REQUIRE(::stat(ble_key_file(dir.string(), keys.mac).c_str(), &info) == 0);
  CHECK((info.st_mode & 0077) == 0);
  fs::remove_all(dir);
}

TEST_CASE("a damaged key file is an error that names the file, never a crash or a wrong key") {
  const fs::path dir = fresh_dir("damaged");
  fs::create_directories(dir);
  const std::string path = ble_key_file(dir.string(), "AA:BB:CC:DD:EE:FF");
  for (const char* text : {"{\"token\": \"0011\"}", "not json", "[1,2]", "{\"bindkey\": 5}", "{\"token\": \"zz\"}"}) {
    std::ofstream(path) << text;
    const LoadedBleKeys loaded = load_ble_keys(dir.string(), "AA:BB:CC:DD:EE:FF");
    INFO(text);
    CHECK_FALSE(loaded.keys);
    CHECK(loaded.error.find(path) != std::string::npos);
  }
  // Wrongly typed optional fields are ignored, the keys still load.
  std::ofstream(path) << R"({"mac": 7, "auth": "legacy", "token": "015ccba8800abdc12eb8ed82", "product_id": "x"})";
  const LoadedBleKeys loaded = load_ble_keys(dir.string(), "AA:BB:CC:DD:EE:FF");
  REQUIRE(loaded.keys);
  CHECK(loaded.keys->mac == "AA:BB:CC:DD:EE:FF");
  CHECK_FALSE(loaded.keys->product_id);
  fs::remove_all(dir);
}
