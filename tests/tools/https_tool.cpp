// Sends one request with the key commands' HTTPS client and prints what came back, for
// tests/integration/test_https_client.py: status line, headers, a blank line, the body; or the
// client's error sentence on stderr with exit 1.
//   https_tool URL [--ca-file F] [--timeout-ms N] [--max-body N] [--method M] [--body TEXT]
//              [--header NAME:VALUE]...
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "protocols/https/https_client.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: https_tool URL [--ca-file F] [--timeout-ms N] [--max-body N] [--method M] "
                         "[--body TEXT] [--header NAME:VALUE]...\n");
    return 2;
  }
  cloudless::https::ClientOptions options;
  cloudless::https::Request request;
  request.url = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--ca-file") {
      options.ca_file = value;
    } else if (flag == "--timeout-ms") {
      options.timeout = std::chrono::milliseconds(std::atol(value.c_str()));
    } else if (flag == "--max-body") {
      options.max_body = static_cast<std::size_t>(std::atol(value.c_str()));
    } else if (flag == "--method") {
      request.method = value;
    } else if (flag == "--body") {
      request.body = value;
    } else if (flag == "--header") {
      const auto colon = value.find(':');
      request.headers.emplace_back(value.substr(0, colon), colon == std::string::npos ? "" : value.substr(colon + 1));
    } else {
      std::fprintf(stderr, "unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  const cloudless::https::Client client(options);
  const auto response = client.send(request);
  if (!response) {
    std::fprintf(stderr, "%s\n", response.error().what.c_str());
    return 1;
  }
  std::printf("%d\n", response->status);
  for (const auto& [name, value] : response->headers) std::printf("%s: %s\n", name.c_str(), value.c_str());
  std::printf("\n%s", response->body.c_str());
  return 0;
}
