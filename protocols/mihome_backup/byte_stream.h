// A pull source of bytes, so that a backup of hundreds of megabytes is decrypted, inflated and
// un-tarred chunk by chunk instead of being held whole in memory at every stage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "protocols/common/bytes.h"
#include "protocols/common/result.h"

namespace cloudless::mihome_backup {

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Fills the front of `out`; returns how many bytes, 0 only at the end. An error is final: the
  // stream must not be read again after one.
  virtual Result<std::size_t> read(std::span<std::uint8_t> out) = 0;
};

// Bytes already in memory (a mapped file, a test vector). `data` must outlive the stream.
class MemoryStream final : public ByteStream {
 public:
  explicit MemoryStream(ByteView data) : data_(data) {}
  Result<std::size_t> read(std::span<std::uint8_t> out) override;

 private:
  ByteView data_;
  std::size_t offset_ = 0;
};

}  // namespace cloudless::mihome_backup
