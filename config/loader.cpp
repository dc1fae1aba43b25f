#include "config/loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

#include "config/values.h"

namespace cloudless::config {

namespace {

std::string duration_text(std::chrono::milliseconds duration) {
  if (duration.count() % 1000 == 0) return std::to_string(duration.count() / 1000) + "s";
  return std::to_string(duration.count()) + "ms";
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

std::string child_path(const std::string& parent, std::string_view key) {
  return parent.empty() ? shown(key) : parent + "." + shown(key);
}

}  // namespace

std::string join(std::span<const std::string_view> words, std::string_view separator) {
  std::string out;
  for (const std::string_view word : words) {
    if (!out.empty()) out += separator;
    out += word;
  }
  return out;
}

std::string shown(std::string_view text, std::size_t limit) {
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

std::string lower_case(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

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

const Field* find(const Fields& fields, std::string_view key) {
  const auto it = fields.find(key);
  return it == fields.end() ? nullptr : &it->second;
}

// The keys of a map in document order. Non-name keys and repeated keys are reported here (yaml-cpp
// keeps both copies of a repeated key, and silently using either one would hide a mistake).
std::vector<Field> Reader::entries(const YAML::Node& map, const std::string& path) {
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

Fields Reader::select(std::vector<Field> entries, std::span<const std::string_view> allowed,
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
Fields Reader::fields_of(const Field& section, std::span<const std::string_view> allowed,
                         std::string_view owner) {
  if (section.value.IsNull()) return {};
  if (!section.value.IsMap()) {
    problem(section.line(), section.path,
            "expected a map (" + join(allowed, ", ") + "), not " + kind_of(section.value));
    return {};
  }
  return select(entries(section.value, section.path), allowed, owner);
}

bool Reader::require(const Fields& fields, std::string_view key, const Field& owner,
                     std::string_view alternative) {
  if (find(fields, key) != nullptr) return true;
  if (!alternative.empty() && find(fields, alternative) != nullptr) return true;
  std::string what = "missing required key '" + std::string(key) + "'";
  if (!alternative.empty()) what += " (or '" + std::string(alternative) + "')";
  problem(owner.key_line, owner.path, std::move(what));
  return false;
}

std::optional<std::string> Reader::read_text(const Field& field) {
  if (field.value.IsScalar()) return field.value.Scalar();
  if (field.value.IsNull()) {
    problem(field.line(), field.path, "missing value");
  } else {
    problem(field.line(), field.path, "expected a single value, not " + kind_of(field.value));
  }
  return std::nullopt;
}

std::optional<std::string> Reader::read_nonempty(const Field& field) {
  std::optional<std::string> text = read_text(field);
  if (text && text->empty()) {
    problem(field.line(), field.path, "must not be empty");
    return std::nullopt;
  }
  return text;
}

std::optional<std::string> Reader::read_choice(const Field& field,
                                               std::span<const std::string_view> choices) {
  std::optional<std::string> text = read_text(field);
  if (!text) return std::nullopt;
  if (std::find(choices.begin(), choices.end(), *text) != choices.end()) return text;
  problem(field.line(), field.path, "must be one of " + join(choices, ", "));
  return std::nullopt;
}

std::optional<std::int64_t> Reader::read_integer(const Field& field, std::int64_t min,
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

std::optional<std::uint64_t> Reader::read_unsigned64(const Field& field) {
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

std::optional<double> Reader::read_number(const Field& field) {
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

std::optional<bool> Reader::read_bool(const Field& field) {
  const std::optional<std::string> text = read_text(field);
  if (!text) return std::nullopt;
  // YAML 1.1's spellings as well as 1.2's: users copy both from other projects' examples.
  const std::string word = lower_case(*text);
  if (word == "true" || word == "yes" || word == "on") return true;
  if (word == "false" || word == "no" || word == "off") return false;
  problem(field.line(), field.path, "expected true or false");
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> Reader::read_duration(const Field& field, std::chrono::milliseconds min,
                                                               std::optional<std::chrono::milliseconds> max) {
  const std::optional<std::string> text = read_text(field);
  if (!text) return std::nullopt;
  const Result<std::chrono::milliseconds> duration = parse_duration(*text);
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

std::optional<std::chrono::seconds> Reader::read_seconds(const Field& field,
                                                         std::chrono::seconds min,
                                                         std::chrono::seconds max) {
  const std::optional<std::chrono::milliseconds> duration = read_duration(field, min, max);
  if (!duration) return std::nullopt;
  if (duration->count() % 1000 != 0) {
    problem(field.line(), field.path, "must be a whole number of seconds");
    return std::nullopt;
  }
  return std::chrono::duration_cast<std::chrono::seconds>(*duration);
}

std::optional<std::string> Reader::read_host(const Field& field) {
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
std::optional<std::string> Reader::read_readable_file(const Field& field) {
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

std::optional<std::string> Reader::read_secret_file(const Field& field) {
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
std::optional<std::string> Reader::read_hex_secret(const Fields& fields,
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

void Reader::claim(std::string_view space, const std::string& address, const Field& field,
                   const std::string& device, std::string_view what) {
  auto claims = claims_.find(space);
  if (claims == claims_.end()) claims = claims_.emplace(std::string(space), std::map<std::string, Claim>{}).first;
  const auto [first, inserted] = claims->second.emplace(address, Claim{device, field.line()});
  if (inserted) return;
  problem(field.line(), field.path,
          "same " + std::string(what) + " as device '" + shown(first->second.device) + "' (line " +
              std::to_string(first->second.line) + ")");
}

}  // namespace cloudless::config
