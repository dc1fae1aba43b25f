#include "protocols/mihome_backup/byte_stream.h"

#include <algorithm>
#include <cstring>

namespace cloudless::mihome_backup {

Result<std::size_t> MemoryStream::read(std::span<std::uint8_t> out) {
  const std::size_t count = std::min(out.size(), data_.size() - offset_);
  if (count > 0) std::memcpy(out.data(), data_.data() + offset_, count);
  offset_ += count;
  return count;
}

}  // namespace cloudless::mihome_backup
