// config/: YAML → structs, and every error message exactly as users will read it
// ("file:line: key.path: what is wrong"). The table of bad configurations is the contract for those
// messages; a changed wording should be a deliberate edit here.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/values.h"

using namespace cloudless::config;
using namespace std::chrono_literals;

namespace {

constexpr const char* kToken = "00112233445566778899aabbccddeeff";
// 128 and 64 hex digits for a Midea V3 appliance (made up: never a live token or key).
const std::string kMideaToken =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
const std::string kMideaKey = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

LoadResult load(const std::string& yaml) { return load_text(yaml, "config.yaml"); }

std::vector<std::string> errors_of(const std::string& yaml) {
  const LoadResult result = load(yaml);
  CHECK(result.config.has_value() == result.errors.empty());
  return result.errors;
}

// A configuration with one valid miio device, to which a test appends lines (device keys at
// four spaces). Lines: 1 devices, 2 desk_plug, 3 protocol, 4 host, 5 token, 6 the first appended.
std::string miio_device(const std::string& extra = "") {
  return std::string("devices:\n") +
         "  desk_plug:\n"
         "    protocol: miio\n"
         "    host: 192.168.1.50\n"
         "    token: " + kToken + "\n" + extra;
}

// A temporary directory removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "cloudless-config-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  std::string write(const std::string& name, const std::string& content) const {
    const std::string file = (path_ / name).string();
    std::ofstream(file, std::ios::binary) << content;
    return file;
  }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Sets (or unsets, with nullptr) an environment variable for one test and restores it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

template <typename T>
const T& settings_of(const Config& config, const std::string& id) {
  for (const DeviceConfig& device : config.devices) {
    if (device.id == id) return std::get<T>(device.settings);
  }
  FAIL("no device " << id);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("the docs/contract.md example loads into the structs it describes", "[config]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const TempDir dir;
  const std::string password_file = dir.write("mqtt.password", "s3cret\n");
  // docs/contract.md's example, with the placeholders replaced by (made-up) hex of the right lengths.
  const std::string yaml =
      "mqtt:\n"
      "  server: mqtt://127.0.0.1:1883      # mqtt:// or mqtts://\n"
      "  user: bridge                       # optional\n"
      "  password_file: " + password_file + "\n"
      "  client_id: cloudless_myhost        # default cloudless_<hostname>\n"
      "  base_topic: cloudless\n"
      "  discovery_prefix: homeassistant    # empty string: no Home Assistant discovery\n"
      "  output: json                       # json | attribute | both (per-attribute topics)\n"
      "state_dir: /var/lib/cloudless        # learned state; the user's config file is never rewritten\n"
      "log_level: info\n"
      "devices:                             # key = device id: [a-z0-9_-]+, used in topics\n"
      "  desk_plug:\n"
      "    protocol: miio\n"
      "    host: 192.168.1.50\n"
      "    port: 54321                      # optional everywhere a port exists\n"
      "    token: 00112233445566778899aabbccddeeff     # or token_file\n"
      "    model: chuangmi.plug.v3          # optional: asked with miIO.info when absent\n"
      "    poll_interval: 10s\n"
      "  living_ac:\n"
      "    protocol: midea\n"
      "    host: 192.168.1.60\n"
      "    id: 151732605161920              # appliance id, as `cloudless discover` prints it\n"
      "    token: " + kMideaToken + "\n"
      "    key: " + kMideaKey + "\n"
      "  bedroom_sensor:\n"
      "    protocol: xiaomi_ble\n"
      "    mac: A4:C1:38:11:22:33\n"
      "    bindkey: 5A5B5C5D5E5F60616263646566676869 # encrypted MiBeacon only; or bindkey_file\n"
      "  kitchen_kettle:\n"
      "    protocol: xiaomi_ble\n"
      "    mac: AA:BB:CC:DD:EE:FF\n"
      "    product_id: 131                  # needed by the legacy Mi auth\n"
      "ble:\n"
      "  adapter: hci0                      # absent section or no BLE device: no D-Bus use at all\n";

  const LoadResult result = load(yaml);
  INFO((result.errors.empty() ? std::string() : result.errors.front()));
  REQUIRE(result.errors.empty());
  REQUIRE(result.config);
  const Config& config = *result.config;

  CHECK(config.source == "config.yaml");
  CHECK(config.mqtt.server == "mqtt://127.0.0.1:1883");
  CHECK(config.mqtt.user == "bridge");
  CHECK(config.mqtt.password == "s3cret");
  CHECK(config.mqtt.client_id == "cloudless_myhost");
  CHECK(config.mqtt.base_topic == "cloudless");
  CHECK(config.mqtt.discovery_prefix == "homeassistant");
  CHECK(config.mqtt.output == OutputMode::json);
  CHECK(config.mqtt.keepalive == 30s);
  CHECK(config.mqtt.state_qos == 0);
  CHECK(config.state_dir == "/var/lib/cloudless");
  CHECK(config.log_level == "info");

  REQUIRE(config.devices.size() == 4);
  CHECK(config.devices[0].id == "desk_plug");
  CHECK(config.devices[0].protocol == "miio");
  CHECK(config.devices[0].line == 12);
  CHECK(config.devices[1].id == "living_ac");
  CHECK(config.devices[2].id == "bedroom_sensor");
  CHECK(config.devices[3].id == "kitchen_kettle");
  CHECK(config.devices[3].line == 29);

  const auto& plug = settings_of<MiioDeviceConfig>(config, "desk_plug");
  CHECK(plug.host == "192.168.1.50");
  CHECK(plug.port == 54321);
  CHECK(plug.token_hex == kToken);
  CHECK(plug.model == "chuangmi.plug.v3");
  CHECK(plug.poll_interval == 10s);
  CHECK_FALSE(plug.timeout);  // unset: derived from poll_interval by the plug
  CHECK_FALSE(plug.retries);
  CHECK_FALSE(plug.miot);

  const auto& ac = settings_of<MideaDeviceConfig>(config, "living_ac");
  CHECK(ac.host == "192.168.1.60");
  CHECK(ac.port == 6444);
  CHECK(ac.appliance_id == 151732605161920ULL);
  CHECK(ac.token_hex == kMideaToken);
  CHECK(ac.key_hex == kMideaKey);
  CHECK(ac.poll_interval == 30s);

  const auto& sensor = settings_of<BleDeviceConfig>(config, "bedroom_sensor");
  CHECK(sensor.mac == "A4:C1:38:11:22:33");
  CHECK(sensor.bindkey_hex == "5a5b5c5d5e5f60616263646566676869");
  CHECK_FALSE(sensor.product_id);
  CHECK(sensor.token_hex.empty());

  const auto& kettle = settings_of<BleDeviceConfig>(config, "kitchen_kettle");
  CHECK(kettle.mac == "AA:BB:CC:DD:EE:FF");
  CHECK(kettle.bindkey_hex.empty());
  CHECK(kettle.product_id == 131);

  REQUIRE(config.ble);
  CHECK(config.ble->adapter == "hci0");
  CHECK(config.ble->scan_watchdog == 300s);
}

TEST_CASE("config/example.yaml documents a configuration that loads cleanly", "[config]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const LoadResult result = load_file(CLOUDLESS_SOURCE_DIR "/config/example.yaml");
  for (const std::string& error : result.errors) UNSCOPED_INFO(error);
  REQUIRE(result.errors.empty());
  const Config& config = *result.config;
  REQUIRE(config.devices.size() == 3);

  CHECK(settings_of<MiioDeviceConfig>(config, "desk_plug").model == "chuangmi.plug.v3");
  const auto& hallway = settings_of<MiioDeviceConfig>(config, "hallway_plug");
  CHECK(hallway.model == "chuangmi.plug.212a01");
  CHECK(hallway.host == "hallway-plug.lan");
  CHECK(hallway.token_hex == "0123456789abcdef0123456789abcdef");  // stored in lower case

  const auto& garage = settings_of<MiioDeviceConfig>(config, "garage_plug");
  REQUIRE(garage.miot);
  REQUIRE(garage.miot->switch_);
  CHECK(garage.miot->switch_->siid == 2);
  CHECK(garage.miot->switch_->piid == 1);
  CHECK(garage.miot->switch_->scale == 1.0);
  REQUIRE(garage.miot->energy);
  CHECK(garage.miot->energy->siid == 11);
  CHECK(garage.miot->energy->scale == Approx(0.001));
  CHECK_FALSE(garage.miot->voltage);
  REQUIRE(config.ble);
}

TEST_CASE("every key of the schema appears in config/example.yaml", "[config]") {
  std::ifstream file(CLOUDLESS_SOURCE_DIR "/config/example.yaml");
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const char* keys[] = {
      "mqtt:", "server:", "user:", "password_file:", "password:", "client_id:", "base_topic:",
      "discovery_prefix:", "output:", "ca_file:", "cert_file:", "key_file:", "insecure:",
      "keepalive:", "state_qos:", "state_dir:", "log_level:", "devices:", "protocol:", "host:", "port:",
      "token:", "token_file:", "model:", "poll_interval:", "timeout:", "retries:", "miot:",
      "switch:", "power:", "energy:", "siid:", "piid:", "scale:", "id:", "key:", "mac:",
      "bindkey:", "bindkey_file:", "product_id:", "ble:", "adapter:", "scan_watchdog:",
      "voltage", "current", "temperature"};
  for (const char* key : keys) {
    CAPTURE(key);
    CHECK(text.find(key) != std::string::npos);
  }
}

TEST_CASE("defaults fill what the file leaves out", "[config]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const LoadResult result = load(miio_device());
  REQUIRE(result.config);
  const Config& config = *result.config;
  CHECK(config.mqtt.server == "mqtt://127.0.0.1:1883");
  CHECK(config.mqtt.client_id == default_client_id());
  CHECK(config.mqtt.password.empty());
  CHECK(config.mqtt.base_topic == "cloudless");
  CHECK(config.mqtt.discovery_prefix == "homeassistant");
  CHECK(config.state_dir == "/var/lib/cloudless");
  CHECK(config.log_level == "info");
  CHECK_FALSE(config.ble);  // no BLE device, no section: no D-Bus
  const auto& plug = settings_of<MiioDeviceConfig>(config, "desk_plug");
  CHECK(plug.port == 54321);
  CHECK(plug.model.empty());
  CHECK(plug.poll_interval == 10s);
  CHECK_FALSE(plug.timeout);  // unset: derived from poll_interval by the plug
  CHECK_FALSE(plug.retries);
}

TEST_CASE("a file without devices is valid and bridges nothing", "[config]") {
  const char* empty_ones[] = {
      "",
      "# only a comment\n\n   # and another\n",
      "---\n",
      "devices:\n",
      "devices: {}\n",
      "devices:\n  # desk_plug:\n  #   protocol: miio\n",
      "mqtt:\nble:\n",
  };
  for (const char* yaml : empty_ones) {
    CAPTURE(yaml);
    const LoadResult result = load(yaml);
    CHECK(result.errors.empty());
    REQUIRE(result.config);
    CHECK(result.config->devices.empty());
  }
}

TEST_CASE("a BLE device without a ble section gets the default adapter", "[config]") {
  const LoadResult result = load("devices:\n  s:\n    protocol: xiaomi_ble\n    mac: a4:c1:38:aa:bb:cc\n");
  REQUIRE(result.config);
  REQUIRE(result.config->ble);
  CHECK(result.config->ble->adapter == "hci0");
  CHECK(result.config->ble->scan_watchdog == 300s);
  CHECK(settings_of<BleDeviceConfig>(*result.config, "s").mac == "A4:C1:38:AA:BB:CC");
}

TEST_CASE("every setting is read into its field", "[config]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const TempDir dir;
  const std::string ca = dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  const std::string cert = dir.write("client.crt", "cert");
  const std::string key = dir.write("client.key", "key");
  const std::string yaml =
      "mqtt:\n"
      "  server: mqtts://[fd00::2]:8883\n"
      "  user: bridge\n"
      "  password: hunter2\n"
      "  base_topic: home/cloudless\n"
      "  discovery_prefix: ''\n"
      "  output: both\n"
      "  ca_file: " + ca + "\n"
      "  cert_file: " + cert + "\n"
      "  key_file: " + key + "\n"
      "  insecure: yes\n"
      "  keepalive: 1m\n"
      "  state_qos: 1\n"
      "state_dir: /tmp/state\n"
      "log_level: debug\n"
      "devices:\n"
      "  plug:\n"
      "    protocol: miio\n"
      "    host: Plug-1.lan\n"
      "    port: 1234\n"
      "    token: 00112233445566778899AABBCCDDEEFF\n"
      "    poll_interval: 0.5m\n"
      "    timeout: 250ms\n"
      "    retries: 0\n"
      "    miot:\n"
      "      switch: {siid: 2, piid: 1}\n"
      "      power: {siid: 5, piid: 6, scale: 0.01}\n"
      "      energy: {siid: 5, piid: 1, scale: 1e-3}\n"
      "      voltage: {siid: 5, piid: 3}\n"
      "      current: {siid: 5, piid: 2, scale: -0.001}\n"
      "      temperature: {siid: 2, piid: 6}\n"
      "  kettle:\n"
      "    protocol: xiaomi_ble\n"
      "    mac: aa:bb:cc:dd:ee:ff\n"
      "    bindkey: 00112233445566778899AABB\n"
      "    product_id: 0\n"
      "    token: 00112233445566778899AABB\n"
      "ble:\n"
      "  adapter: hci1\n"
      "  scan_watchdog: 2m\n";
  const LoadResult result = load(yaml);
  for (const std::string& error : result.errors) UNSCOPED_INFO(error);
  REQUIRE(result.config);
  const Config& config = *result.config;
  CHECK(config.mqtt.server == "mqtts://[fd00::2]:8883");
  CHECK(config.mqtt.password == "hunter2");
  CHECK(config.mqtt.base_topic == "home/cloudless");
  CHECK(config.mqtt.discovery_prefix.empty());
  CHECK(config.mqtt.output == OutputMode::both);
  CHECK(config.mqtt.ca_file == ca);
  CHECK(config.mqtt.cert_file == cert);
  CHECK(config.mqtt.key_file == key);
  CHECK(config.mqtt.insecure);
  CHECK(config.mqtt.keepalive == 60s);
  CHECK(config.mqtt.state_qos == 1);
  CHECK(config.state_dir == "/tmp/state");
  CHECK(config.log_level == "debug");

  const auto& plug = settings_of<MiioDeviceConfig>(config, "plug");
  CHECK(plug.host == "Plug-1.lan");
  CHECK(plug.port == 1234);
  CHECK(plug.token_hex == kToken);
  CHECK(plug.poll_interval == 30s);
  CHECK(plug.timeout == 250ms);
  CHECK(plug.retries == 0);
  REQUIRE(plug.miot);
  REQUIRE(plug.miot->power);
  CHECK(plug.miot->power->siid == 5);
  CHECK(plug.miot->power->piid == 6);
  CHECK(plug.miot->power->scale == Approx(0.01));
  CHECK(plug.miot->energy->scale == Approx(0.001));
  CHECK(plug.miot->voltage->scale == 1.0);
  CHECK(plug.miot->current->scale == Approx(-0.001));
  CHECK(plug.miot->temperature->piid == 6);
  CHECK(plug.miot->switch_->siid == 2);

  const auto& kettle = settings_of<BleDeviceConfig>(config, "kettle");
  CHECK(kettle.mac == "AA:BB:CC:DD:EE:FF");
  CHECK(kettle.bindkey_hex == "00112233445566778899aabb");
  CHECK(kettle.product_id == 0);
  CHECK(kettle.token_hex == "00112233445566778899aabb");
  REQUIRE(config.ble);
  CHECK(config.ble->adapter == "hci1");
  CHECK(config.ble->scan_watchdog == 120s);
}

namespace {

const std::string kMiio = miio_device();
const std::string kMidea =
    "devices:\n  ac:\n    protocol: midea\n    host: 192.168.1.60\n    id: 151732605161920\n";
const std::string kBle = "devices:\n  s:\n    protocol: xiaomi_ble\n    mac: A4:C1:38:11:22:33\n";

// Each bad configuration and the one message it must produce, word for word.
const std::vector<std::pair<std::string, std::string>> kBadConfigs = {
    // The document and its top level.
    {"- mqtt\n- devices\n",
     "config.yaml:1: expected a map of settings (mqtt, state_dir, log_level, devices, ble) at the top "
     "level, not a list"},
    {"just words\n",
     "config.yaml:1: expected a map of settings (mqtt, state_dir, log_level, devices, ble) at the top "
     "level, not a single value"},
    {"log_level: info\ncolour: red\n",
     "config.yaml:2: colour: unknown key (valid: mqtt, state_dir, log_level, devices, ble)"},
    {"log_level: info\nlog_level: debug\n", "config.yaml:2: log_level: duplicate key (first at line 1)"},
    {"log_level: info\n---\nlog_level: debug\n",
     "config.yaml:2: only one YAML document is allowed (found a second ---)"},
    {"log_level: verbose\n",
     "config.yaml:1: log_level: must be one of trace, debug, info, warning, error"},
    {"log_level:\n", "config.yaml:1: log_level: missing value"},
    {"state_dir: ''\n", "config.yaml:1: state_dir: must not be empty"},
    {"state_dir: [a, b]\n", "config.yaml:1: state_dir: expected a single value, not a list"},
    {"[a, b]: 1\n", "config.yaml:1: expected a name as key, not a list"},

    // mqtt
    {"mqtt: [a]\n",
     "config.yaml:1: mqtt: expected a map (server, user, password, password_file, client_id, "
     "base_topic, discovery_prefix, output, ca_file, cert_file, key_file, insecure, keepalive, "
     "state_qos), not a list"},
    {"mqtt:\n  passwd: x\n",
     "config.yaml:2: mqtt.passwd: unknown key in mqtt (valid: server, user, password, "
     "password_file, client_id, base_topic, discovery_prefix, output, ca_file, cert_file, "
     "key_file, insecure, keepalive, state_qos)"},
    {"mqtt:\n  state_qos: 2\n", "config.yaml:2: mqtt.state_qos: expected a whole number from 0 to 1"},
    {"mqtt:\n  state_qos: yes\n", "config.yaml:2: mqtt.state_qos: expected a whole number from 0 to 1"},
    {"mqtt:\n  server: http://broker\n",
     "config.yaml:2: mqtt.server: expected mqtt://, mqtts://, tcp:// or ssl:// followed by a host "
     "and an optional :port"},
    {"mqtt:\n  server: broker:1883\n",
     "config.yaml:2: mqtt.server: expected mqtt://, mqtts://, tcp:// or ssl:// followed by a host "
     "and an optional :port"},
    {"mqtt:\n  server: mqtt://\n", "config.yaml:2: mqtt.server: missing host"},
    {"mqtt:\n  server: mqtt://:1883\n", "config.yaml:2: mqtt.server: missing host"},
    {"mqtt:\n  server: mqtt://broker:0\n",
     "config.yaml:2: mqtt.server: the port must be a number from 1 to 65535"},
    {"mqtt:\n  server: mqtt://broker:65536\n",
     "config.yaml:2: mqtt.server: the port must be a number from 1 to 65535"},
    {"mqtt:\n  server: 'mqtt://broker:'\n",
     "config.yaml:2: mqtt.server: the port must be a number from 1 to 65535"},
    {"mqtt:\n  server: mqtt://broker:http\n",
     "config.yaml:2: mqtt.server: the port must be a number from 1 to 65535"},
    {"mqtt:\n  server: mqtt://bridge:hunter2@broker\n",
     "config.yaml:2: mqtt.server: user and password go in mqtt.user and mqtt.password_file, not "
     "in the URI"},
    {"mqtt:\n  server: mqtt://broker/topic\n",
     "config.yaml:2: mqtt.server: unexpected path after the host (expected scheme://host[:port])"},
    {"mqtt:\n  server: mqtt://fd00::2\n",
     "config.yaml:2: mqtt.server: an IPv6 address needs brackets: mqtt://[::1]:1883"},
    {"mqtt:\n  server: mqtt://bad_host!\n",
     "config.yaml:2: mqtt.server: the host is neither an IPv4 address nor a host name"},
    {"mqtt:\n  server: mqtt://10.0.0.256\n",
     "config.yaml:2: mqtt.server: the host is neither an IPv4 address nor a host name"},
    {"mqtt:\n  client_id: ''\n", "config.yaml:2: mqtt.client_id: must not be empty"},
    {"mqtt:\n  base_topic: ''\n", "config.yaml:2: mqtt.base_topic: must not be empty"},
    {"mqtt:\n  base_topic: home/+/x\n",
     "config.yaml:2: mqtt.base_topic: must not contain the MQTT wildcards + or #"},
    {"mqtt:\n  base_topic: home/#\n",
     "config.yaml:2: mqtt.base_topic: must not contain the MQTT wildcards + or #"},
    {"mqtt:\n  base_topic: /cloudless\n", "config.yaml:2: mqtt.base_topic: must not start or end with /"},
    {"mqtt:\n  base_topic: cloudless/\n", "config.yaml:2: mqtt.base_topic: must not start or end with /"},
    {"mqtt:\n  base_topic: a//b\n", "config.yaml:2: mqtt.base_topic: must not contain an empty level (//)"},
    {"mqtt:\n  base_topic: $SYS\n", "config.yaml:2: mqtt.base_topic: must not start with $"},
    {"mqtt:\n  base_topic: \"a\\tb\"\n", "config.yaml:2: mqtt.base_topic: must not contain control characters"},
    {"mqtt:\n  discovery_prefix: ha/\n", "config.yaml:2: mqtt.discovery_prefix: must not start or end with /"},
    {"mqtt:\n  discovery_prefix: '#'\n",
     "config.yaml:2: mqtt.discovery_prefix: must not contain the MQTT wildcards + or #"},
    {"mqtt:\n  output: xml\n", "config.yaml:2: mqtt.output: must be one of json, attribute, both"},
    {"mqtt:\n  insecure: maybe\n", "config.yaml:2: mqtt.insecure: expected true or false"},
    {"mqtt:\n  server: mqtt://broker\n  insecure: true\n",
     "config.yaml:3: mqtt.insecure: only used with mqtts:// or ssl:// servers"},
    {"mqtt:\n  insecure: true\n",
     "config.yaml:2: mqtt.insecure: only used with mqtts:// or ssl:// servers"},
    {"mqtt:\n  server: mqtts://broker\n  ca_file: /nonexistent/ca.pem\n",
     "config.yaml:3: mqtt.ca_file: cannot read /nonexistent/ca.pem: No such file or directory"},
    {"mqtt:\n  server: mqtts://broker\n  ca_file: /\n", "config.yaml:3: mqtt.ca_file: cannot read /: Is a directory"},
    {"mqtt:\n  server: mqtts://broker\n  cert_file: /dev/null\n",
     "config.yaml:3: mqtt.cert_file: cannot read /dev/null: not a regular file"},
    {"mqtt:\n  password_file: /nonexistent/password\n",
     "config.yaml:2: mqtt.password_file: cannot read /nonexistent/password: No such file or directory"},
    {"mqtt:\n  keepalive: 0.5\n", "config.yaml:2: mqtt.keepalive: must be from 1s to 65535s"},
    {"mqtt:\n  keepalive: 20h\n", "config.yaml:2: mqtt.keepalive: must be from 1s to 65535s"},
    {"mqtt:\n  keepalive: 1500ms\n", "config.yaml:2: mqtt.keepalive: must be a whole number of seconds"},
    {"mqtt:\n  keepalive: -30\n", "config.yaml:2: mqtt.keepalive: must not be negative"},

    // devices
    {"devices: [desk_plug]\n", "config.yaml:1: devices: expected a map of device id to settings, not a list"},
    {"devices: 5\n", "config.yaml:1: devices: expected a map of device id to settings, not a single value"},
    {"devices:\n  desk_plug: miio\n",
     "config.yaml:2: devices.desk_plug: expected a map of settings starting with protocol, not a "
     "single value"},
    {"devices:\n  desk_plug:\n",
     "config.yaml:2: devices.desk_plug: expected a map of settings starting with protocol, not "
     "an empty value"},
    {"devices:\n  desk_plug:\n    host: 192.168.1.50\n",
     "config.yaml:2: devices.desk_plug: missing required key 'protocol'"},
    {"devices:\n  desk_plug:\n    protocol: zigbee\n",
     "config.yaml:3: devices.desk_plug.protocol: unknown protocol 'zigbee' (valid: miio, midea, "
     "xiaomi_ble)"},
    {"devices:\n  desk_plug:\n    protocol:\n", "config.yaml:3: devices.desk_plug.protocol: missing value"},
    {"devices:\n  Desk Plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n",
     "config.yaml:2: devices.Desk Plug: device id must match [a-z0-9_-]+ (it is used in MQTT topics)"},
    {"devices:\n  plug.1:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n",
     "config.yaml:2: devices.plug.1: device id must match [a-z0-9_-]+ (it is used in MQTT topics)"},

    // miio
    {"devices:\n  desk_plug:\n    protocol: miio\n    token: 00112233445566778899aabbccddeeff\n",
     "config.yaml:2: devices.desk_plug: missing required key 'host'"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n",
     "config.yaml:2: devices.desk_plug: missing required key 'token' (or 'token_file')"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.999\n"
     "    token: 00112233445566778899aabbccddeeff\n",
     "config.yaml:4: devices.desk_plug.host: expected an IPv4 address or a host name"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: -plug\n"
     "    token: 00112233445566778899aabbccddeeff\n",
     "config.yaml:4: devices.desk_plug.host: expected an IPv4 address or a host name"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeef\n",
     "config.yaml:5: devices.desk_plug.token: expected 32 hex digits"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeexx\n",
     "config.yaml:5: devices.desk_plug.token: expected 32 hex digits"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    token_file: /etc/token\n",
     "config.yaml:6: devices.desk_plug.token_file: give either token or token_file, not both"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token_file: /nonexistent/token\n",
     "config.yaml:5: devices.desk_plug.token_file: cannot read /nonexistent/token: No such file or "
     "directory"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    tokne: x\n",
     "config.yaml:6: devices.desk_plug.tokne: unknown key for a miio device (valid: protocol, host, "
     "port, token, token_file, model, poll_interval, timeout, retries, miot)"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    port: 0\n",
     "config.yaml:6: devices.desk_plug.port: expected a whole number from 1 to 65535"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    port: 99999999999999999999999\n",
     "config.yaml:6: devices.desk_plug.port: expected a whole number from 1 to 65535"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    model: plug\n",
     "config.yaml:6: devices.desk_plug.model: expected a model name like chuangmi.plug.v3"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    poll_interval: 500ms\n",
     "config.yaml:6: devices.desk_plug.poll_interval: must be at least 1s"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    poll_interval: -10s\n",
     "config.yaml:6: devices.desk_plug.poll_interval: must not be negative"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    poll_interval: ten seconds\n",
     "config.yaml:6: devices.desk_plug.poll_interval: expected a duration such as 10s, 500ms, 2m or "
     "1h, or a number of seconds"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    poll_interval: 1000h\n",
     "config.yaml:6: devices.desk_plug.poll_interval: is too long (at most 30 days)"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    timeout: 50ms\n",
     "config.yaml:6: devices.desk_plug.timeout: must be at least 100ms"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    retries: 11\n",
     "config.yaml:6: devices.desk_plug.retries: expected a whole number from 0 to 10"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    retries: 1.5\n",
     "config.yaml:6: devices.desk_plug.retries: expected a whole number from 0 to 10"},

    // miio: miot
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    miot: yes\n",
     "config.yaml:6: devices.desk_plug.miot: expected a map of switch, power, energy, voltage, "
     "current, temperature to {siid, piid, scale}, not a single value"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    miot:\n      brightness: {siid: 2, piid: 2}\n",
     "config.yaml:7: devices.desk_plug.miot.brightness: unknown key in miot (valid: switch, power, "
     "energy, voltage, current, temperature)"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    miot:\n      power: 5.6\n",
     "config.yaml:7: devices.desk_plug.miot.power: expected a map {siid, piid, scale}, not a single "
     "value"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    miot:\n      power: {siid: 5}\n",
     "config.yaml:7: devices.desk_plug.miot.power: missing required key 'piid'"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    miot:\n      power: {siid: 0, piid: 6}\n",
     "config.yaml:7: devices.desk_plug.miot.power.siid: expected a whole number from 1 to 255"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    miot:\n      power:\n        siid: 5\n"
     "        piid: 256\n",
     "config.yaml:9: devices.desk_plug.miot.power.piid: expected a whole number from 1 to 255"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    miot:\n      power: {siid: 5, piid: 6, "
     "scale: big}\n",
     "config.yaml:7: devices.desk_plug.miot.power.scale: expected a number"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    miot:\n      power: {siid: 5, piid: 6, "
     "scale: .inf}\n",
     "config.yaml:7: devices.desk_plug.miot.power.scale: expected a number"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    miot:\n      power: {siid: 5, piid: 6, "
     "scale: 0}\n",
     "config.yaml:7: devices.desk_plug.miot.power.scale: must not be 0"},
    {"devices:\n  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n    miot:\n      power: {siid: 5, piid: 6, "
     "unit: W}\n",
     "config.yaml:7: devices.desk_plug.miot.power.unit: unknown key in a MIoT property (valid: "
     "siid, piid, scale)"},

    // midea
    {"devices:\n  ac:\n    protocol: midea\n    host: 192.168.1.60\n",
     "config.yaml:2: devices.ac: missing required key 'id'"},
    {"devices:\n  ac:\n    protocol: midea\n    id: 1\n",
     "config.yaml:2: devices.ac: missing required key 'host'"},
    {"devices:\n  ac:\n    protocol: midea\n    host: 192.168.1.60\n    id: 0\n",
     "config.yaml:5: devices.ac.id: expected a whole number from 1 to 18446744073709551615"},
    {"devices:\n  ac:\n    protocol: midea\n    host: 192.168.1.60\n    id: -5\n",
     "config.yaml:5: devices.ac.id: expected a whole number from 1 to 18446744073709551615"},
    {"devices:\n  ac:\n    protocol: midea\n    host: 192.168.1.60\n    id: 18446744073709551616\n",
     "config.yaml:5: devices.ac.id: expected a whole number from 1 to 18446744073709551615"},
    {"devices:\n  ac:\n    protocol: midea\n    host: 192.168.1.60\n    id: 0x1234\n",
     "config.yaml:5: devices.ac.id: expected a whole number from 1 to 18446744073709551615"},
    {"devices:\n  ac:\n    protocol: midea\n    host: 192.168.1.60\n    id: 1\n    port: 70000\n",
     "config.yaml:6: devices.ac.port: expected a whole number from 1 to 65535"},
    {"devices:\n  ac:\n    protocol: midea\n    host: 192.168.1.60\n    id: 1\n    token: abcd\n"
     "    key: a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90\n",
     "config.yaml:6: devices.ac.token: expected 128 hex digits"},
    {"devices:\n  ac:\n    protocol: midea\n    host: 192.168.1.60\n    id: 1\n"
     "    token: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeffedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\n"
     "    key: a1b2c3d4e5f60718293a4b5c6d7e8f90\n",
     "config.yaml:7: devices.ac.key: expected 64 hex digits"},
    {"devices:\n  ac:\n    protocol: midea\n    host: 192.168.1.60\n    id: 1\n"
     "    token: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeffedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\n",
     "config.yaml:2: devices.ac: token given without key (V3 appliances need both, older ones "
     "neither)"},
    {"devices:\n  ac:\n    protocol: midea\n    host: 192.168.1.60\n    id: 1\n"
     "    key: a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90\n",
     "config.yaml:2: devices.ac: key given without token (V3 appliances need both, older ones "
     "neither)"},
    {"devices:\n  ac:\n    protocol: midea\n    host: 192.168.1.60\n    id: 1\n    poll_interval: 0\n",
     "config.yaml:6: devices.ac.poll_interval: must be at least 1s"},
    {"devices:\n  ac:\n    protocol: midea\n    host: 192.168.1.60\n    id: 1\n    model: x.y.z\n",
     "config.yaml:6: devices.ac.model: unknown key for a midea device (valid: protocol, host, port, "
     "id, token, token_file, key, key_file, poll_interval, timeout, energy_format, temp_step)"},

    // xiaomi_ble
    {"devices:\n  s:\n    protocol: xiaomi_ble\n", "config.yaml:2: devices.s: missing required key 'mac'"},
    {"devices:\n  s:\n    protocol: xiaomi_ble\n    mac: A4C138112233\n",
     "config.yaml:4: devices.s.mac: expected a MAC address like A4:C1:38:11:22:33"},
    {"devices:\n  s:\n    protocol: xiaomi_ble\n    mac: A4-C1-38-11-22-33\n",
     "config.yaml:4: devices.s.mac: expected a MAC address like A4:C1:38:11:22:33"},
    {"devices:\n  s:\n    protocol: xiaomi_ble\n    mac: G4:C1:38:11:22:33\n",
     "config.yaml:4: devices.s.mac: expected a MAC address like A4:C1:38:11:22:33"},
    {"devices:\n  s:\n    protocol: xiaomi_ble\n    mac: A4:C1:38:11:22:33\n"
     "    bindkey: 00112233445566778899aabbccddee\n",
     "config.yaml:5: devices.s.bindkey: expected 32 or 24 hex digits"},
    {"devices:\n  s:\n    protocol: xiaomi_ble\n    mac: A4:C1:38:11:22:33\n"
     "    bindkey: 00112233445566778899aabbccddeeff\n    bindkey_file: /etc/bindkey\n",
     "config.yaml:6: devices.s.bindkey_file: give either bindkey or bindkey_file, not both"},
    {"devices:\n  s:\n    protocol: xiaomi_ble\n    mac: A4:C1:38:11:22:33\n    product_id: 65536\n",
     "config.yaml:5: devices.s.product_id: expected a whole number from 0 to 65535"},
    {"devices:\n  s:\n    protocol: xiaomi_ble\n    mac: A4:C1:38:11:22:33\n"
     "    token: 00112233445566778899aabbccddeeff\n",
     "config.yaml:5: devices.s.token: expected 24 hex digits"},
    {"devices:\n  s:\n    protocol: xiaomi_ble\n    mac: A4:C1:38:11:22:33\n    host: 1.2.3.4\n",
     "config.yaml:5: devices.s.host: unknown key for a xiaomi_ble device (valid: protocol, mac, "
     "bindkey, bindkey_file, product_id, token, token_file)"},

    // ble
    {"ble: hci0\n",
     "config.yaml:1: ble: expected a map (adapter, scan_watchdog), not a single value"},
    {"ble:\n  adapter: bt0\n", "config.yaml:2: ble.adapter: expected a BlueZ adapter name like hci0"},
    {"ble:\n  adapter: hci\n", "config.yaml:2: ble.adapter: expected a BlueZ adapter name like hci0"},
    {"ble:\n  scan_watchdog: soon\n",
     "config.yaml:2: ble.scan_watchdog: expected a duration such as 10s, 500ms, 2m or 1h, or a number "
     "of seconds"},
    {"ble:\n  scan_watchdog: 0\n", "config.yaml:2: ble.scan_watchdog: must be from 1s to 86400s"},
    {"ble:\n  adapter: hci0\n  scan: yes\n",
     "config.yaml:3: ble.scan: unknown key in ble (valid: adapter, scan_watchdog)"},

    // One device per address: the second one is the error.
    {"devices:\n  a:\n    protocol: miio\n    host: 192.168.1.50\n"
     "    token: 00112233445566778899aabbccddeeff\n  b:\n    protocol: miio\n"
     "    host: 192.168.1.50\n    port: 54321\n    token: 00112233445566778899aabbccddeeff\n",
     "config.yaml:8: devices.b.host: same host and port as device 'a' (line 4)"},
    {"devices:\n  a:\n    protocol: miio\n    host: Plug.lan\n"
     "    token: 00112233445566778899aabbccddeeff\n  b:\n    protocol: miio\n"
     "    host: plug.LAN\n    token: 00112233445566778899aabbccddeeff\n",
     "config.yaml:8: devices.b.host: same host and port as device 'a' (line 4)"},
    {"devices:\n  a:\n    protocol: xiaomi_ble\n    mac: A4:C1:38:11:22:33\n"
     "  b:\n    protocol: xiaomi_ble\n    mac: a4:c1:38:11:22:33\n",
     "config.yaml:7: devices.b.mac: same MAC as device 'a' (line 4)"},
    {"devices:\n  a:\n    protocol: midea\n    host: 192.168.1.60\n    id: 42\n"
     "  b:\n    protocol: midea\n    host: 192.168.1.61\n    id: 42\n",
     "config.yaml:9: devices.b.id: same appliance id as device 'a' (line 5)"},
    {"devices:\n  a:\n    protocol: xiaomi_ble\n    mac: A4:C1:38:11:22:33\n"
     "  a:\n    protocol: xiaomi_ble\n    mac: A4:C1:38:11:22:34\n",
     "config.yaml:5: devices.a: duplicate key (first at line 2)"},
    {"devices:\n  a:\n    protocol: xiaomi_ble\n    mac: A4:C1:38:11:22:33\n    mac: A4:C1:38:11:22:34\n",
     "config.yaml:5: devices.a.mac: duplicate key (first at line 4)"},
};

}  // namespace

TEST_CASE("each bad configuration gets its one exact message", "[config]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const auto& [yaml, expected] = GENERATE(from_range(kBadConfigs));
  CAPTURE(yaml);
  const LoadResult result = load(yaml);
  CHECK_FALSE(result.config);
  CHECK(result.errors == std::vector<std::string>{expected});
}

TEST_CASE("the appended-device helper is itself a valid configuration", "[config]") {
  // The bad-config table and tests below build on these; they must be clean on their own.
  CHECK(errors_of(kMiio).empty());
  CHECK(errors_of(kMidea).empty());
  CHECK(errors_of(kBle).empty());
}

TEST_CASE("all problems are reported at once, in line order", "[config]") {
  const std::string yaml =
      "mqtt:\n"                                 // 1
      "  server: mqtt://broker:99999\n"         // 2
      "  colour: red\n"                         // 3
      "log_level: loud\n"                       // 4
      "devices:\n"                              // 5
      "  Plug:\n"                               // 6
      "    protocol: miio\n"                    // 7
      "    host: 192.168.1.50\n"                // 8
      "    token: nothex\n"                     // 9
      "    retries: 99\n"                       // 10
      "  s:\n"                                  // 11
      "    protocol: xiaomi_ble\n"              // 12
      "    mac: nope\n"                         // 13
      "ble:\n"                                  // 14
      "  adapter: wlan0\n";                     // 15
  const std::vector<std::string> expected = {
      "config.yaml:2: mqtt.server: the port must be a number from 1 to 65535",
      "config.yaml:3: mqtt.colour: unknown key in mqtt (valid: server, user, password, "
      "password_file, client_id, base_topic, discovery_prefix, output, ca_file, cert_file, "
      "key_file, insecure, keepalive, state_qos)",
      "config.yaml:4: log_level: must be one of trace, debug, info, warning, error",
      "config.yaml:6: devices.Plug: device id must match [a-z0-9_-]+ (it is used in MQTT topics)",
      "config.yaml:9: devices.Plug.token: expected 32 hex digits",
      "config.yaml:10: devices.Plug.retries: expected a whole number from 0 to 10",
      "config.yaml:13: devices.s.mac: expected a MAC address like A4:C1:38:11:22:33",
      "config.yaml:15: ble.adapter: expected a BlueZ adapter name like hci0",
  };
  CHECK(errors_of(yaml) == expected);
}

TEST_CASE("unknown keys are errors at every level", "[config]") {
  struct Case {
    std::string yaml;
    std::string path;
  };
  const Case cases[] = {
      {"extra: 1\n", "config.yaml:1: extra: unknown key"},
      {"mqtt:\n  extra: 1\n", "config.yaml:2: mqtt.extra: unknown key in mqtt"},
      {"ble:\n  extra: 1\n", "config.yaml:2: ble.extra: unknown key in ble"},
      {kMiio + "    extra: 1\n", "config.yaml:6: devices.desk_plug.extra: unknown key for a miio device"},
      {kMidea + "    extra: 1\n", "config.yaml:6: devices.ac.extra: unknown key for a midea device"},
      {kBle + "    extra: 1\n", "config.yaml:5: devices.s.extra: unknown key for a xiaomi_ble device"},
      {kMiio + "    miot:\n      extra: {siid: 1, piid: 1}\n",
       "config.yaml:7: devices.desk_plug.miot.extra: unknown key in miot"},
      {kMiio + "    miot:\n      power: {siid: 1, piid: 1, extra: 1}\n",
       "config.yaml:7: devices.desk_plug.miot.power.extra: unknown key in a MIoT property"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.yaml);
    const std::vector<std::string> errors = errors_of(c.yaml);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].rfind(c.path + " (valid: ", 0) == 0);
  }
}

TEST_CASE("a YAML syntax error is one message at the parser's line", "[config]") {
  CHECK(errors_of("mqtt:\n  server: mqtt://broker\n  base_topic: [unclosed\n") ==
        std::vector<std::string>{"config.yaml:4: end of sequence flow not found"});
  CHECK(errors_of("devices:\n  a: {protocol: miio\n") ==
        std::vector<std::string>{"config.yaml:3: end of map flow not found"});
  CHECK(errors_of("mqtt:\n  server: x\n user: y\n") ==
        std::vector<std::string>{"config.yaml:3: end of map not found"});
  CHECK(errors_of("log_level: *nowhere\n") ==
        std::vector<std::string>{"config.yaml:1: the referenced anchor is not defined"});
  // yaml-cpp 0.7 itself accepts a stray ',' as an empty document (and YAML::LoadAll then never
  // returns); it is a syntax error here.
  CHECK(errors_of(",") == std::vector<std::string>{"config.yaml:1: unexpected ','"});
  CHECK(errors_of("[a],") == std::vector<std::string>{"config.yaml:1: unexpected ','"});
  CHECK(errors_of("[a]\n\n,\n") == std::vector<std::string>{"config.yaml:3: unexpected ','"});
  // yaml-cpp quotes the offending character; a control byte comes back escaped.
  CHECK(errors_of("a: \"\\\x01\"\n") ==
        std::vector<std::string>{"config.yaml:1: unknown escape character: \\x01"});
}

TEST_CASE("secrets are never quoted in messages", "[config]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const TempDir dir;
  const std::string bad_token = "0011223344556677889900aabbccddeeffZZ";  // wrong length and digit
  const std::string token_file = dir.write("token", "SECRETSECRETSECRETSECRET\n");
  const std::string midea_token = "SECRETSECRET" + kMideaToken.substr(12);  // 128 chars, not hex
  const std::string cases[] = {
      kMiio.substr(0, kMiio.rfind("    token")) + "    token: " + bad_token + "\n",
      kMiio.substr(0, kMiio.rfind("    token")) + "    token_file: " + token_file + "\n",
      kMidea + "    token: " + midea_token + "\n    key: SECRETSECRET\n",
      kBle + "    bindkey: SECRETSECRETSECRETSECRET12345678\n    token: SECRETSECRETSECRETSECRET\n",
      kBle + "    bindkey_file: " + token_file + "\n",
      "mqtt:\n  password: SECRETSECRET\n  password_file: " + token_file + "\n",
      "mqtt:\n  server: mqtt://user:SECRETSECRET@broker\n",
  };
  for (const std::string& yaml : cases) {
    CAPTURE(yaml);
    const std::vector<std::string> errors = errors_of(yaml);
    CHECK_FALSE(errors.empty());
    for (const std::string& error : errors) {
      CAPTURE(error);
      CHECK(error.find("SECRET") == std::string::npos);
      CHECK(error.find(bad_token) == std::string::npos);
      CHECK(error.find("0011223344556677889900") == std::string::npos);
    }
  }
}

TEST_CASE("secrets are read from *_file keys", "[config]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const TempDir dir;
  const std::string miio_token = dir.write("plug.token", "  00112233445566778899AABBCCDDEEFF\r\n");
  const std::string midea_token = dir.write("ac.token", kMideaToken + "\n");
  const std::string midea_key = dir.write("ac.key", kMideaKey);
  const std::string bindkey = dir.write("s.bindkey", "5A5B5C5D5E5F60616263646566676869\n");
  const std::string ble_token = dir.write("s.token", "00112233445566778899aabb\n");
  const std::string password = dir.write("mqtt.password", "pa ss \r\n");
  const std::string yaml =
      "mqtt:\n"
      "  password_file: " + password + "\n"
      "devices:\n"
      "  plug:\n"
      "    protocol: miio\n"
      "    host: 192.168.1.50\n"
      "    token_file: " + miio_token + "\n"
      "  ac:\n"
      "    protocol: midea\n"
      "    host: 192.168.1.60\n"
      "    id: 1\n"
      "    token_file: " + midea_token + "\n"
      "    key_file: " + midea_key + "\n"
      "  s:\n"
      "    protocol: xiaomi_ble\n"
      "    mac: A4:C1:38:11:22:33\n"
      "    bindkey_file: " + bindkey + "\n"
      "    token_file: " + ble_token + "\n";
  const LoadResult result = load(yaml);
  for (const std::string& error : result.errors) UNSCOPED_INFO(error);
  REQUIRE(result.config);
  CHECK(result.config->mqtt.password == "pa ss ");  // only the line end is dropped
  CHECK(settings_of<MiioDeviceConfig>(*result.config, "plug").token_hex == kToken);
  CHECK(settings_of<MideaDeviceConfig>(*result.config, "ac").token_hex == kMideaToken);
  CHECK(settings_of<MideaDeviceConfig>(*result.config, "ac").key_hex == kMideaKey);
  CHECK(settings_of<BleDeviceConfig>(*result.config, "s").bindkey_hex ==
        "5a5b5c5d5e5f60616263646566676869");
  CHECK(settings_of<BleDeviceConfig>(*result.config, "s").token_hex == "00112233445566778899aabb");

  SECTION("a file with the wrong content names the file, not what is in it") {
    const std::string wrong = dir.write("wrong.token", "0011\n");
    const std::vector<std::string> errors = errors_of(
        "devices:\n  plug:\n    protocol: miio\n    host: 192.168.1.50\n    token_file: " + wrong +
        "\n");
    CHECK(errors == std::vector<std::string>{"config.yaml:5: devices.plug.token_file: the file does "
                                             "not hold 32 hex digits"});
  }
  SECTION("an empty password file is an empty password") {
    const std::string empty = dir.write("empty.password", "");
    const LoadResult empty_result = load("mqtt:\n  password_file: " + empty + "\n");
    REQUIRE(empty_result.config);
    CHECK(empty_result.config->mqtt.password.empty());
  }
}

TEST_CASE("relative file names are relative to the config file", "[config]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  const TempDir dir;
  dir.write("plug.token", std::string(kToken) + "\n");
  dir.write("mqtt.password", "pw\n");
  const std::string path = dir.write(
      "config.yaml",
      "mqtt:\n  password_file: mqtt.password\nstate_dir: state\ndevices:\n  plug:\n    protocol: miio\n"
      "    host: 192.168.1.50\n    token_file: plug.token\n");
  const LoadResult result = load_file(path);
  for (const std::string& error : result.errors) UNSCOPED_INFO(error);
  REQUIRE(result.config);
  CHECK(result.config->source == path);
  CHECK(result.config->mqtt.password == "pw");
  CHECK(result.config->state_dir == dir.path() + "/state");
  CHECK(settings_of<MiioDeviceConfig>(*result.config, "plug").token_hex == kToken);

  SECTION("messages carry the file's own name") {
    const std::string bad = dir.write("bad.yaml", "log_level: loud\n");
    CHECK(load_file(bad).errors ==
          std::vector<std::string>{bad + ":1: log_level: must be one of trace, debug, info, warning, error"});
  }
}

TEST_CASE("TLS files belong to TLS servers", "[config]") {
  const TempDir dir;
  const std::string ca = dir.write("ca.pem", "x");
  const std::string key = dir.write("client.key", "x");
  CHECK(errors_of("mqtt:\n  server: mqtt://broker\n  ca_file: " + ca + "\n") ==
        std::vector<std::string>{"config.yaml:3: mqtt.ca_file: only used with mqtts:// or ssl:// servers"});
  CHECK(errors_of("mqtt:\n  server: tcp://broker\n  ca_file: " + ca + "\n") ==
        std::vector<std::string>{"config.yaml:3: mqtt.ca_file: only used with mqtts:// or ssl:// servers"});
  CHECK(errors_of("mqtt:\n  server: ssl://broker\n  ca_file: " + ca + "\n").empty());
  CHECK(errors_of("mqtt:\n  server: mqtts://broker\n  key_file: " + key + "\n") ==
        std::vector<std::string>{
            "config.yaml:3: mqtt.key_file: needs cert_file (the client certificate it belongs to)"});
  CHECK(errors_of("mqtt:\n  server: mqtt://broker\n  insecure: false\n").empty());
}

TEST_CASE("the MQTT password comes from $CREDENTIALS_DIRECTORY when the file names none",
          "[config]") {
  const TempDir dir;
  const ScopedEnv credentials("CREDENTIALS_DIRECTORY", dir.path().c_str());

  SECTION("no credential file: no password") {
    REQUIRE(load("").config);
    CHECK(load("").config->mqtt.password.empty());
  }
  SECTION("the credential is read, without its line end, even with no mqtt section") {
    dir.write("mqtt_password", "from-systemd\n");
    REQUIRE(load("").config);
    CHECK(load("").config->mqtt.password == "from-systemd");
    CHECK(load("mqtt:\n  user: bridge\n").config->mqtt.password == "from-systemd");
  }
  SECTION("the file's own password or password_file wins") {
    dir.write("mqtt_password", "from-systemd\n");
    const std::string file = dir.write("other", "from-file\n");
    CHECK(load("mqtt:\n  password: inline\n").config->mqtt.password == "inline");
    CHECK(load("mqtt:\n  password_file: " + file + "\n").config->mqtt.password == "from-file");
  }
  SECTION("an unreadable credential is an error") {
    std::filesystem::create_directory(dir.path() + "/mqtt_password");
    CHECK(errors_of("log_level: info\nmqtt:\n  user: bridge\n") ==
          std::vector<std::string>{"config.yaml:2: mqtt: cannot read the credential " + dir.path() +
                                   "/mqtt_password: Is a directory"});
  }
}

TEST_CASE("load_file reports a file it cannot read", "[config]") {
  CHECK(load_file("/nonexistent/config.yaml").errors ==
        std::vector<std::string>{"/nonexistent/config.yaml: cannot read: No such file or directory"});
  CHECK(load_file("/").errors == std::vector<std::string>{"/: cannot read: Is a directory"});
  CHECK_FALSE(load_file("/nonexistent/config.yaml").config);
}

TEST_CASE("durations", "[config]") {
  const std::pair<const char*, std::chrono::milliseconds> good[] = {
      {"10s", 10s},  {"500ms", 500ms}, {"2m", 2min}, {"1h", 1h},     {"0.5", 500ms},
      {"90", 90s},   {"1.5h", 90min},  {"0", 0ms},   {".25s", 250ms}, {"10 s", 10s},
      {"0.0004", 0ms}, {"+3s", 3s},    {"1.5ms", 2ms}, {"720h", 720h},
  };
  for (const auto& [text, expected] : good) {
    CAPTURE(text);
    const auto parsed = parse_duration(text);
    REQUIRE(parsed);
    CHECK(parsed.value() == expected);
  }
  const std::pair<const char*, const char*> bad[] = {
      {"-1s", "must not be negative"},
      {"-0", "must not be negative"},
      {"", "expected a duration such as 10s, 500ms, 2m or 1h, or a number of seconds"},
      {"s", "expected a duration such as 10s, 500ms, 2m or 1h, or a number of seconds"},
      {".", "expected a duration such as 10s, 500ms, 2m or 1h, or a number of seconds"},
      {"10x", "expected a duration such as 10s, 500ms, 2m or 1h, or a number of seconds"},
      {"10sec", "expected a duration such as 10s, 500ms, 2m or 1h, or a number of seconds"},
      {"1.2.3", "expected a duration such as 10s, 500ms, 2m or 1h, or a number of seconds"},
      {"1e3", "expected a duration such as 10s, 500ms, 2m or 1h, or a number of seconds"},
      {"inf", "expected a duration such as 10s, 500ms, 2m or 1h, or a number of seconds"},
      {"nan", "expected a duration such as 10s, 500ms, 2m or 1h, or a number of seconds"},
      {"1m30s", "expected a duration such as 10s, 500ms, 2m or 1h, or a number of seconds"},
      {"721h", "is too long (at most 30 days)"},
      {"99999999999999999999999999h", "is too long (at most 30 days)"},
  };
  for (const auto& [text, expected] : bad) {
    CAPTURE(text);
    const auto parsed = parse_duration(text);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().what == expected);
  }
  CHECK_FALSE(parse_duration(std::string(400, '9')));  // out of double's range
}

TEST_CASE("value formats", "[config]") {
  CHECK(parse_mac("a4:c1:38:0a:bb:cc").value() == "A4:C1:38:0A:BB:CC");
  CHECK_FALSE(parse_mac("a4:c1:38:0a:bb:c"));
  CHECK_FALSE(parse_mac("a4:c1:38:0a:bb:ccc"));
  CHECK_FALSE(parse_mac("a4:c1:38:0a:bb::c"));

  CHECK(parse_hex_secret("ABCDEF0123456789abcdef0123456789", 32).value() ==
        "abcdef0123456789abcdef0123456789");
  CHECK(parse_hex_secret("00", 4).error().what == "expected 4 hex digits");
  CHECK_FALSE(parse_hex_secret("0x00", 4));

  CHECK(is_ipv4_address("192.168.1.50"));
  CHECK(is_ipv4_address("0.0.0.0"));
  CHECK(is_ipv4_address("255.255.255.255"));
  CHECK_FALSE(is_ipv4_address("256.1.1.1"));
  CHECK_FALSE(is_ipv4_address("192.168.1"));
  CHECK_FALSE(is_ipv4_address("192.168.01.1"));  // inet_aton would read octal
  CHECK_FALSE(is_ipv4_address("1.2.3.4.5"));
  CHECK_FALSE(is_ipv4_address("1..3.4"));

  CHECK(is_host_name("plug"));
  CHECK(is_host_name("desk-plug.lan"));
  CHECK(is_host_name("desk_plug.local."));
  CHECK(is_host_name("3com.example"));
  CHECK_FALSE(is_host_name(""));
  CHECK_FALSE(is_host_name("-plug"));
  CHECK_FALSE(is_host_name("plug-"));
  CHECK_FALSE(is_host_name("a..b"));
  CHECK_FALSE(is_host_name("192.168.1.300"));
  CHECK_FALSE(is_host_name("plug lan"));
  CHECK_FALSE(is_host_name(std::string(64, 'a')));
  CHECK(is_host_name(std::string(63, 'a')));

  const auto server = parse_mqtt_server("mqtts://broker.lan:8883");
  REQUIRE(server);
  CHECK(server->scheme == "mqtts");
  CHECK(server->host == "broker.lan");
  CHECK(server->port == 8883);
  CHECK(server->tls);
  const auto plain = parse_mqtt_server("tcp://10.0.0.2");
  REQUIRE(plain);
  CHECK_FALSE(plain->port);
  CHECK_FALSE(plain->tls);
  const auto ipv6 = parse_mqtt_server("ssl://[fd00::1]");
  REQUIRE(ipv6);
  CHECK(ipv6->host == "fd00::1");
  CHECK(ipv6->tls);
  CHECK_FALSE(parse_mqtt_server("ws://broker"));
  CHECK_FALSE(parse_mqtt_server("mqtt://[fd00::1"));
  CHECK_FALSE(parse_mqtt_server("mqtt://[]:1883"));
  CHECK_FALSE(parse_mqtt_server("mqtt://[fd00::1]x"));

  CHECK(topic_prefix_problem("cloudless").empty());
  CHECK(topic_prefix_problem("home/cloudless").empty());
  CHECK(topic_prefix_problem("").empty());

  CHECK(is_device_id("desk_plug-2"));
  CHECK_FALSE(is_device_id(""));
  CHECK_FALSE(is_device_id("Desk"));
  CHECK_FALSE(is_device_id("desk/plug"));

  CHECK(is_miio_model("chuangmi.plug.212a01"));
  CHECK(is_miio_model("lumi.acpartner.mcn02"));
  CHECK_FALSE(is_miio_model("chuangmi.plug"));
  CHECK_FALSE(is_miio_model("Chuangmi.plug.v3"));
  CHECK_FALSE(is_miio_model("chuangmi..v3"));
}

TEST_CASE("same host on another port, or the same address for another protocol, is fine",
          "[config]") {
  const std::string yaml = kMiio +
                           "  other:\n    protocol: miio\n    host: 192.168.1.50\n    port: 54322\n"
                           "    token: " + kToken + "\n"
                           "  ac:\n    protocol: midea\n    host: 192.168.1.50\n    id: 7\n";
  CHECK(errors_of(yaml).empty());
}

TEST_CASE("null values and YAML spellings", "[config]") {
  const ScopedEnv no_credentials("CREDENTIALS_DIRECTORY", nullptr);
  SECTION("client_id with no value takes the default") {
    CHECK(load("mqtt:\n  client_id:\n").config->mqtt.client_id == default_client_id());
  }
  SECTION("discovery_prefix with no value turns discovery off") {
    CHECK(load("mqtt:\n  discovery_prefix:\n").config->mqtt.discovery_prefix.empty());
  }
  SECTION("the empty password is a password") {
    CHECK(load("mqtt:\n  password: ''\n").config->mqtt.password.empty());
  }
  SECTION("booleans in YAML 1.1 and 1.2 spellings") {
    for (const char* word : {"true", "True", "TRUE", "yes", "on"}) {
      CAPTURE(word);
      const LoadResult r = load(std::string("mqtt:\n  server: mqtts://b\n  insecure: ") + word + "\n");
      REQUIRE(r.config);
      CHECK(r.config->mqtt.insecure);
    }
    for (const char* word : {"false", "no", "Off"}) {
      CAPTURE(word);
      const LoadResult r = load(std::string("mqtt:\n  insecure: ") + word + "\n");
      REQUIRE(r.config);
      CHECK_FALSE(r.config->mqtt.insecure);
    }
  }
  SECTION("quoted numbers are numbers, numeric tokens keep their leading zeros") {
    const LoadResult r = load(
        "devices:\n  p:\n    protocol: miio\n    host: 192.168.1.50\n    port: '1234'\n"
        "    token: 00000000000000000000000000000001\n");
    REQUIRE(r.config);
    CHECK(settings_of<MiioDeviceConfig>(*r.config, "p").port == 1234);
    CHECK(settings_of<MiioDeviceConfig>(*r.config, "p").token_hex == "00000000000000000000000000000001");
  }
  SECTION("anchors and aliases work for values") {
    const LoadResult r = load(
        "devices:\n  p:\n    protocol: miio\n    host: 192.168.1.50\n    token: &t " +
        std::string(kToken) + "\n  q:\n    protocol: miio\n    host: 192.168.1.51\n    token: *t\n");
    REQUIRE(r.config);
    CHECK(settings_of<MiioDeviceConfig>(*r.config, "q").token_hex == kToken);
  }
}

TEST_CASE("default_client_id is cloudless_<hostname> in broker-safe characters", "[config]") {
  const std::string id = default_client_id();
  CHECK(id.rfind("cloudless", 0) == 0);
  for (const char c : id) {
    CAPTURE(c);
    CHECK((std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'));
  }
}

namespace {

void check_never_throws(const std::string& text) {
  LoadResult result;
  REQUIRE_NOTHROW(result = load_text(text, "fuzz.yaml"));
  CHECK(result.config.has_value() != !result.errors.empty());
  for (const std::string& error : result.errors) {
    CHECK(error.rfind("fuzz.yaml:", 0) == 0);
  }
}

}  // namespace

TEST_CASE("garbage never throws and always gives a config or errors", "[config]") {
  SECTION("binary noise") {
    std::mt19937 random(1234);
    for (int round = 0; round < 300; ++round) {
      std::string text(random() % 512, '\0');
      for (char& c : text) c = static_cast<char>(random());
      check_never_throws(text);
    }
  }
  SECTION("valid YAML with a byte changed anywhere") {
    const std::string base = kMiio + "    miot:\n      power: {siid: 5, piid: 6, scale: 0.01}\n" +
                             "mqtt:\n  server: mqtts://b:8883\n  keepalive: 30\nble:\n  adapter: hci0\n";
    std::mt19937 random(99);
    for (std::size_t i = 0; i < base.size(); ++i) {
      std::string text = base;
      text[i] = "\0\n:-[]{}&*!|>'\"%@`#,? \t\xff"[random() % 24];
      check_never_throws(text);
    }
  }
  SECTION("deep nesting") {
    check_never_throws(std::string(100000, '['));
    check_never_throws(std::string(5000, '[') + std::string(5000, ']'));
    check_never_throws("devices: " + std::string(10000, '{'));
    std::string nested = "mqtt:\n";
    for (int depth = 1; depth < 500; ++depth) nested += std::string(depth * 2, ' ') + "a:\n";
    check_never_throws(nested);
    check_never_throws(kMiio + "    miot:\n      power: " + std::string(3000, '[') +
                       std::string(3000, ']') + "\n");
  }
  SECTION("huge numbers and long values") {
    const std::string huge = std::string(5000, '9');
    check_never_throws(kMiio + "    port: " + huge + "\n");
    check_never_throws(kMiio + "    retries: -" + huge + "\n");
    check_never_throws(kMiio + "    poll_interval: " + huge + "." + huge + "h\n");
    check_never_throws(kMiio + "    miot:\n      power: {siid: " + huge + ", piid: 1, scale: " +
                       huge + "e99999}\n");
    check_never_throws(kMidea + "    port: 1e308\n");
    check_never_throws("devices:\n  " + std::string(100000, 'a') + ": {protocol: " +
                       std::string(100000, 'x') + "}\n");
    check_never_throws(std::string(kMiio.size(), ' ') + std::string(2 * 1024 * 1024, '#'));
  }
  SECTION("aliases, cycles and strange keys") {
    check_never_throws("a: &x [*x]\n");
    check_never_throws("devices: &d {a: *d}\n");
    check_never_throws("devices: &d\n  a: *d\n");
    check_never_throws("mqtt: &m\n  server: *m\n");
    std::string bomb = "l0: &l0 [a, a, a, a, a, a, a, a, a]\n";
    for (int level = 1; level < 20; ++level) {
      bomb += "l" + std::to_string(level) + ": &l" + std::to_string(level) + " [";
      for (int i = 0; i < 9; ++i) bomb += (i ? ", *l" : "*l") + std::to_string(level - 1);
      bomb += "]\n";
    }
    check_never_throws(bomb);
    check_never_throws("devices:\n  ? [a, b]\n  : {protocol: miio}\n");
    check_never_throws("? {a: b}\n: c\n");
    check_never_throws("devices:\n  ~: {protocol: miio}\n");
    check_never_throws("<<: {mqtt: {}}\n");
    check_never_throws("!!binary devices: !!map {a: !!str b}\n");
    check_never_throws("%YAML 1.2\n---\ndevices: {}\n...\n");
    const char nul_in_key[] = "devices:\n  a\0b: {}\n";
    check_never_throws(std::string(nul_in_key, sizeof nul_in_key - 1));
    check_never_throws("mqtt:\n  password_file: \"/etc/passwd\\0x\"\n");
    check_never_throws(kMiio.substr(0, kMiio.rfind("    token")) + "    token_file: /dev/zero\n");
    check_never_throws(kMiio.substr(0, kMiio.rfind("    token")) + "    token_file: /proc/self/maps\n");
  }
}

TEST_CASE("midea: timeout and energy_format", "[config][midea]") {
  const std::string base =
      "devices:\n  ac:\n    protocol: midea\n    host: 192.168.1.60\n    id: 151732605161920\n";
  SECTION("defaults: 2 s per attempt, BCD energy (msmart's default)") {
    const LoadResult result = load(base);
    REQUIRE(result.errors.empty());
    const auto& ac = settings_of<MideaDeviceConfig>(*result.config, "ac");
    CHECK(ac.timeout == 2s);
    CHECK(ac.energy_format == cloudless::midea::EnergyFormat::bcd);
  }
  SECTION("every format name is read into its value") {
    const std::pair<const char*, cloudless::midea::EnergyFormat> formats[] = {
        {"bcd", cloudless::midea::EnergyFormat::bcd},
        {"binary", cloudless::midea::EnergyFormat::binary},
        {"mixed", cloudless::midea::EnergyFormat::mixed},
        {"binary_centi", cloudless::midea::EnergyFormat::binary_centi},
        {"bcd_energy_binary_power", cloudless::midea::EnergyFormat::bcd_energy_binary_power}};
    for (const auto& [name, format] : formats) {
      CAPTURE(name);
      const LoadResult result = load(base + "    energy_format: " + name + "\n    timeout: 750ms\n");
      REQUIRE(result.errors.empty());
      const auto& ac = settings_of<MideaDeviceConfig>(*result.config, "ac");
      CHECK(ac.energy_format == format);
      CHECK(ac.timeout == 750ms);
    }
  }
  SECTION("bad values name the key and the valid choices") {
    CHECK(errors_of(base + "    energy_format: BCD\n") ==
          std::vector<std::string>{"config.yaml:6: devices.ac.energy_format: must be one of bcd, binary, mixed, "
                                   "binary_centi, bcd_energy_binary_power"});
    CHECK(errors_of(base + "    timeout: 50ms\n") ==
          std::vector<std::string>{"config.yaml:6: devices.ac.timeout: must be at least 100ms"});
    CHECK(errors_of(base + "    timeout: soon\n").size() == 1);
  }
  SECTION("config/example.yaml documents both keys") {
    std::ifstream file(CLOUDLESS_SOURCE_DIR "/config/example.yaml");
    const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    CHECK(text.find("energy_format:") != std::string::npos);
    CHECK(text.find("bcd_energy_binary_power") != std::string::npos);
  }
}

TEST_CASE("midea: temp_step is 0.5 or 1 °C, 0.5 by default", "[config][midea]") {
  const std::string base =
      "devices:\n  ac:\n    protocol: midea\n    host: 192.168.1.60\n    id: 151732605161920\n";
  SECTION("default: half degrees, whatever the unit's capabilities say") {
    const LoadResult result = load(base);
    REQUIRE(result.errors.empty());
    CHECK(settings_of<MideaDeviceConfig>(*result.config, "ac").temp_step == 0.5);
  }
  SECTION("each allowed spelling") {
    const std::pair<const char*, double> steps[] = {{"0.5", 0.5}, {"1", 1.0}, {"1.0", 1.0}, {"\"1\"", 1.0}};
    for (const auto& [text, step] : steps) {
      CAPTURE(text);
      const LoadResult result = load(base + "    temp_step: " + text + "\n");
      for (const std::string& error : result.errors) UNSCOPED_INFO(error);
      REQUIRE(result.errors.empty());
      CHECK(settings_of<MideaDeviceConfig>(*result.config, "ac").temp_step == step);
    }
  }
  SECTION("anything else names file, line, key and the allowed values") {
    for (const char* text : {"0.1", "0.25", "2", "0", "-0.5", "1.5"}) {
      CAPTURE(text);
      CHECK(errors_of(base + "    temp_step: " + text + "\n") ==
            std::vector<std::string>{"config.yaml:6: devices.ac.temp_step: must be 0.5 or 1 (°C)"});
    }
    CHECK(errors_of(base + "    temp_step: half\n") ==
          std::vector<std::string>{"config.yaml:6: devices.ac.temp_step: expected a number"});
    CHECK(errors_of(base + "    temp_step: .nan\n").size() == 1);
    CHECK(errors_of(base + "    temp_step: [0.5]\n").size() == 1);
  }
  SECTION("config/example.yaml documents it") {
    std::ifstream file(CLOUDLESS_SOURCE_DIR "/config/example.yaml");
    const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    CHECK(text.find("temp_step: 0.5") != std::string::npos);
  }
}

TEST_CASE("a device may not be called 'bridge': its topics are the daemon's own", "[config]") {
  const std::string yaml = std::string("devices:\n  bridge:\n    protocol: miio\n    host: 192.168.1.50\n    token: ") +
                           kToken + "\n";
  const std::vector<std::string> errors = errors_of(yaml);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] ==
        "config.yaml:2: devices.bridge: device id 'bridge' is reserved for the daemon's own topics "
        "(<base_topic>/bridge/...); choose another");
  // Names that merely contain it stay valid.
  CHECK(errors_of(std::string("devices:\n  bridge_plug:\n    protocol: miio\n    host: 192.168.1.50\n    token: ") +
                  kToken + "\n")
            .empty());
}
