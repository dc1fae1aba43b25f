// Picks named members out of a tar archive (libarchive) read from a stream. The whole archive is read,
// to its end and past it to the end of the stream, so that a truncated or corrupt backup is reported
// even when the members we want came early.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/bytes.h"
#include "protocols/common/result.h"
#include "protocols/mihome_backup/byte_stream.h"

namespace cloudless::mihome_backup {

struct TarMember {
  std::string path;  // as in `wanted`
  Bytes data;
};

// A Mi Home database is a few megabytes; anything this large is not one.
inline constexpr std::size_t kDefaultMaxMemberBytes = 512u << 20;

// The regular-file members whose path (a leading "./" ignored) is in `wanted`, in archive order.
Result<std::vector<TarMember>> read_tar_members(ByteStream& stream, std::span<const std::string_view> wanted,
                                                std::size_t max_member_bytes = kDefaultMaxMemberBytes);

// ustar (POSIX or GNU) magic at byte 257 of the first header block.
bool looks_like_tar(ByteView file);

}  // namespace cloudless::mihome_backup
