// The shared part of loading the YAML configuration: each key with its path and line, the list of
// problems, and the value readers every section uses (each reports its own problem and returns
// nullopt, so that `check-config` lists every mistake in one run). config.cpp walks the document
// and the daemon's own sections; each protocol's device section is a file of its own
// (config/<protocol>_section.cpp), found through config/device_sections.h.
// Internal to the config library: its users see config/config.h.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "protocols/common/result.h"

namespace cloudless::config {

constexpr std::size_t kMaxShownChars = 64;
// Token, key and password files hold a line; anything bigger is the wrong file.
constexpr std::size_t kMaxSecretFileBytes = 64 * 1024;

std::string join(std::span<const std::string_view> words, std::string_view separator);
// User text quoted back in a message (keys, protocol names, yaml-cpp's own messages): printable
// ASCII as is, everything else as \xNN, cut at `limit`, so that a binary file gives a readable line.
std::string shown(std::string_view text, std::size_t limit = kMaxShownChars);
std::string size_text(std::size_t bytes);
std::string lower_case(std::string text);
// A regular file of at most `max_bytes`, opened without blocking (a FIFO named by mistake must not
// hang the start-up). The error is a reason without the path.
Result<std::string> read_small_file(const std::string& path, std::size_t max_bytes);
std::string_view trim_whitespace(std::string_view text);
int line_of(const YAML::Node& node);
std::string kind_of(const YAML::Node& node);  // "a map", "a list", "a single value", "an empty value"

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

const Field* find(const Fields& fields, std::string_view key);

struct Problem {
  int line = 0;
  std::string path;  // empty for problems of the document as a whole
  std::string what;
};

class Reader {
 public:
  Reader(std::string name, std::string base_dir) : name_(std::move(name)), base_dir_(std::move(base_dir)) {}

  void problem(int line, std::string path, std::string what) {
    problems_.push_back(Problem{line, std::move(path), std::move(what)});
  }
  // Relative file names are relative to the config file's directory.
  std::string resolve(const std::string& path) const {
    if (base_dir_.empty() || path.empty() || path.front() == '/') return path;
    return base_dir_ + "/" + path;
  }

  std::vector<Field> entries(const YAML::Node& map, const std::string& path);
  // The entries whose keys are `allowed`; the others are reported as unknown "<owner>".
  Fields select(std::vector<Field> entries, std::span<const std::string_view> allowed, std::string_view owner);
  Fields fields_of(const Field& section, std::span<const std::string_view> allowed, std::string_view owner);
  bool require(const Fields& fields, std::string_view key, const Field& owner, std::string_view alternative = {});

  std::optional<std::string> read_text(const Field& field);
  std::optional<std::string> read_nonempty(const Field& field);
  std::optional<std::string> read_choice(const Field& field, std::span<const std::string_view> choices);
  std::optional<std::int64_t> read_integer(const Field& field, std::int64_t min, std::int64_t max);
  std::optional<std::uint64_t> read_unsigned64(const Field& field);
  std::optional<double> read_number(const Field& field);
  std::optional<bool> read_bool(const Field& field);
  std::optional<std::chrono::milliseconds> read_duration(const Field& field, std::chrono::milliseconds min,
                                                         std::optional<std::chrono::milliseconds> max = std::nullopt);
  std::optional<std::chrono::seconds> read_seconds(const Field& field, std::chrono::seconds min,
                                                   std::chrono::seconds max);
  std::optional<std::string> read_host(const Field& field);
  std::optional<std::string> read_readable_file(const Field& field);
  std::optional<std::string> read_secret_file(const Field& field);
  std::optional<std::string> read_hex_secret(const Fields& fields, std::string_view inline_key,
                                             std::string_view file_key, std::initializer_list<std::size_t> lengths);
  // `device` uses `address` (a host and port, an appliance id, a MAC) among the `space` of its
  // protocol; a second device claiming the same is reported: "same <what> as device 'x' (line N)".
  void claim(std::string_view space, const std::string& address, const Field& field, const std::string& device,
             std::string_view what);

 protected:
  std::string name_;
  std::string base_dir_;
  std::vector<Problem> problems_;

 private:
  // The first device that claimed an address.
  struct Claim {
    std::string device;
    int line = 0;
  };
  std::map<std::string, std::map<std::string, Claim>, std::less<>> claims_;
};

}  // namespace cloudless::config
