#include "protocols/mihome_backup/tar_members.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>
#include <optional>

#include <archive.h>
#include <archive_entry.h>

namespace cloudless::mihome_backup {

namespace {

constexpr std::size_t kChunk = 64 * 1024;

struct ArchiveDeleter {
  void operator()(archive* reader) const { archive_read_free(reader); }
};

// What libarchive's read callback needs: the stream, its buffer, and the first error it met (libarchive
// only sees "-1", we keep the sentence).
struct StreamClient {
  ByteStream* stream = nullptr;
  std::array<std::uint8_t, kChunk> buffer{};
  std::optional<ParseError> error;
};

la_ssize_t on_archive_wants_bytes(archive* reader, void* client_data, const void** buffer) {
  auto* client = static_cast<StreamClient*>(client_data);
  auto got = client->stream->read(client->buffer);
  if (!got) {
    client->error = got.error();
    archive_set_error(reader, EIO, "%s", got.error().what.c_str());
    return -1;
  }
  *buffer = client->buffer.data();
  return static_cast<la_ssize_t>(*got);
}

std::string_view without_dot_slash(std::string_view path) {
  while (path.substr(0, 2) == "./") path.remove_prefix(2);
  return path;
}

ParseError archive_failure(archive* reader, const StreamClient& client, std::string_view step) {
  if (client.error) return *client.error;
  const char* reason = archive_error_string(reader);
  return parse_error("corrupt tar archive (" + std::string(step) + ": " + (reason ? reason : "unknown error") + ")");
}

}  // namespace

bool looks_like_tar(ByteView file) {
  constexpr std::size_t kMagicOffset = 257;
  constexpr std::string_view kMagic = "ustar";
  if (file.size() < 512) return false;
  return std::equal(kMagic.begin(), kMagic.end(), file.begin() + kMagicOffset);
}

Result<std::vector<TarMember>> read_tar_members(ByteStream& stream, std::span<const std::string_view> wanted,
                                                std::size_t max_member_bytes) {
  std::unique_ptr<archive, ArchiveDeleter> reader(archive_read_new());
  if (!reader) return parse_error("cannot set up libarchive");
  archive_read_support_format_tar(reader.get());
  StreamClient client;
  client.stream = &stream;
  if (archive_read_open(reader.get(), &client, nullptr, on_archive_wants_bytes, nullptr) != ARCHIVE_OK) {
    return archive_failure(reader.get(), client, "open");
  }
  std::vector<TarMember> members;
  archive_entry* entry = nullptr;
  for (;;) {
    const int status = archive_read_next_header(reader.get(), &entry);
    if (status == ARCHIVE_EOF) break;
    if (status != ARCHIVE_OK && status != ARCHIVE_WARN) return archive_failure(reader.get(), client, "header");
    const char* raw_path = archive_entry_pathname(entry);
    if (!raw_path || archive_entry_filetype(entry) != AE_IFREG) continue;
    const std::string_view path = without_dot_slash(raw_path);
    const auto match = std::find(wanted.begin(), wanted.end(), path);
    if (match == wanted.end()) continue;  // libarchive skips the data on the next header read
    if (archive_entry_size_is_set(entry) && static_cast<std::uint64_t>(archive_entry_size(entry)) > max_member_bytes) {
      return parse_error(std::string(path) + " is larger than " + std::to_string(max_member_bytes >> 20) + " MiB");
    }
    TarMember member{std::string(*match), {}};
    std::array<std::uint8_t, kChunk> chunk;
    for (;;) {
      const la_ssize_t got = archive_read_data(reader.get(), chunk.data(), chunk.size());
      if (got < 0) return archive_failure(reader.get(), client, std::string(path));
      if (got == 0) break;
      if (member.data.size() + static_cast<std::size_t>(got) > max_member_bytes) {
        return parse_error(std::string(path) + " is larger than " + std::to_string(max_member_bytes >> 20) + " MiB");
      }
      member.data.insert(member.data.end(), chunk.begin(), chunk.begin() + got);
    }
    members.push_back(std::move(member));
  }
  // The end-of-archive blocks may come before the end of the stream: read on, so that the stream's
  // own checks (padding, zlib end) run and a damaged backup is not half-accepted.
  for (;;) {
    auto got = stream.read(client.buffer);
    if (!got) return got.error();
    if (*got == 0) break;
  }
  return members;
}

}  // namespace cloudless::mihome_backup
