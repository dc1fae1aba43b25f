// The Mi Home app's own records of its devices (docs/mihome_backup.md §3–§5): the Android app's
// SQLite database (miio2.db, table devicerecord), the iOS app's (<user id>_mihome.sqlite, table
// ZDEVICE, tokens encrypted under a zero key), and the Yeelight app's shared preferences (miot.xml).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/bytes.h"
#include "protocols/common/result.h"

namespace cloudless::mihome_backup {

// One device as the app stored it. Strings are as stored except `token` (lower case; empty when the
// app kept none or it is not hex).
struct DeviceRecord {
  std::string name;
  std::string model;
  std::string ip;
  std::string mac;
  std::string did;    // cloud device id when stored ("123456789", "blt.3.abc…"); may be empty
  std::string token;
  std::string source;  // where it was found: "miio2.db", "ZDEVICE", "miot.xml"
};

enum class DatabaseKind { unknown, android_mihome, ios_mihome };

// Reads an app database from its bytes (SQLite format 3), read-only and in memory: nothing touches the
// disk. Fails when it is not SQLite or has neither devicerecord nor ZDEVICE.
Result<std::vector<DeviceRecord>> read_mihome_database(ByteView database);

// The iOS ZTOKEN column: a plain token (≤ 32 characters) is returned as it is; a longer one is the hex of
// AES-128-ECB(16 zero bytes, token text) — 64 hex digits, or 96 with a PKCS#7 block — and its first
// 32 bytes are decrypted. nullopt when that is not hex or does not decrypt to printable text.
std::optional<std::string> decrypt_ios_token(std::string_view ztoken);

// The `<set name="deviceList">` of Yeelight's shared preferences: each `<string>` holds one device as
// JSON (localip, mac, model, name, token). No list: no devices (not an error); an entry that is not JSON
// is an error.
Result<std::vector<DeviceRecord>> read_yeelight_device_list(std::string_view xml);

// &lt; &gt; &amp; &quot; &apos; and numeric &#…; references, as Android writes them.
std::string xml_unescape(std::string_view text);

}  // namespace cloudless::mihome_backup
