// A blocking HTTPS client for the one-shot key commands (`cloudless keys …`, docs/keys.md). The running
// daemon never links it: it talks to devices only. One request per connection (`Connection: close`),
// no redirects followed (the clouds' login steps read the Location and Set-Cookie of a 302 themselves),
// certificates verified against the system store, or against `ca_file` (tests: a certificate the test
// made for 127.0.0.1), and the host name (or IP address) checked against the certificate.
//
// Blocking is right here: a key command is one conversation, start to end, on the terminal. Inside,
// each request runs on its own io_context with one deadline for resolve, connect, handshake, write
// and read, so a silent server costs `timeout`, never forever.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocols/common/result.h"
#include "protocols/https/url.h"

namespace cloudless::https {

using Header = std::pair<std::string, std::string>;

struct Request {
  std::string method = "GET";
  std::string url;              // absolute: https://host[:port]/path?query
  std::vector<Header> headers;  // sent as given; Host, Content-Length and Connection are added
  std::string body;
};

struct Response {
  int status = 0;
  std::vector<Header> headers;  // in the order received, names as received
  std::string body;

  // The first header of that name (case-insensitive), or "" when there is none.
  std::string header(std::string_view name) const;
  // Every header of that name, e.g. all Set-Cookie lines.
  std::vector<std::string> headers_named(std::string_view name) const;
};

struct ClientOptions {
  std::string ca_file;  // empty: the system's trusted certificates
  std::chrono::milliseconds timeout{std::chrono::seconds(20)};  // per request, everything included
  std::size_t max_body = 8 * 1024 * 1024;
};

class Client {
 public:
  explicit Client(ClientOptions options = {});

  // Errors are one sentence a user can act on: "cannot resolve api.io.mi.com: …", "127.0.0.1:4443
  // refused the connection", "certificate of api.io.mi.com not trusted: …", "no answer from … within
  // 20 s", "… sent a reply larger than 8 MiB".
  Result<Response> send(const Request& request) const;
  Result<Response> send(const Request& request, std::chrono::milliseconds timeout) const;

  const ClientOptions& options() const { return options_; }

 private:
  ClientOptions options_;
};

}  // namespace cloudless::https
