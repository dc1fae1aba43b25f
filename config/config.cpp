// Loading walks the YAML tree once, section by section, against a fixed schema: every map is
// checked for unknown and duplicate keys, every value is parsed with config/values.h, and every
// problem is collected (not thrown) so that `check-config` can list them all in one run.
//
// The walk is driven by the schema, never by the document's shape, so its depth is bounded whatever
// the input: self-referencing aliases or deeply nested values in an unexpected place cost nothing.
//
// This file: the document, the top-level keys, mqtt and ble. The readers every section shares are in
// config/loader.h; each protocol's device entry is read by its own file (config/device_sections.h).
#include "config/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <sstream>
#include <string_view>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "config/device_sections.h"
#include "config/loader.h"
#include "config/values.h"

namespace cloudless::config {

namespace {

constexpr std::size_t kMaxConfigBytes = 1024 * 1024;

constexpr std::string_view kRootKeys[] = {"mqtt", "state_dir", "log_level", "devices", "ble"};
constexpr std::string_view kMqttKeys[] = {
    "server",           "user",   "password", "password_file", "client_id", "base_topic",
    "discovery_prefix", "output", "ca_file",  "cert_file",     "key_file",  "insecure",
    "keepalive",        "state_qos"};
constexpr std::string_view kBleKeys[] = {"adapter", "scan_watchdog"};
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warning", "error"};
constexpr std::string_view kOutputModes[] = {"json", "attribute", "both"};

// Passwords may end in spaces; only the line end an editor or `echo` adds is not part of them.
std::string without_trailing_newlines(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

// Records where each document starts and ignores everything else (see Loader::check_documents).
class DocumentStarts : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { marks.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  std::vector<YAML::Mark> marks;
};

// The document and the daemon's own sections; each device entry goes to its protocol's section.
class Loader : public Reader {
 public:
  using Reader::Reader;

  LoadResult load(const std::string& text);

 private:
  std::optional<std::string> check_documents(const std::string& text);
  void load_root(const YAML::Node& root);
  void load_mqtt(const Field* section);
  void load_mqtt_password(const Fields& fields, const Field* section);
  void load_ble(const Field& section);
  void load_devices(const Field& section);
  void load_device(const Field& entry);

  Config config_;
};

// The syntax error, if any, as the one message to show; also "one document only". Nothing else can
// be trusted after a syntax error, so the caller shows this alone.
//
// The documents are walked with a progress check instead of YAML::LoadAll: yaml-cpp 0.7's parser
// reports a stray ',' outside [ ] or { } as an empty document without consuming it, so LoadAll
// collects empty documents until memory runs out (found by the random-bytes test on ",").
std::optional<std::string> Loader::check_documents(const std::string& text) {
  const auto message = [&](const YAML::Mark& mark, const std::string& what) {
    return name_ + ":" + std::to_string(mark.is_null() ? 1 : mark.line + 1) + ": " + what;
  };
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DocumentStarts starts;
  try {
    while (parser.HandleNextDocument(starts)) {
      const std::size_t count = starts.marks.size();
      if (count >= 2 && starts.marks[count - 1].pos == starts.marks[count - 2].pos) {
        const YAML::Mark& stuck = starts.marks.back();
        const std::size_t pos = static_cast<std::size_t>(std::max(stuck.pos, 0));
        if (pos >= text.size()) return message(stuck, "unexpected end of the file");
        return message(stuck, "unexpected '" + shown(text.substr(pos, 1)) + "'");
      }
    }
  } catch (const YAML::Exception& error) {
    return message(error.mark, shown(error.msg, 512));
  }
  if (starts.marks.size() > 1) {
    problem(starts.marks[1].line + 1, "", "only one YAML document is allowed (found a second ---)");
  }
  return std::nullopt;
}

LoadResult Loader::load(const std::string& text) {
  config_.source = name_;
  if (text.size() > kMaxConfigBytes) {
    return LoadResult{std::nullopt, {name_ + ": larger than " + size_text(kMaxConfigBytes)}};
  }
  try {
    const std::optional<std::string> syntax_error = check_documents(text);
    if (syntax_error) return LoadResult{std::nullopt, {*syntax_error}};
    load_root(YAML::Load(text));
  } catch (const std::exception& error) {
    // Not expected from the walk above; reported rather than thrown because load_* never throws.
    problem(0, "", std::string("internal error: ") + shown(error.what(), 512));
  }

  LoadResult result;
  if (problems_.empty()) {
    result.config = std::move(config_);
    return result;
  }
  std::stable_sort(problems_.begin(), problems_.end(),
                   [](const Problem& a, const Problem& b) { return a.line < b.line; });
  for (const Problem& p : problems_) {
    std::string message = name_ + ":" + std::to_string(std::max(p.line, 1)) + ": ";
    if (!p.path.empty()) message += p.path + ": ";
    message += p.what;
    result.errors.push_back(std::move(message));
  }
  return result;
}

void Loader::load_root(const YAML::Node& root) {
  Fields fields;
  // An empty file (or only comments) is a valid configuration that bridges nothing.
  if (root.IsMap()) {
    fields = select(entries(root, ""), kRootKeys, "");
  } else if (!root.IsNull()) {
    problem(line_of(root), "",
            "expected a map of settings (" + join(kRootKeys, ", ") + ") at the top level, not " +
                kind_of(root));
  }

  load_mqtt(find(fields, "mqtt"));
  if (const Field* field = find(fields, "state_dir")) {
    if (const std::optional<std::string> dir = read_nonempty(*field)) config_.state_dir = resolve(*dir);
  }
  if (const Field* field = find(fields, "log_level")) {
    if (const std::optional<std::string> level = read_choice(*field, kLogLevels)) {
      config_.log_level = *level;
    }
  }
  if (const Field* field = find(fields, "devices")) load_devices(*field);
  if (const Field* field = find(fields, "ble")) load_ble(*field);

  // A BLE device needs the adapter even when the user left the section out.
  const bool has_ble_device = std::any_of(
      config_.devices.begin(), config_.devices.end(),
      [](const DeviceConfig& d) { return std::holds_alternative<BleDeviceConfig>(d.settings); });
  if (has_ble_device && !config_.ble) config_.ble = BleConfig{};
}

void Loader::load_mqtt(const Field* section) {
  MqttConfig& mqtt = config_.mqtt;
  Fields fields;
  if (section != nullptr) fields = fields_of(*section, kMqttKeys, " in mqtt");

  std::optional<MqttServer> server = parse_mqtt_server(mqtt.server).value();
  if (const Field* field = find(fields, "server")) {
    server.reset();
    if (const std::optional<std::string> text = read_text(*field)) {
      Result<MqttServer> parsed = parse_mqtt_server(*text);
      if (parsed) {
        mqtt.server = *text;
        server = std::move(parsed).value();
      } else {
        problem(field->line(), field->path, parsed.error().what);
      }
    }
  }
  if (const Field* field = find(fields, "user")) {
    if (const std::optional<std::string> user = read_text(*field)) mqtt.user = *user;
  }
  load_mqtt_password(fields, section);

  mqtt.client_id = default_client_id();
  if (const Field* field = find(fields, "client_id"); field != nullptr && !field->value.IsNull()) {
    if (const std::optional<std::string> id = read_nonempty(*field)) mqtt.client_id = *id;
  }
  if (const Field* field = find(fields, "base_topic")) {
    if (const std::optional<std::string> topic = read_nonempty(*field)) {
      if (const std::string wrong = topic_prefix_problem(*topic); !wrong.empty()) {
        problem(field->line(), field->path, wrong);
      } else {
        mqtt.base_topic = *topic;
      }
    }
  }
  if (const Field* field = find(fields, "discovery_prefix")) {
    // `discovery_prefix:` with nothing after it reads as "none", like the empty string.
    const std::optional<std::string> prefix =
        field->value.IsNull() ? std::optional<std::string>("") : read_text(*field);
    if (prefix) {
      if (const std::string wrong = topic_prefix_problem(*prefix); !wrong.empty()) {
        problem(field->line(), field->path, wrong);
      } else {
        mqtt.discovery_prefix = *prefix;
      }
    }
  }
  if (const Field* field = find(fields, "output")) {
    if (const std::optional<std::string> output = read_choice(*field, kOutputModes)) {
      mqtt.output = *output == "json"        ? OutputMode::json
                    : *output == "attribute" ? OutputMode::attribute
                                             : OutputMode::both;
    }
  }

  // TLS settings on a plain connection would be silently ignored by Paho: say so instead.
  const auto check_tls_only = [&](const Field& field) {
    if (server && !server->tls) {
      problem(field.line(), field.path, "only used with mqtts:// or ssl:// servers");
    }
  };
  for (const auto& [key, target] : {std::pair{"ca_file", &mqtt.ca_file},
                                    std::pair{"cert_file", &mqtt.cert_file},
                                    std::pair{"key_file", &mqtt.key_file}}) {
    const Field* field = find(fields, key);
    if (field == nullptr) continue;
    if (const std::optional<std::string> path = read_readable_file(*field)) *target = *path;
    check_tls_only(*field);
  }
  if (const Field* key = find(fields, "key_file"); key != nullptr && !find(fields, "cert_file")) {
    problem(key->line(), key->path, "needs cert_file (the client certificate it belongs to)");
  }
  if (const Field* field = find(fields, "insecure")) {
    if (const std::optional<bool> insecure = read_bool(*field)) {
      mqtt.insecure = *insecure;
      if (*insecure) check_tls_only(*field);
    }
  }
  if (const Field* field = find(fields, "keepalive")) {
    // MQTT carries the keep-alive as a 16-bit number of seconds.
    if (const auto keepalive = read_seconds(*field, std::chrono::seconds(1),
                                            std::chrono::seconds(65535))) {
      mqtt.keepalive = *keepalive;
    }
  }
  if (const Field* field = find(fields, "state_qos")) {
    // QoS 2 buys nothing for a value the next poll replaces, and costs two more packets each.
    if (const auto qos = read_integer(*field, 0, 1)) mqtt.state_qos = static_cast<int>(*qos);
  }
}

void Loader::load_mqtt_password(const Fields& fields, const Field* section) {
  MqttConfig& mqtt = config_.mqtt;
  const Field* inline_field = find(fields, "password");
  const Field* file_field = find(fields, "password_file");
  if (inline_field != nullptr && file_field != nullptr) {
    problem(file_field->line(), file_field->path, "give either password or password_file, not both");
    return;
  }
  if (inline_field != nullptr) {
    // An empty `password:` is an empty password, not a missing one.
    if (inline_field->value.IsNull()) return;
    if (const std::optional<std::string> password = read_text(*inline_field)) mqtt.password = *password;
    return;
  }
  if (file_field != nullptr) {
    if (const std::optional<std::string> content = read_secret_file(*file_field)) {
      mqtt.password = without_trailing_newlines(*content);
    }
    return;
  }
  // systemd's LoadCredential=mqtt_password:… puts the secret here, readable by this service only.
  const char* credentials = std::getenv("CREDENTIALS_DIRECTORY");
  if (credentials == nullptr || *credentials == '\0') return;
  const std::string path = std::string(credentials) + "/mqtt_password";
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return;
  Result<std::string> content = read_small_file(path, kMaxSecretFileBytes);
  if (!content) {
    problem(section != nullptr ? section->key_line : 1, "mqtt",
            "cannot read the credential " + shown(path, 256) + ": " + content.error().what);
    return;
  }
  mqtt.password = without_trailing_newlines(std::move(content).value());
}

void Loader::load_ble(const Field& section) {
  BleConfig ble;
  const Fields fields = fields_of(section, kBleKeys, " in ble");
  if (const Field* field = find(fields, "adapter")) {
    if (const std::optional<std::string> adapter = read_text(*field)) {
      const bool valid = adapter->size() > 3 && adapter->size() <= 6 &&
                         adapter->compare(0, 3, "hci") == 0 &&
                         std::all_of(adapter->begin() + 3, adapter->end(),
                                     [](char c) { return c >= '0' && c <= '9'; });
      if (valid) {
        ble.adapter = *adapter;
      } else {
        problem(field->line(), field->path, "expected a BlueZ adapter name like hci0");
      }
    }
  }
  if (const Field* field = find(fields, "scan_watchdog")) {
    if (const auto watchdog = read_seconds(*field, std::chrono::seconds(1),
                                           std::chrono::seconds(24 * 3600))) {
      ble.scan_watchdog = *watchdog;
    }
  }
  config_.ble = ble;
}

void Loader::load_devices(const Field& section) {
  // `devices:` with every entry commented out is a configuration that bridges nothing.
  if (section.value.IsNull()) return;
  if (!section.value.IsMap()) {
    problem(section.line(), section.path,
            "expected a map of device id to settings, not " + kind_of(section.value));
    return;
  }
  for (const Field& entry : entries(section.value, section.path)) {
    if (!is_device_id(entry.name)) {
      problem(entry.key_line, entry.path,
              "device id must match [a-z0-9_-]+ (it is used in MQTT topics)");
    } else if (entry.name == kReservedDeviceId) {
      // <base>/bridge/... and the bridge's own discovery config are the daemon's topics.
      problem(entry.key_line, entry.path,
              "device id 'bridge' is reserved for the daemon's own topics (<base_topic>/bridge/...); choose another");
    }
    load_device(entry);
  }
}

void Loader::load_device(const Field& entry) {
  if (!entry.value.IsMap()) {
    problem(entry.line(), entry.path,
            "expected a map of settings starting with protocol, not " + kind_of(entry.value));
    return;
  }
  std::vector<Field> all = entries(entry.value, entry.path);
  const auto protocol_field =
      std::find_if(all.begin(), all.end(), [](const Field& f) { return f.name == "protocol"; });
  if (protocol_field == all.end()) {
    problem(entry.key_line, entry.path, "missing required key 'protocol'");
    return;
  }
  const std::optional<std::string> protocol = read_text(*protocol_field);
  if (!protocol) return;

  DeviceConfig device;
  device.id = entry.name;
  device.protocol = *protocol;
  device.line = entry.key_line;
  const DeviceSection* section = find_device_section(*protocol);
  if (section == nullptr) {
    // The other keys are not checked: which ones are valid depends on the protocol meant.
    problem(protocol_field->line(), protocol_field->path,
            "unknown protocol '" + shown(*protocol) + "' (valid: " + device_protocol_names() + ")");
    return;
  }
  device.settings =
      section->load(*this, select(std::move(all), section->keys, " for a " + *protocol + " device"), entry);
  config_.devices.push_back(std::move(device));
}

}  // namespace

LoadResult load_file(const std::string& path) {
  try {
    Result<std::string> text = read_small_file(path, kMaxConfigBytes);
    if (!text) return LoadResult{std::nullopt, {path + ": cannot read: " + text.error().what}};
    return Loader(path, std::filesystem::path(path).parent_path().string()).load(text.value());
  } catch (const std::exception& error) {
    return LoadResult{std::nullopt, {path + ": cannot load: " + shown(error.what(), 512)}};
  }
}

LoadResult load_text(const std::string& text, const std::string& name) {
  try {
    return Loader(name, "").load(text);
  } catch (const std::exception& error) {
    return LoadResult{std::nullopt, {name + ": cannot load: " + shown(error.what(), 512)}};
  }
}

std::string default_client_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "cloudless";
  // Brokers must accept [0-9a-zA-Z]; '-' and '_' are accepted everywhere in practice. A dotted or
  // odd host name ("pi.local") would otherwise be refused by strict brokers.
  std::string id = "cloudless_";
  for (const char* c = host; *c != '\0'; ++c) {
    const bool plain = (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
                       (*c >= 'A' && *c <= 'Z') || *c == '-' || *c == '_';
    id.push_back(plain ? *c : '_');
  }
  return id;
}

}  // namespace cloudless::config
