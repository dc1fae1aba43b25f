// Result<T>: a value or a ParseError{what, offset}. Codecs return it instead of throwing, because
// every byte they read comes from the network. No std::expected before C++23; the names follow it
// (has_value / value / error) so switching later is mechanical.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <variant>

namespace cloudless {

// Most errors mean "not a valid packet"; a failed checksum/MIC/signature under our key means
// "valid packet, wrong key", which users need told apart ("check your token").
enum class ErrorKind { malformed, authentication };

struct ParseError {
  std::string what;          // human sentence, e.g. "bad magic 0x2132"
  std::size_t offset = 0;    // byte offset where the problem was found
  ErrorKind kind = ErrorKind::malformed;

  std::string describe() const { return what + " (at byte " + std::to_string(offset) + ")"; }
};

template <typename T>
class Result {
 public:
  Result(T value) : storage_(std::move(value)) {}                 // NOLINT: implicit on purpose
  Result(ParseError error) : storage_(std::move(error)) {}        // NOLINT: implicit on purpose

  bool has_value() const { return storage_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(storage_); }
  const T& value() const& { return std::get<0>(storage_); }
  T&& value() && { return std::get<0>(std::move(storage_)); }
  const ParseError& error() const { return std::get<1>(storage_); }

  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, ParseError> storage_;
};

inline ParseError parse_error(std::string what, std::size_t offset = 0) {
  return ParseError{std::move(what), offset, ErrorKind::malformed};
}

inline ParseError authentication_error(std::string what, std::size_t offset = 0) {
  return ParseError{std::move(what), offset, ErrorKind::authentication};
}

}  // namespace cloudless
