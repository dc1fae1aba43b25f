// From a file the user has to the devices in it: tells the kind of file by its content (never by its
// name), runs the chain that kind needs and merges what every Mi Home source in it holds.
//   Android backup (.ab) → [decrypt] → [inflate] → tar → miio2.db and/or miot.xml
//   tar (an .ab already unpacked)                  → tar → miio2.db and/or miot.xml
//   SQLite (miio2.db, or iOS <user id>_mihome.sqlite)      → the database itself
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/bytes.h"
#include "protocols/common/result.h"
#include "protocols/mihome_backup/android_backup.h"
#include "protocols/mihome_backup/mihome_databases.h"
#include "protocols/mihome_backup/tar_members.h"

namespace cloudless::mihome_backup {

enum class BackupKind { unknown, android_backup, tar, sqlite };

std::string_view backup_kind_name(BackupKind kind);  // "Android backup", "tar archive", "SQLite database", …
BackupKind detect_backup_kind(ByteView file);

// True for an encrypted Android backup (it needs a password); false for everything else.
bool backup_needs_password(ByteView file);

// The tar paths of the Mi Home data in an Android backup.
inline constexpr std::string_view kAndroidMihomeDatabase = "apps/com.xiaomi.smarthome/db/miio2.db";
inline constexpr std::string_view kAndroidYeelightPreferences = "apps/com.yeelight.cherry/sp/miot.xml";

struct BackupLimits {
  std::uint64_t max_tar_bytes = kDefaultMaxTarBytes;
  std::size_t max_member_bytes = kDefaultMaxMemberBytes;
};

struct BackupContents {
  BackupKind kind = BackupKind::unknown;
  std::vector<DeviceRecord> devices;  // every source's, a device found twice (same token) once
};

// Every device with a token in `file`. Errors: not a known kind, a damaged file, a wrong or missing
// password (an authentication error), no Mi Home data in the archive, a database without the tables.
Result<BackupContents> read_backup(ByteView file, const std::optional<std::string>& password,
                                   const BackupLimits& limits = {});

// A whole file, mapped read-only (a backup may be hundreds of MB: it is read once, in order).
class MappedFile {
 public:
  static Result<MappedFile> open(const std::string& path);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  ByteView bytes() const { return {static_cast<const std::uint8_t*>(address_), size_}; }

 private:
  MappedFile(void* address, std::size_t size) : address_(address), size_(size) {}
  void* address_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace cloudless::mihome_backup
