#include "protocols/mihome_backup/backup_reader.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cloudless::mihome_backup {

namespace {

constexpr std::string_view kSqliteMagic{"SQLite format 3\0", 16};

bool starts_with(ByteView file, std::string_view magic) {
  return file.size() >= magic.size() && std::equal(magic.begin(), magic.end(), file.begin());
}

void merge(std::vector<DeviceRecord>& into, std::vector<DeviceRecord> more) {
  for (DeviceRecord& record : more) {
    const bool known = std::any_of(into.begin(), into.end(), [&](const DeviceRecord& existing) {
      return existing.token == record.token && existing.mac == record.mac;
    });
    if (!known) into.push_back(std::move(record));
  }
}

Result<std::vector<DeviceRecord>> read_tar(ByteStream& tar, const BackupLimits& limits) {
  constexpr std::array<std::string_view, 2> kWanted{kAndroidMihomeDatabase, kAndroidYeelightPreferences};
  auto members = read_tar_members(tar, kWanted, limits.max_member_bytes);
  if (!members) return members.error();
  if (members->empty()) {
    return parse_error("no Mi Home data in the archive (neither " + std::string(kAndroidMihomeDatabase) + " nor " +
                       std::string(kAndroidYeelightPreferences) + "): was the backup made of the Mi Home app?");
  }
  std::vector<DeviceRecord> devices;
  for (const TarMember& member : *members) {
    const std::string_view text(reinterpret_cast<const char*>(member.data.data()), member.data.size());
    auto found = member.path == kAndroidMihomeDatabase ? read_mihome_database(member.data)
                                                       : read_yeelight_device_list(text);
    if (!found) {
      ParseError error = found.error();
      error.what = member.path + ": " + error.what;
      return error;
    }
    merge(devices, std::move(*found));
  }
  return devices;
}

}  // namespace

std::string_view backup_kind_name(BackupKind kind) {
  switch (kind) {
    case BackupKind::android_backup: return "Android backup";
    case BackupKind::tar: return "tar archive";
    case BackupKind::sqlite: return "SQLite database";
    case BackupKind::unknown: break;
  }
  return "unknown file";
}

BackupKind detect_backup_kind(ByteView file) {
  if (starts_with(file, kAndroidBackupMagic)) return BackupKind::android_backup;
  if (starts_with(file, kSqliteMagic)) return BackupKind::sqlite;
  if (looks_like_tar(file)) return BackupKind::tar;
  return BackupKind::unknown;
}

bool backup_needs_password(ByteView file) {
  if (detect_backup_kind(file) != BackupKind::android_backup) return false;
  const auto header = parse_android_backup_header(file);
  return header && header->encrypted;
}

Result<BackupContents> read_backup(ByteView file, const std::optional<std::string>& password,
                                   const BackupLimits& limits) {
  BackupContents contents;
  contents.kind = detect_backup_kind(file);
  switch (contents.kind) {
    case BackupKind::sqlite: {
      auto devices = read_mihome_database(file);
      if (!devices) return devices.error();
      contents.devices = std::move(*devices);
      return contents;
    }
    case BackupKind::tar: {
      MemoryStream tar(file);
      auto devices = read_tar(tar, limits);
      if (!devices) return devices.error();
      contents.devices = std::move(*devices);
      return contents;
    }
    case BackupKind::android_backup: {
      auto tar = open_android_backup_tar(file, password, limits.max_tar_bytes);
      if (!tar) return tar.error();
      auto devices = read_tar(**tar, limits);
      if (!devices) return devices.error();
      contents.devices = std::move(*devices);
      return contents;
    }
    case BackupKind::unknown: break;
  }
  return parse_error("not a Mi Home backup: neither an Android backup (.ab), a tar archive nor an SQLite database");
}

Result<MappedFile> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return parse_error("cannot open " + path + ": " + std::strerror(errno));
  struct stat status {};
  if (fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) {
    ::close(fd);
    return parse_error(path + " is not a regular file");
  }
  const auto size = static_cast<std::size_t>(status.st_size);
  if (size == 0) {
    ::close(fd);
    return parse_error(path + " is empty");
  }
  void* address = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (address == MAP_FAILED) return parse_error("cannot read " + path + ": " + std::strerror(map_errno));
  madvise(address, size, MADV_SEQUENTIAL);
  return MappedFile(address, size);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : address_(std::exchange(other.address_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  std::swap(address_, other.address_);
  std::swap(size_, other.size_);
  return *this;
}

MappedFile::~MappedFile() {
  if (address_) munmap(address_, size_);
}

}  // namespace cloudless::mihome_backup
