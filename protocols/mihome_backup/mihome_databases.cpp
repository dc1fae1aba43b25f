#include "protocols/mihome_backup/mihome_databases.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstring>
#include <memory>

#include <sqlite3.h>

#include "protocols/common/json_limits.h"
#include "protocols/mihome_backup/backup_crypto.h"

namespace cloudless::mihome_backup {

namespace {

constexpr std::string_view kSqliteMagic{"SQLite format 3\0", 16};

struct DatabaseCloser {
  void operator()(sqlite3* database) const { sqlite3_close(database); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using Database = std::unique_ptr<sqlite3, DatabaseCloser>;
using Statement = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

ParseError sqlite_failure(sqlite3* database, std::string_view step) {
  return parse_error("cannot read the database (" + std::string(step) + ": " + sqlite3_errmsg(database) + ")");
}

bool is_hex(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isxdigit(c); });
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// Tokens are hex digits; anything else (a placeholder, a text the app put there) is not a token.
std::string normalized_token(std::string_view token) { return is_hex(token) ? lower(token) : std::string(); }

// An in-memory, read-only copy of `bytes` (sqlite3_deserialize): the file never hits the disk and
// SQLite never writes to it. A WAL-mode file (header bytes 18 and 19 = 2) is marked as a rollback-
// journal file in the copy, because there is no -wal file beside an in-memory database.
Result<Database> open_in_memory(ByteView bytes) {
  if (bytes.size() < 100 || !std::equal(kSqliteMagic.begin(), kSqliteMagic.end(), bytes.begin())) {
    return parse_error("not an SQLite database (no \"SQLite format 3\" header)");
  }
  sqlite3* raw = nullptr;
  const int opened = sqlite3_open_v2(":memory:", &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  Database database(raw);
  if (opened != SQLITE_OK) return parse_error("cannot open SQLite in memory");
  auto* copy = static_cast<unsigned char*>(sqlite3_malloc64(bytes.size()));
  if (!copy) return parse_error("out of memory for the database");
  std::memcpy(copy, bytes.data(), bytes.size());
  constexpr std::size_t kWriteVersion = 18, kReadVersion = 19;
  if (copy[kWriteVersion] == 2) copy[kWriteVersion] = 1;
  if (copy[kReadVersion] == 2) copy[kReadVersion] = 1;
  const auto size = static_cast<sqlite3_int64>(bytes.size());
  if (sqlite3_deserialize(database.get(), "main", copy, size, size,
                          SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY) != SQLITE_OK) {
    return sqlite_failure(database.get(), "load");
  }
  return database;
}

// Reading the schema is the first read of the file: a damaged database fails here.
Result<bool> has_table(sqlite3* database, const char* table) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(database, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1, &raw,
                         nullptr) != SQLITE_OK) {
    return sqlite_failure(database, "tables");
  }
  Statement statement(raw);
  sqlite3_bind_text(raw, 1, table, -1, SQLITE_STATIC);
  const int step = sqlite3_step(raw);
  if (step != SQLITE_ROW && step != SQLITE_DONE) return sqlite_failure(database, "tables");
  return step == SQLITE_ROW;
}

// Column names → indexes of `SELECT *`, so that a column the app dropped or renamed in some version
// reads as empty instead of failing the whole query.
struct ColumnNames {
  const char* name;
  const char* model;
  const char* ip;
  const char* mac;
  const char* did;
  const char* token;
};

std::string column_text(sqlite3_stmt* statement, int column) {
  if (column < 0) return {};
  const auto* text = sqlite3_column_text(statement, column);
  if (!text) return {};
  const auto size = static_cast<std::size_t>(sqlite3_column_bytes(statement, column));
  return std::string(reinterpret_cast<const char*>(text), size);
}

int column_index(sqlite3_stmt* statement, const char* wanted) {
  for (int column = 0; column < sqlite3_column_count(statement); ++column) {
    const char* name = sqlite3_column_name(statement, column);
    if (name && sqlite3_stricmp(name, wanted) == 0) return column;
  }
  return -1;
}

Result<std::vector<DeviceRecord>> read_device_table(sqlite3* database, const char* query, const ColumnNames& names,
                                                    std::string_view source, bool ios_tokens) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(database, query, -1, &raw, nullptr) != SQLITE_OK) return sqlite_failure(database, source);
  Statement statement(raw);
  const int name = column_index(raw, names.name), model = column_index(raw, names.model);
  const int ip = column_index(raw, names.ip), mac = column_index(raw, names.mac);
  const int did = column_index(raw, names.did), token = column_index(raw, names.token);
  if (token < 0) return parse_error("the " + std::string(source) + " table has no " + names.token + " column");
  std::vector<DeviceRecord> records;
  for (;;) {
    const int step = sqlite3_step(raw);
    if (step == SQLITE_DONE) break;
    if (step != SQLITE_ROW) return sqlite_failure(database, source);
    const std::string stored_token = column_text(raw, token);
    if (stored_token.empty()) continue;  // devices without a token are of no use here
    DeviceRecord record{column_text(raw, name), column_text(raw, model), column_text(raw, ip),
                        column_text(raw, mac),  column_text(raw, did),   {}, std::string(source)};
    if (ios_tokens) {
      record.token = normalized_token(decrypt_ios_token(stored_token).value_or(""));
    } else {
      record.token = normalized_token(stored_token);
    }
    records.push_back(std::move(record));
  }
  return records;
}

std::optional<std::string_view> between(std::string_view text, std::string_view open, std::string_view close,
                                        std::size_t& from) {
  const std::size_t start = text.find(open, from);
  if (start == std::string_view::npos) return std::nullopt;
  const std::size_t end = text.find(close, start + open.size());
  if (end == std::string_view::npos) return std::nullopt;
  from = end + close.size();
  return text.substr(start + open.size(), end - start - open.size());
}

std::string json_string(const nlohmann::json& object, const char* key) {
  const auto found = object.find(key);
  if (found == object.end()) return {};
  if (found->is_string()) return found->get<std::string>();
  if (found->is_number()) return found->dump();
  return {};
}

void append_utf8(std::string& out, unsigned code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

}  // namespace

std::optional<std::string> decrypt_ios_token(std::string_view ztoken) {
  constexpr std::size_t kPlainTokenLength = 32;
  if (ztoken.size() <= kPlainTokenLength) return std::string(ztoken);
  // Only the first two AES blocks carry the 32 token characters; a third, if any, is PKCS#7 padding.
  const auto ciphertext = from_hex(ztoken.substr(0, 64));
  if (!ciphertext || ciphertext->size() != 32) return std::nullopt;
  const std::array<std::uint8_t, 16> zero_key{};
  const auto plaintext = aes128_ecb_decrypt_no_padding(zero_key, *ciphertext);
  if (!plaintext) return std::nullopt;
  std::string token(plaintext->begin(), plaintext->end());
  if (!std::all_of(token.begin(), token.end(), [](unsigned char c) { return std::isprint(c); })) return std::nullopt;
  return token;
}

Result<std::vector<DeviceRecord>> read_mihome_database(ByteView bytes) {
  auto database = open_in_memory(bytes);
  if (!database) return database.error();
  sqlite3* db = database->get();
  // Android (miio2.db): devicerecord(localIP, mac, model, name, did, token), the token in plain hex.
  const auto android = has_table(db, "devicerecord");
  if (!android) return android.error();
  if (*android) {
    return read_device_table(db, "SELECT * FROM devicerecord", {"name", "model", "localIP", "mac", "did", "token"},
                             "devicerecord", false);
  }
  // iOS (<user id>_mihome.sqlite, Core Data): ZDEVICE(ZLOCALIP, ZMAC, ZMODEL, ZNAME, ZDID, ZTOKEN).
  const auto ios = has_table(db, "ZDEVICE");
  if (!ios) return ios.error();
  if (*ios) {
    return read_device_table(db, "SELECT * FROM ZDEVICE", {"ZNAME", "ZMODEL", "ZLOCALIP", "ZMAC", "ZDID", "ZTOKEN"},
                             "ZDEVICE", true);
  }
  return parse_error("the database has no Mi Home device table (neither devicerecord nor ZDEVICE)");
}

std::string xml_unescape(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, char>, 5> kNamed{
      {{"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"quot;", '"'}, {"apos;", '\''}}};
  std::string out;
  out.reserve(text.size());
  for (std::size_t at = 0; at < text.size(); ++at) {
    if (text[at] != '&') {
      out += text[at];
      continue;
    }
    const std::string_view rest = text.substr(at + 1);
    const auto named =
        std::find_if(kNamed.begin(), kNamed.end(), [&](const auto& entity) { return rest.starts_with(entity.first); });
    if (named != kNamed.end()) {
      out += named->second;
      at += named->first.size();
      continue;
    }
    const std::size_t semicolon = rest.find(';');
    if (rest.starts_with('#') && semicolon != std::string_view::npos && semicolon <= 10) {
      const bool hex = rest.size() > 1 && (rest[1] == 'x' || rest[1] == 'X');
      const std::string_view digits = rest.substr(hex ? 2 : 1, semicolon - (hex ? 2 : 1));
      unsigned code_point = 0;
      const int base = hex ? 16 : 10;
      const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), code_point, base);
      if (error == std::errc() && end == digits.data() + digits.size() && !digits.empty() && code_point <= 0x10FFFF) {
        append_utf8(out, code_point);
        at += semicolon + 1;
        continue;
      }
    }
    out += '&';  // a lone '&': kept as it is (tolerant, as the reader of a file we did not write)
  }
  return out;
}

// Android shared preferences (XML), the part we read:
//   <map> … <set name="deviceList">
//     <string>{"localip":…,"mac":…,"model":…,"name":…,"token":…}</string> …
//   </set> … </map>
// The JSON is XML-escaped (&quot;). An empty set is written as <set name="deviceList" />.
Result<std::vector<DeviceRecord>> read_yeelight_device_list(std::string_view xml) {
  std::vector<DeviceRecord> records;
  std::size_t from = 0;
  const auto set = between(xml, "<set name=\"deviceList\">", "</set>", from);
  if (!set) return records;
  std::size_t at = 0;
  while (const auto entry = between(*set, "<string>", "</string>", at)) {
    auto device = parse_untrusted_json(xml_unescape(*entry));
    if (!device || !device->is_object()) return parse_error("miot.xml: a deviceList entry is not a JSON object");
    DeviceRecord record{json_string(*device, "name"), json_string(*device, "model"), json_string(*device, "localip"),
                        json_string(*device, "mac"),  json_string(*device, "did"),   {}, "miot.xml"};
    const std::string token = json_string(*device, "token");
    if (token.empty()) continue;
    record.token = normalized_token(token);
    records.push_back(std::move(record));
  }
  return records;
}

}  // namespace cloudless::mihome_backup
