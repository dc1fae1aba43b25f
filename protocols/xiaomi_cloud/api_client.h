// Encrypted calls to one region's Mi Home API server (docs/xiaomi_cloud.md §3), blocking: each call
// gets a fresh nonce, is signed and encrypted (rc4mi.h), POSTed with the session's cookies, and its
// reply decrypted and checked (api_messages.h parse_api_reply).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "protocols/common/result.h"
#include "protocols/https/https_client.h"
#include "protocols/xiaomi_cloud/qr_login.h"

namespace cloudless::xiaomi_cloud {

class ApiClient {
 public:
  // `app_base`: "https://de.api.io.mi.com/app" (regions.h), or a test server's.
  ApiClient(const https::Client& client, const CloudSession& session, std::string app_base);

  // `path` as signed, e.g. "/v2/homeroom/gethome"; the reply's "result". Errors name the path.
  Result<nlohmann::json> call(std::string_view path, const std::string& data_json) const;

 private:
  const https::Client& client_;
  const CloudSession& session_;
  std::string app_base_;
};

}  // namespace cloudless::xiaomi_cloud
