// What `cloudless keys xiaomi|backup` print (daemon/cli/keys_output.h): the table, the devices: block
// (which must load as config, entries and comments as promised), and the 0600 file.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "daemon/cli/keys_output.h"

using cloudless::cli::devices_table;
using cloudless::cli::devices_yaml;
using cloudless::cli::FoundDevice;
using cloudless::cli::write_secret_file;

namespace {

FoundDevice plug(std::string name, std::string token = "00112233445566778899aabbccddeeff",
                 std::string ip = "192.168.1.50") {
  FoundDevice device;
  device.name = std::move(name);
  device.model = "chuangmi.plug.v3";
  device.ip = std::move(ip);
  device.mac = "78:11:DC:00:00:01";
  device.token = std::move(token);
  return device;
}

FoundDevice ble_sensor() {
  FoundDevice device;
  device.name = "Bedroom sensor";
  device.model = "miaomiaoce.sensor_ht.t2";
  device.mac = "A4:C1:38:00:00:03";
  device.did = "blt.3.1a2b3c4d5e6f";
  device.bindkey = "ffeeddccbbaa99887766554433221100";
  return device;
}

FoundDevice kettle() {
  FoundDevice device;
  device.name = "Kettle";
  device.model = "yunmi.kettle.v2";
  device.mac = "F8:24:41:00:00:04";
  device.did = "blt.4.kettle000001";
  device.token = "112233445566778899aabbcc";
  return device;
}

FoundDevice vacuum() {
  FoundDevice device;
  device.name = "Vacuum";
  device.model = "roborock.vacuum.s5";
  device.ip = "192.168.1.60";
  device.token = "fedcba9876543210fedcba9876543210";
  return device;
}

// The block pasted under a minimal config, as the user does; every error of the loader, one per line.
std::string config_errors(const std::string& devices_block) {
  const std::string text = "mqtt:\n  server: mqtt://127.0.0.1:1883\nstate_dir: /tmp\n" + devices_block;
  std::string errors;
  for (const std::string& error : cloudless::config::load_text(text, "pasted.yaml").errors) errors += error + "\n";
  return errors;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("devices table") {
  SECTION("nothing found") { CHECK(devices_table({}) == "(none)\n"); }
  SECTION("columns aligned, '-' for what is unknown, no region or home column unless a row has one") {
    const auto lines = lines_of(devices_table({plug("Desk plug"), ble_sensor()}));
    REQUIRE(lines.size() == 3);
    CHECK(lines[0].starts_with("NAME            MODEL                    IP            MAC"));
    CHECK(lines[0].find("REGION") == std::string::npos);
    CHECK(lines[0].find("HOME") == std::string::npos);
    // Every column starts at the same place on every line.
    const auto model_at = lines[0].find("MODEL");
    CHECK(lines[1].find("chuangmi.plug.v3") == model_at);
    CHECK(lines[2].find("miaomiaoce.sensor_ht.t2") == model_at);
    const auto token_at = lines[0].find("TOKEN");
    CHECK(lines[1].find("00112233445566778899aabbccddeeff") == token_at);
    CHECK(lines[2].substr(token_at, 2) == "- ");  // the sensor has no token
    CHECK(lines[2].find("ffeeddccbbaa99887766554433221100") == lines[0].find("BIND KEY"));
  }
  SECTION("region and home when known; a name with non-ASCII letters keeps the columns aligned") {
    FoundDevice device = plug("Büro");
    device.region = "de";
    device.home = "Home";
    const auto lines = lines_of(devices_table({device, plug("Desk plug")}));
    REQUIRE(lines.size() == 3);
    CHECK(lines[0].find("REGION") != std::string::npos);
    CHECK(lines[0].find("HOME") != std::string::npos);
    CHECK(lines[1].find("chuangmi.plug.v3") == lines[0].find("MODEL") + 1);  // "ü" is two bytes, one column
    CHECK(lines[2].find("chuangmi.plug.v3") == lines[0].find("MODEL"));
  }
}

TEST_CASE("devices: block for config.yaml") {
  const std::string yaml =
      devices_yaml({plug("Desk plug"), plug("Desk plug", "0123456789abcdef0123456789abcdef", "192.168.1.51"),
                    ble_sensor(), kettle(), vacuum(), plug("bridge", "00112233445566778899aabbccddeeff", "10.0.0.9")});
  CAPTURE(yaml);
  SECTION("it loads as config") { CHECK(config_errors(yaml) == ""); }
  SECTION("a supported plug: host, token, model") {
    CHECK_THAT(yaml, Catch::Contains("  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
                                     "    token: 00112233445566778899aabbccddeeff\n    model: chuangmi.plug.v3\n"));
  }
  SECTION("ids are unique and never the bridge's") {
    CHECK_THAT(yaml, Catch::Contains("  desk_plug_2:\n"));
    CHECK_THAT(yaml, Catch::Contains("  bridge_device:\n"));
    CHECK_THAT(yaml, !Catch::Contains("  bridge:\n"));
  }
  SECTION("a BLE sensor with its bind key") {
    CHECK_THAT(yaml, Catch::Contains("  bedroom_sensor:\n    protocol: xiaomi_ble\n    mac: A4:C1:38:00:00:03\n"
                                     "    bindkey: ffeeddccbbaa99887766554433221100\n"));
  }
  SECTION("the kettle with its product id and Mi auth token") {
    CHECK_THAT(yaml, Catch::Contains("  kettle:\n    protocol: xiaomi_ble\n    mac: F8:24:41:00:00:04\n"
                                     "    product_id: 131"));
    CHECK_THAT(yaml, Catch::Contains("    token: 112233445566778899aabbcc\n"));
  }
  SECTION("an unsupported device is a comment with all that was found") {
    CHECK_THAT(yaml, Catch::Contains("#   \"Vacuum\" (roborock.vacuum.s5, 192.168.1.60, token "
                                     "fedcba9876543210fedcba9876543210): not supported by cloudless\n"));
  }
}

TEST_CASE("devices: block, the cases that get no entry or a partial one") {
  FoundDevice sensor_without_key = ble_sensor();
  sensor_without_key.bindkey.clear();
  FoundDevice plug_without_ip = plug("Offline plug");
  plug_without_ip.ip = "0.0.0.0";
  FoundDevice odd_address = plug("Odd plug", "0123456789abcdef0123456789abcdef", "10.0.0.1 # x: y");
  FoundDevice unknown_plug = plug("Garage plug");
  unknown_plug.model = "cuco.plug.v2eur";
  FoundDevice chinese = plug("\xE5\xAE\xA2\xE5\x8E\x85");  // 客厅 (living room): no Latin letter
  FoundDevice eu_kettle = kettle();
  eu_kettle.product_id = 275;
  eu_kettle.token.clear();
  const std::string yaml =
      devices_yaml({sensor_without_key, plug_without_ip, odd_address, unknown_plug, chinese, eu_kettle});
  CAPTURE(yaml);
  CHECK(config_errors(yaml) == "");
  CHECK_THAT(yaml, Catch::Contains("    mac: A4:C1:38:00:00:03\n    # bindkey: not known here"));
  CHECK_THAT(yaml, Catch::Contains("\"Offline plug\" (chuangmi.plug.v3, 78:11:DC:00:00:01, token "
                                   "00112233445566778899aabbccddeeff): no LAN address known"));
  CHECK_THAT(yaml, Catch::Contains("\"Odd plug\" (chuangmi.plug.v3, 78:11:DC:00:00:01, token "
                                   "0123456789abcdef0123456789abcdef): no LAN address known"));
  CHECK_THAT(yaml, Catch::Contains("cuco.plug.v2eur, 192.168.1.50, 78:11:DC:00:00:01, token "
                                   "00112233445566778899aabbccddeeff): plug model without a built-in table"));
  CHECK_THAT(yaml, Catch::Contains("  chuangmi_plug_v3:\n"));
  CHECK_THAT(yaml, Catch::Contains("    product_id: 275\n"));
  CHECK_THAT(yaml, !Catch::Contains("    token: \n"));
}

TEST_CASE("devices: block, a second device on one address or MAC is listed, not entered") {
  FoundDevice old_sensor = ble_sensor();
  old_sensor.name = "Old sensor";
  old_sensor.mac = "a4:c1:38:00:00:03";  // the same MAC in another case
  const std::string yaml = devices_yaml(
      {plug("Desk plug"), plug("Old plug", "0123456789abcdef0123456789abcdef"), ble_sensor(), old_sensor});
  CAPTURE(yaml);
  CHECK(config_errors(yaml) == "");
  CHECK_THAT(yaml, Catch::Contains("\"Old plug\" (chuangmi.plug.v3, 192.168.1.50, 78:11:DC:00:00:01, token "
                                   "0123456789abcdef0123456789abcdef): same address as desk_plug (an old record?)"));
  CHECK_THAT(yaml, Catch::Contains("): same MAC as bedroom_sensor (an old record?)"));
  CHECK_THAT(yaml, !Catch::Contains("  old_plug:"));
}

TEST_CASE("devices: block, keys and tokens given in upper case are printed in lower case") {
  FoundDevice sensor = ble_sensor();
  sensor.bindkey = "FFEEDDCCBBAA99887766554433221100";
  const std::string yaml = devices_yaml({plug("Desk plug", "00112233445566778899AABBCCDDEEFF"), sensor});
  CHECK_THAT(yaml, Catch::Contains("    token: 00112233445566778899aabbccddeeff\n"));
  CHECK_THAT(yaml, Catch::Contains("    bindkey: ffeeddccbbaa99887766554433221100\n"));
  CHECK(config_errors(yaml) == "");
}

TEST_CASE("devices: block with nothing supported still loads") {
  const std::string yaml = devices_yaml({vacuum()});
  CHECK(yaml.starts_with("devices: {}\n# Found, but no entry above"));
  CHECK(config_errors(yaml) == "");
  CHECK(devices_yaml({}) == "devices: {}\n");
}

TEST_CASE("secret file: mode 0600, replaced whole, never through a link") {
  const auto dir = std::filesystem::temp_directory_path() / ("keys_output_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "keys.yaml").string();
  const auto content = [&] {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };

  REQUIRE(write_secret_file(path, "first\n").empty());
  struct stat status {};
  REQUIRE(stat(path.c_str(), &status) == 0);
  CHECK((status.st_mode & 0777) == 0600);
  CHECK(content() == "first\n");

  chmod(path.c_str(), 0644);  // an existing file is replaced, and the new one is 0600 again
  REQUIRE(write_secret_file(path, "second\n").empty());
  REQUIRE(stat(path.c_str(), &status) == 0);
  CHECK((status.st_mode & 0777) == 0600);
  CHECK(content() == "second\n");

  const std::string link = (dir / "link.yaml").string();
  std::filesystem::create_symlink(path, link);
  CHECK_THAT(write_secret_file(link, "third\n"), Catch::Contains("not a regular file"));
  CHECK(content() == "second\n");

  CHECK_THAT(write_secret_file((dir / "missing" / "keys.yaml").string(), "x"), Catch::Contains("cannot create"));
  // No temporary file is left behind.
  CHECK(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()) == 2);
  std::filesystem::remove_all(dir);
}
