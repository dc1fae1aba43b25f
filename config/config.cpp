// Loading walks the YAML tree once, section by section, against a fixed schema: every map is
// checked for unknown and duplicate keys, every value is parsed with config/values.h, and every
// problem is collected (not thrown) so that `check-config` can list them all in one run.
//
// The walk is driven by the schema, never by the document's shape, so its depth is bounded whatever
// the input: self-referencing aliases or deeply nested values in an unexpected place cost nothing.
#include "config/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <sstream>
#include <span>
#include <string_view>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "config/values.h"

namespace cloudless::config {

namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

constexpr std::size_t kMaxConfigBytes = 1024 * 1024;
// Token, key and password files hold a line; anything bigger is the wrong file.
constexpr std::size_t kMaxSecretFileBytes = 64 * 1024;
constexpr std::size_t kMaxShownChars = 64;

constexpr std::string_view kRootKeys[] = {"mqtt", "state_dir", "log_level", "devices", "ble"};
constexpr std::string_view kMqttKeys[] = {
    "server",           "user",   "password", "password_file", "client_id", "base_topic",
    "discovery_prefix", "output", "ca_file",  "cert_file",     "key_file",  "insecure",
    "keepalive",        "state_qos"};
constexpr std::string_view kBleKeys[] = {"adapter", "scan_watchdog"};
constexpr std::string_view kMiioKeys[] = {"protocol", "host",          "port",    "token",
                                          "token_file", "model",       "poll_interval",
                                          "timeout",  "retries",       "miot"};
constexpr std::string_view kMideaKeys[] = {"protocol",      "host",    "port",          "id",
                                           "token",         "token_file", "key",        "key_file",
                                           "poll_interval", "timeout", "energy_format", "temp_step"};
// Target temperature steps a Midea unit can be offered: the wire carries half degrees.
constexpr double kMideaTempSteps[] = {0.5, 1.0};
constexpr midea::EnergyFormat kMideaEnergyFormats[] = {
    midea::EnergyFormat::bcd, midea::EnergyFormat::binary, midea::EnergyFormat::mixed,
    midea::EnergyFormat::binary_centi, midea::EnergyFormat::bcd_energy_binary_power};
constexpr std::string_view kXiaomiBleKeys[] = {"protocol",   "mac",   "bindkey",   "bindkey_file",
                                               "product_id", "token", "token_file"};
constexpr std::string_view kMiotKeys[] = {"switch",  "power",   "energy",
                                          "voltage", "current", "temperature"};
constexpr std::string_view kMiotPropertyKeys[] = {"siid", "piid", "scale"};
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warning", "error"};
constexpr std::string_view kOutputModes[] = {"json", "attribute", "both"};

std::string join(std::span<const std::string_view> words, std::string_view separator) {
  std::string out;
  for (const std::string_view word : words) {
    if (!out.empty()) out += separator;
    out += word;
  }
  return out;
}

// User text quoted back in a message (keys, protocol names, yaml-cpp's own messages): printable
// ASCII as is, everything else as \xNN, cut at `limit`, so that a binary file gives a readable line.
std::string shown(std::string_view text, std::size_t limit = kMaxShownChars) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == limit) {
      out += "...";
      break;
    }
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\') {
      out.push_back(text[i]);
      continue;
    }
    out += "\\x";
    out.push_back(kDigits[byte >> 4]);
    out.push_back(kDigits[byte & 0x0f]);
  }
  return out;
}

std::string size_text(std::size_t bytes) {
  if (bytes % (1024 * 1024) == 0) return std::to_string(bytes / (1024 * 1024)) + " MiB";
  return std::to_string(bytes / 1024) + " KiB";
}

std::string duration_text(milliseconds duration) {
  if (duration.count() % 1000 == 0) return std::to_string(duration.count() / 1000) + "s";
  return std::to_string(duration.count()) + "ms";
}

std::string lower_case(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

// Closes the descriptor on every return path of read_small_file.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Opens a regular file for reading. Non-blocking, because a FIFO or a device named by mistake
// (token_file: /dev/stdin) would otherwise hang the daemon's start-up; on a regular file the flag
// changes nothing. The error is a reason without the path (callers know how to say which file).
Result<std::string> read_small_file(const std::string& path, std::size_t max_bytes) {
  if (path.find('\0') != std::string::npos) return parse_error("the file name contains a NUL byte");
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) return parse_error(std::strerror(errno));
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return parse_error(std::strerror(errno));
  if (S_ISDIR(info.st_mode)) return parse_error(std::strerror(EISDIR));
  if (!S_ISREG(info.st_mode)) return parse_error("not a regular file");
  if (static_cast<std::uint64_t>(info.st_size) > max_bytes) {
    return parse_error("larger than " + size_text(max_bytes));
  }
  std::string content;
  char buffer[4096];
  while (true) {
    const ssize_t count = ::read(fd.get(), buffer, sizeof buffer);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return parse_error(std::strerror(errno));
    if (count == 0) return content;
    content.append(buffer, static_cast<std::size_t>(count));
    // st_size is 0 for /proc and sysfs files, so the limit is enforced on what is read too.
    if (content.size() > max_bytes) return parse_error("larger than " + size_text(max_bytes));
  }
}

std::string_view trim_whitespace(std::string_view text) {
  static constexpr std::string_view kWhitespace = " \t\r\n";
  const std::size_t first = text.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  const std::size_t last = text.find_last_not_of(kWhitespace);
  return text.substr(first, last - first + 1);
}

// Passwords may end in spaces; only the line end an editor or `echo` adds is not part of them.
std::string without_trailing_newlines(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

Result<std::string> parse_hex_of_lengths(std::string_view text,
                                         std::initializer_list<std::size_t> lengths) {
  for (const std::size_t length : lengths) {
    if (text.size() != length) continue;
    return parse_hex_secret(text, length);
  }
  std::string expected = "expected ";
  bool first = true;
  for (const std::size_t length : lengths) {
    if (!first) expected += " or ";
    expected += std::to_string(length);
    first = false;
  }
  return parse_error(expected + " hex digits");
}

int line_of(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

std::string kind_of(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a single value";
    default:
      return "an empty value";
  }
}

// One key of a YAML map and its value, with what a message needs to point at them.
struct Field {
  std::string name;  // the key as written
  std::string path;  // dotted, printable: "devices.desk_plug.token"
  YAML::Node value;
  int key_line = 0;

  // The value's own line, except for an empty value: yaml-cpp marks a null where the next token
  // starts, which may be the next key's line.
  int line() const {
    const int value_line = line_of(value);
    return value.IsNull() || value_line == 0 ? key_line : value_line;
  }
};

using Fields = std::map<std::string, Field, std::less<>>;

const Field* find(const Fields& fields, std::string_view key) {
  const auto it = fields.find(key);
  return it == fields.end() ? nullptr : &it->second;
}

std::string child_path(const std::string& parent, std::string_view key) {
  return parent.empty() ? shown(key) : parent + "." + shown(key);
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

struct Problem {
  int line = 0;
  std::string path;  // empty for problems of the document as a whole
  std::string what;
};

// The first device that claimed an address, for "same … as device 'x' (line N)".
struct Claim {
  std::string device;
  int line = 0;
};

class Loader {
 public:
  Loader(std::string name, std::string base_dir)
      : name_(std::move(name)), base_dir_(std::move(base_dir)) {}

  LoadResult load(const std::string& text);

 private:
  void problem(int line, std::string path, std::string what) {
    problems_.push_back(Problem{line, std::move(path), std::move(what)});
  }
  std::string resolve(const std::string& path) const {
    if (base_dir_.empty() || path.empty() || path.front() == '/') return path;
    return base_dir_ + "/" + path;
  }

  std::optional<std::string> check_documents(const std::string& text);
  std::vector<Field> entries(const YAML::Node& map, const std::string& path);
  Fields select(std::vector<Field> entries, std::span<const std::string_view> allowed,
                std::string_view owner);
  Fields fields_of(const Field& section, std::span<const std::string_view> allowed,
                   std::string_view owner);
  bool require(const Fields& fields, std::string_view key, const Field& owner,
               std::string_view alternative = {});

  std::optional<std::string> read_text(const Field& field);
  std::optional<std::string> read_nonempty(const Field& field);
  std::optional<std::string> read_choice(const Field& field,
                                         std::span<const std::string_view> choices);
  std::optional<std::int64_t> read_integer(const Field& field, std::int64_t min, std::int64_t max);
  std::optional<std::uint64_t> read_unsigned64(const Field& field);
  std::optional<double> read_number(const Field& field);
  std::optional<bool> read_bool(const Field& field);
  std::optional<milliseconds> read_duration(const Field& field, milliseconds min,
                                            std::optional<milliseconds> max = std::nullopt);
  std::optional<std::chrono::seconds> read_seconds(const Field& field, std::chrono::seconds min,
                                                   std::chrono::seconds max);
  std::optional<std::string> read_host(const Field& field);
  std::optional<std::string> read_readable_file(const Field& field);
  std::optional<std::string> read_secret_file(const Field& field);
  std::optional<std::string> read_hex_secret(const Fields& fields, std::string_view inline_key,
                                             std::string_view file_key,
                                             std::initializer_list<std::size_t> lengths);
  void claim(std::map<std::string, Claim>& claims, const std::string& address,
             const Field& field, const std::string& device, std::string_view what);

  void load_root(const YAML::Node& root);
  void load_mqtt(const Field* section);
  void load_mqtt_password(const Fields& fields, const Field* section);
  void load_ble(const Field& section);
  void load_devices(const Field& section);
  void load_device(const Field& entry);
  void load_miio(const Fields& fields, const Field& entry, MiioDeviceConfig& miio);
  std::optional<MiotMapping> load_miot(const Field& section);
  std::optional<MiotProperty> load_miot_property(const Field& field);
  void load_midea(const Fields& fields, const Field& entry, MideaDeviceConfig& midea);
  void load_xiaomi_ble(const Fields& fields, const Field& entry, BleDeviceConfig& ble);

  std::string name_;
  std::string base_dir_;  // relative file names are relative to the config file's directory
  std::vector<Problem> problems_;
  Config config_;
  std::map<std::string, Claim> miio_endpoints_;  // "host:port", host in lower case
  std::map<std::string, Claim> midea_ids_;
  std::map<std::string, Claim> ble_macs_;
};

// The keys of a map in document order. Non-name keys and repeated keys are reported here (yaml-cpp
// keeps both copies of a repeated key, and silently using either one would hide a mistake).
std::vector<Field> Loader::entries(const YAML::Node& map, const std::string& path) {
  std::vector<Field> out;
  std::map<std::string, int> first_lines;
  for (auto it = map.begin(); it != map.end(); ++it) {
    Field field;
    field.value = it->second;
    field.key_line = line_of(it->first);
    if (field.key_line == 0) field.key_line = line_of(map);
    if (!it->first.IsScalar()) {
      problem(field.key_line, path, "expected a name as key, not " + kind_of(it->first));
      continue;
    }
    field.name = it->first.Scalar();
    field.path = child_path(path, field.name);
    const auto [first, inserted] = first_lines.emplace(field.name, field.key_line);
    if (!inserted) {
      problem(field.key_line, field.path,
              "duplicate key (first at line " + std::to_string(first->second) + ")");
      continue;
    }
    out.push_back(std::move(field));
  }
  return out;
}

Fields Loader::select(std::vector<Field> entries, std::span<const std::string_view> allowed,
                      std::string_view owner) {
  Fields fields;
  for (Field& field : entries) {
    if (std::find(allowed.begin(), allowed.end(), field.name) == allowed.end()) {
      problem(field.key_line, field.path,
              "unknown key" + std::string(owner) + " (valid: " + join(allowed, ", ") + ")");
      continue;
    }
    std::string name = field.name;
    fields.emplace(std::move(name), std::move(field));
  }
  return fields;
}

// The keys of a section that must be a map; a null section (`ble:` alone) is an empty one.
Fields Loader::fields_of(const Field& section, std::span<const std::string_view> allowed,
                         std::string_view owner) {
  if (section.value.IsNull()) return {};
  if (!section.value.IsMap()) {
    problem(section.line(), section.path,
            "expected a map (" + join(allowed, ", ") + "), not " + kind_of(section.value));
    return {};
  }
  return select(entries(section.value, section.path), allowed, owner);
}

bool Loader::require(const Fields& fields, std::string_view key, const Field& owner,
                     std::string_view alternative) {
  if (find(fields, key) != nullptr) return true;
  if (!alternative.empty() && find(fields, alternative) != nullptr) return true;
  std::string what = "missing required key '" + std::string(key) + "'";
  if (!alternative.empty()) what += " (or '" + std::string(alternative) + "')";
  problem(owner.key_line, owner.path, std::move(what));
  return false;
}

std::optional<std::string> Loader::read_text(const Field& field) {
  if (field.value.IsScalar()) return field.value.Scalar();
  if (field.value.IsNull()) {
    problem(field.line(), field.path, "missing value");
  } else {
    problem(field.line(), field.path, "expected a single value, not " + kind_of(field.value));
  }
  return std::nullopt;
}

std::optional<std::string> Loader::read_nonempty(const Field& field) {
  std::optional<std::string> text = read_text(field);
  if (text && text->empty()) {
    problem(field.line(), field.path, "must not be empty");
    return std::nullopt;
  }
  return text;
}

std::optional<std::string> Loader::read_choice(const Field& field,
                                               std::span<const std::string_view> choices) {
  std::optional<std::string> text = read_text(field);
  if (!text) return std::nullopt;
  if (std::find(choices.begin(), choices.end(), *text) != choices.end()) return text;
  problem(field.line(), field.path, "must be one of " + join(choices, ", "));
  return std::nullopt;
}

std::optional<std::int64_t> Loader::read_integer(const Field& field, std::int64_t min,
                                                 std::int64_t max) {
  const std::optional<std::string> text = read_text(field);
  if (!text) return std::nullopt;
  std::int64_t value = 0;
  const char* end = text->data() + text->size();
  const auto [stop, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc() || stop != end || value < min || value > max) {
    problem(field.line(), field.path,
            "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max));
    return std::nullopt;
  }
  return value;
}

std::optional<std::uint64_t> Loader::read_unsigned64(const Field& field) {
  const std::optional<std::string> text = read_text(field);
  if (!text) return std::nullopt;
  std::uint64_t value = 0;
  const char* end = text->data() + text->size();
  const auto [stop, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc() || stop != end || value == 0) {
    problem(field.line(), field.path, "expected a whole number from 1 to 18446744073709551615");
    return std::nullopt;
  }
  return value;
}

std::optional<double> Loader::read_number(const Field& field) {
  const std::optional<std::string> text = read_text(field);
  if (!text) return std::nullopt;
  double value = 0;
  const char* end = text->data() + text->size();
  const auto [stop, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc() || stop != end || !std::isfinite(value)) {
    problem(field.line(), field.path, "expected a number");
    return std::nullopt;
  }
  return value;
}

std::optional<bool> Loader::read_bool(const Field& field) {
  const std::optional<std::string> text = read_text(field);
  if (!text) return std::nullopt;
  // YAML 1.1's spellings as well as 1.2's: users copy both from other projects' examples.
  const std::string word = lower_case(*text);
  if (word == "true" || word == "yes" || word == "on") return true;
  if (word == "false" || word == "no" || word == "off") return false;
  problem(field.line(), field.path, "expected true or false");
  return std::nullopt;
}

std::optional<milliseconds> Loader::read_duration(const Field& field, milliseconds min,
                                                  std::optional<milliseconds> max) {
  const std::optional<std::string> text = read_text(field);
  if (!text) return std::nullopt;
  const Result<milliseconds> duration = parse_duration(*text);
  if (!duration) {
    problem(field.line(), field.path, duration.error().what);
    return std::nullopt;
  }
  if (*duration < min || (max && *duration > *max)) {
    problem(field.line(), field.path,
            max ? "must be from " + duration_text(min) + " to " + duration_text(*max)
                : "must be at least " + duration_text(min));
    return std::nullopt;
  }
  return *duration;
}

std::optional<std::chrono::seconds> Loader::read_seconds(const Field& field,
                                                         std::chrono::seconds min,
                                                         std::chrono::seconds max) {
  const std::optional<milliseconds> duration = read_duration(field, min, max);
  if (!duration) return std::nullopt;
  if (duration->count() % 1000 != 0) {
    problem(field.line(), field.path, "must be a whole number of seconds");
    return std::nullopt;
  }
  return std::chrono::duration_cast<std::chrono::seconds>(*duration);
}

std::optional<std::string> Loader::read_host(const Field& field) {
  std::optional<std::string> host = read_nonempty(field);
  if (!host) return std::nullopt;
  if (!is_ipv4_address(*host) && !is_host_name(*host)) {
    problem(field.line(), field.path, "expected an IPv4 address or a host name");
    return std::nullopt;
  }
  return host;
}

// A file the MQTT library opens later (CA, certificate, key): checked now, so that a typo fails
// `check-config` instead of the first TLS handshake. Returns the resolved name.
std::optional<std::string> Loader::read_readable_file(const Field& field) {
  const std::optional<std::string> name = read_nonempty(field);
  if (!name) return std::nullopt;
  const std::string path = resolve(*name);
  // The content is not kept; the size limit only guards against reading a device forever.
  const Result<std::string> content = read_small_file(path, 16 * 1024 * 1024);
  if (!content) {
    problem(field.line(), field.path, "cannot read " + shown(path, 256) + ": " + content.error().what);
    return std::nullopt;
  }
  return path;
}

std::optional<std::string> Loader::read_secret_file(const Field& field) {
  const std::optional<std::string> name = read_nonempty(field);
  if (!name) return std::nullopt;
  const std::string path = resolve(*name);
  Result<std::string> content = read_small_file(path, kMaxSecretFileBytes);
  if (!content) {
    problem(field.line(), field.path, "cannot read " + shown(path, 256) + ": " + content.error().what);
    return std::nullopt;
  }
  return std::move(content).value();
}

// `token` or `token_file` (at most one), as lower-case hex; nullopt when neither is given or the
// one given is wrong (reported). The value is never quoted back: it is a secret.
std::optional<std::string> Loader::read_hex_secret(const Fields& fields,
                                                   std::string_view inline_key,
                                                   std::string_view file_key,
                                                   std::initializer_list<std::size_t> lengths) {
  const Field* inline_field = find(fields, inline_key);
  const Field* file_field = find(fields, file_key);
  if (inline_field != nullptr && file_field != nullptr) {
    problem(file_field->line(), file_field->path,
            "give either " + std::string(inline_key) + " or " + std::string(file_key) +
                ", not both");
    return std::nullopt;
  }
  if (inline_field != nullptr) {
    const std::optional<std::string> text = read_text(*inline_field);
    if (!text) return std::nullopt;
    Result<std::string> hex = parse_hex_of_lengths(*text, lengths);
    if (!hex) {
      problem(inline_field->line(), inline_field->path, hex.error().what);
      return std::nullopt;
    }
    return std::move(hex).value();
  }
  if (file_field != nullptr) {
    const std::optional<std::string> content = read_secret_file(*file_field);
    if (!content) return std::nullopt;
    Result<std::string> hex = parse_hex_of_lengths(trim_whitespace(*content), lengths);
    if (!hex) {
      const std::string what = hex.error().what;  // "expected 32 hex digits"
      problem(file_field->line(), file_field->path,
              "the file does not hold " + what.substr(std::string_view("expected ").size()));
      return std::nullopt;
    }
    return std::move(hex).value();
  }
  return std::nullopt;
}

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

void Loader::claim(std::map<std::string, Claim>& claims, const std::string& address,
                   const Field& field, const std::string& device, std::string_view what) {
  const auto [first, inserted] = claims.emplace(address, Claim{device, field.line()});
  if (inserted) return;
  problem(field.line(), field.path,
          "same " + std::string(what) + " as device '" + shown(first->second.device) + "' (line " +
              std::to_string(first->second.line) + ")");
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
  if (*protocol == "miio") {
    MiioDeviceConfig miio;
    load_miio(select(std::move(all), kMiioKeys, " for a miio device"), entry, miio);
    device.settings = std::move(miio);
  } else if (*protocol == "midea") {
    MideaDeviceConfig midea;
    load_midea(select(std::move(all), kMideaKeys, " for a midea device"), entry, midea);
    device.settings = std::move(midea);
  } else if (*protocol == "xiaomi_ble") {
    BleDeviceConfig ble;
    load_xiaomi_ble(select(std::move(all), kXiaomiBleKeys, " for a xiaomi_ble device"), entry, ble);
    device.settings = std::move(ble);
  } else {
    // The other keys are not checked: which ones are valid depends on the protocol meant.
    problem(protocol_field->line(), protocol_field->path,
            "unknown protocol '" + shown(*protocol) + "' (valid: miio, midea, xiaomi_ble)");
    return;
  }
  config_.devices.push_back(std::move(device));
}

void Loader::load_miio(const Fields& fields, const Field& entry, MiioDeviceConfig& miio) {
  const Field* host_field = find(fields, "host");
  std::optional<std::string> host;
  if (require(fields, "host", entry)) host = read_host(*host_field);
  if (host) miio.host = *host;
  bool port_known = true;
  if (const Field* field = find(fields, "port")) {
    const auto port = read_integer(*field, 1, 65535);
    if (port) miio.port = static_cast<std::uint16_t>(*port);
    port_known = port.has_value();
  }
  if (host && port_known) {
    claim(miio_endpoints_, lower_case(*host) + ":" + std::to_string(miio.port), *host_field,
          entry.name, "host and port");
  }

  if (require(fields, "token", entry, "token_file")) {
    if (auto token = read_hex_secret(fields, "token", "token_file", {32})) miio.token_hex = *token;
  }
  if (const Field* field = find(fields, "model")) {
    if (const std::optional<std::string> model = read_text(*field)) {
      if (is_miio_model(*model)) {
        miio.model = *model;
      } else {
        problem(field->line(), field->path, "expected a model name like chuangmi.plug.v3");
      }
    }
  }
  if (const Field* field = find(fields, "poll_interval")) {
    if (const auto interval = read_duration(*field, 1s)) miio.poll_interval = *interval;
  }
  if (const Field* field = find(fields, "timeout")) {
    // Below ~100 ms a LAN round trip plus the plug's own latency (tens of ms on ESP32 plugs) fails.
    if (const auto timeout = read_duration(*field, 100ms)) miio.timeout = *timeout;
  }
  if (const Field* field = find(fields, "retries")) {
    if (const auto retries = read_integer(*field, 0, 10)) miio.retries = static_cast<int>(*retries);
  }
  if (const Field* field = find(fields, "miot")) miio.miot = load_miot(*field);
}

std::optional<MiotMapping> Loader::load_miot(const Field& section) {
  if (!section.value.IsMap()) {
    problem(section.line(), section.path,
            "expected a map of " + join(kMiotKeys, ", ") + " to {siid, piid, scale}, not " +
                kind_of(section.value));
    return std::nullopt;
  }
  const Fields fields = select(entries(section.value, section.path), kMiotKeys, " in miot");
  MiotMapping mapping;
  const std::pair<std::string_view, std::optional<MiotProperty>*> targets[] = {
      {"switch", &mapping.switch_}, {"power", &mapping.power},     {"energy", &mapping.energy},
      {"voltage", &mapping.voltage}, {"current", &mapping.current}, {"temperature", &mapping.temperature}};
  for (const auto& [key, target] : targets) {
    if (const Field* field = find(fields, key)) *target = load_miot_property(*field);
  }
  return mapping;
}

std::optional<MiotProperty> Loader::load_miot_property(const Field& field) {
  if (!field.value.IsMap()) {
    problem(field.line(), field.path,
            "expected a map {siid, piid, scale}, not " + kind_of(field.value));
    return std::nullopt;
  }
  const Fields fields = select(entries(field.value, field.path), kMiotPropertyKeys, " in a MIoT property");
  MiotProperty property;
  bool complete = true;
  for (const auto& [key, target] : {std::pair{"siid", &property.siid}, std::pair{"piid", &property.piid}}) {
    const Field* part = find(fields, key);
    if (!require(fields, key, field)) {
      complete = false;
      continue;
    }
    const auto value = read_integer(*part, 1, 255);
    if (value) *target = static_cast<int>(*value);
    complete = complete && value.has_value();
  }
  if (const Field* part = find(fields, "scale")) {
    const std::optional<double> scale = read_number(*part);
    if (scale && *scale == 0) problem(part->line(), part->path, "must not be 0");
    if (scale && *scale != 0) property.scale = *scale;
  }
  if (!complete) return std::nullopt;
  return property;
}

void Loader::load_midea(const Fields& fields, const Field& entry, MideaDeviceConfig& midea) {
  if (require(fields, "host", entry)) {
    if (const auto host = read_host(*find(fields, "host"))) midea.host = *host;
  }
  if (const Field* field = find(fields, "port")) {
    if (const auto port = read_integer(*field, 1, 65535)) midea.port = static_cast<std::uint16_t>(*port);
  }
  if (require(fields, "id", entry)) {
    const Field* field = find(fields, "id");
    if (const auto id = read_unsigned64(*field)) {
      midea.appliance_id = *id;
      claim(midea_ids_, std::to_string(*id), *field, entry.name, "appliance id");
    }
  }

  // V3 appliances need both token and key; V1/V2 ones need neither.
  const bool has_token = find(fields, "token") || find(fields, "token_file");
  const bool has_key = find(fields, "key") || find(fields, "key_file");
  if (has_token != has_key) {
    problem(entry.key_line, entry.path,
            has_token ? "token given without key (V3 appliances need both, older ones neither)"
                      : "key given without token (V3 appliances need both, older ones neither)");
  }
  if (auto token = read_hex_secret(fields, "token", "token_file", {128})) midea.token_hex = *token;
  if (auto key = read_hex_secret(fields, "key", "key_file", {64})) midea.key_hex = *key;

  if (const Field* field = find(fields, "poll_interval")) {
    if (const auto interval = read_duration(*field, 1s)) midea.poll_interval = *interval;
  }
  if (const Field* field = find(fields, "timeout")) {
    // Below ~100 ms a LAN round trip plus the Wi-Fi module's own latency fails.
    if (const auto timeout = read_duration(*field, 100ms)) midea.timeout = *timeout;
  }
  if (const Field* field = find(fields, "energy_format")) {
    if (const auto name = read_text(*field)) {
      if (const auto format = midea::energy_format_from_name(*name)) {
        midea.energy_format = *format;
      } else {
        std::string valid;
        for (const midea::EnergyFormat known : kMideaEnergyFormats) {
          if (!valid.empty()) valid += ", ";
          valid += midea::energy_format_name(known);
        }
        problem(field->line(), field->path, "must be one of " + valid);
      }
    }
  }
  if (const Field* field = find(fields, "temp_step")) {
    if (const auto step = read_number(*field)) {
      if (std::find(std::begin(kMideaTempSteps), std::end(kMideaTempSteps), *step) != std::end(kMideaTempSteps)) {
        midea.temp_step = *step;
      } else {
        problem(field->line(), field->path, "must be 0.5 or 1 (°C)");
      }
    }
  }
}

void Loader::load_xiaomi_ble(const Fields& fields, const Field& entry, BleDeviceConfig& ble) {
  if (require(fields, "mac", entry)) {
    const Field* field = find(fields, "mac");
    if (const std::optional<std::string> text = read_text(*field)) {
      Result<std::string> mac = parse_mac(*text);
      if (mac) {
        ble.mac = mac.value();
        claim(ble_macs_, ble.mac, *field, entry.name, "MAC");
      } else {
        problem(field->line(), field->path, mac.error().what);
      }
    }
  }
  // 32 digits for MiBeacon v4/v5 (AES-CCM); 24 for the legacy v2/v3 beacons, whose key is 12 bytes.
  if (auto bindkey = read_hex_secret(fields, "bindkey", "bindkey_file", {32, 24})) {
    ble.bindkey_hex = *bindkey;
  }
  if (const Field* field = find(fields, "product_id")) {
    if (const auto id = read_integer(*field, 0, 65535)) ble.product_id = static_cast<int>(*id);
  }
  if (auto token = read_hex_secret(fields, "token", "token_file", {24})) ble.token_hex = *token;
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
