// `cloudless keys backup FILE`: miIO tokens out of a Mi Home app backup, offline
// (docs/mihome_backup.md). The reading is protocols/mihome_backup's; this file is the command line,
// the password file and the output (keys_output.h).
#include <cctype>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "daemon/cli/commands.h"
#include "daemon/cli/keys_commands.h"
#include "daemon/cli/keys_output.h"
#include "protocols/mihome_backup/backup_reader.h"

namespace cloudless::cli {

namespace {

namespace backup = mihome_backup;

struct KeysBackupOptions {
  std::string file;
  std::string password_file;
  bool yaml = false;
  std::string output;
};

int fail(const std::string& sentence) {
  std::fprintf(stderr, "cloudless: keys backup: %s\n", sentence.c_str());
  return kExitFailure;
}

// The password is the first line of the file; its line end is not part of it.
std::optional<std::string> read_password(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read the password file " + path;
    return std::nullopt;
  }
  std::string password;
  std::getline(in, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) {
    error = "the password file " + path + " is empty";
    return std::nullopt;
  }
  return password;
}

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

FoundDevice found_device(const backup::DeviceRecord& record) {
  FoundDevice device;
  device.name = record.name;
  device.model = record.model;
  device.ip = record.ip;
  device.mac = upper(record.mac);
  device.did = record.did;
  device.token = record.token;
  return device;
}

int keys_backup(const KeysBackupOptions& options) {
  auto file = backup::MappedFile::open(options.file);
  if (!file) return fail(file.error().what);
  const ByteView bytes = file->bytes();

  std::optional<std::string> password;
  if (backup::backup_needs_password(bytes)) {
    if (options.password_file.empty()) {
      return fail(options.file + " is an encrypted Android backup: give its password with --password-file FILE");
    }
    std::string error;
    password = read_password(options.password_file, error);
    if (!password) return fail(error);
  }

  const auto contents = backup::read_backup(bytes, password);
  if (!contents) {
    const ParseError& error = contents.error();
    if (error.kind == ErrorKind::authentication) return fail(options.file + ": " + error.what + " (--password-file)");
    return fail(options.file + ": " + (error.offset > 0 ? error.describe() : error.what));
  }

  std::vector<FoundDevice> devices;
  for (const backup::DeviceRecord& record : contents->devices) devices.push_back(found_device(record));
  const std::string text = options.yaml ? devices_yaml(devices) : devices_table(devices);

  if (options.output.empty()) {
    std::fputs(text.c_str(), stdout);
  } else {
    if (const std::string error = write_secret_file(options.output, text); !error.empty()) return fail(error);
    // As `keys xiaomi` does: standard output stays free of anything but the result.
    std::fprintf(stderr, "wrote %zu device%s to %s (mode 0600)\n", devices.size(), devices.size() == 1 ? "" : "s",
                 options.output.c_str());
  }
  if (devices.empty()) {
    std::fprintf(stderr, "cloudless: keys backup: the %s holds Mi Home data but no device with a token\n",
                 std::string(backup::backup_kind_name(contents->kind)).c_str());
  }
  return kExitOk;
}

}  // namespace

KeysCommand add_keys_backup_command(CLI::App& keys) {
  auto options = std::make_shared<KeysBackupOptions>();
  auto* command = keys.add_subcommand(
      "backup", "read miIO tokens from a Mi Home app backup (Android .ab, its tar, miio2.db, iOS _mihome.sqlite)");
  command->footer(
      "Read, offline, the devices the Mi Home app knows and their miIO tokens from a backup of the app, and "
      "print them as a table (or, with --yaml, as a devices: block for config.yaml). FILE is told by its "
      "content: an Android backup (adb backup -noapk com.xiaomi.smarthome -f mihome.ab, with a Mi Home version "
      "that still allows backups; encrypted when a password was typed on the phone: give it with "
      "--password-file), the tar inside one, the app's miio2.db itself, or the iOS app's "
      "<user id>_mihome.sqlite from an unencrypted iPhone backup (tokens decrypted). The Yeelight app's list "
      "(miot.xml) is read too when the Android backup has it. Backups hold no BLE bind keys: `cloudless keys "
      "xiaomi` or `cloudless ble register` get those. Exit 1 with one line when the file is damaged or "
      "truncated, the password is wrong or missing, or it holds no Mi Home data; nothing is written then. "
      "docs/mihome_backup.md describes the formats.");
  command->add_option("FILE", options->file, "the backup: .ab, .tar, miio2.db or <user id>_mihome.sqlite")
      ->required();
  command->add_option("--password-file", options->password_file,
                      "file whose first line is the Android backup's password (encrypted backups only)");
  command->add_flag("--yaml", options->yaml, "print a devices: block for config.yaml instead of the table");
  command->add_option("--output", options->output,
                      "write the result to this file (mode 0600: it holds tokens) instead of standard output");
  return {command, [options] { return keys_backup(*options); }};
}

}  // namespace cloudless::cli
