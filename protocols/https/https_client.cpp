#include "protocols/https/https_client.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <optional>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace cloudless::https {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string seconds_text(std::chrono::milliseconds duration) {
  const auto ms = duration.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms / 1000) + "." + std::to_string((ms % 1000) / 100) + " s";
}

// The OpenSSL reason behind a failed handshake, e.g. "certificate verify failed (self-signed
// certificate)", rather than asio's generic category text.
std::string tls_failure_text(const beast::error_code& error, long verify_result) {
  if (verify_result != X509_V_OK) {
    return std::string("certificate not trusted: ") + X509_verify_cert_error_string(verify_result);
  }
  return error.message();
}

// What one request needs while it runs; the coroutine below fills `response` or `failure`.
struct Exchange {
  const Request* request = nullptr;
  Url url;
  std::string where;  // "host:port", for messages
  std::size_t max_body = 0;
  std::optional<Response> response;
  std::string failure;
  std::string stage = "while resolving the name";  // what was under way when the deadline struck
};

asio::awaitable<void> run_exchange(Exchange& exchange, beast::ssl_stream<beast::tcp_stream>& stream,
                                   tcp::resolver& resolver) {
  const Request& request = *exchange.request;
  beast::error_code error;
  auto token = asio::redirect_error(asio::use_awaitable, error);

  const auto endpoints = co_await resolver.async_resolve(exchange.url.host, std::to_string(exchange.url.port), token);
  if (error) {
    exchange.failure = "cannot resolve " + exchange.url.host + ": " + error.message();
    co_return;
  }
  exchange.stage = "while connecting";
  co_await beast::get_lowest_layer(stream).async_connect(endpoints, token);
  if (error) {
    exchange.failure = error == asio::error::connection_refused ? exchange.where + " refused the connection"
                                                                 : "cannot connect to " + exchange.where + ": " +
                                                                       error.message();
    co_return;
  }
  exchange.stage = "during the TLS handshake";
  co_await stream.async_handshake(asio::ssl::stream_base::client, token);
  if (error) {
    exchange.failure = "TLS handshake with " + exchange.where + " failed: " +
                       tls_failure_text(error, SSL_get_verify_result(stream.native_handle()));
    co_return;
  }

  http::request<http::string_body> message;
  message.method_string(request.method);
  message.target(exchange.url.target);
  message.version(11);
  const bool default_port = exchange.url.port == 443;
  const bool ipv6 = exchange.url.host.find(':') != std::string::npos;
  const std::string host = ipv6 ? "[" + exchange.url.host + "]" : exchange.url.host;
  message.set(http::field::host, default_port ? host : host + ":" + std::to_string(exchange.url.port));
  message.set(http::field::connection, "close");
  for (const auto& [name, value] : request.headers) message.insert(name, value);
  message.body() = request.body;
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") message.prepare_payload();

  exchange.stage = "while sending the request";
  co_await http::async_write(stream, message, token);
  if (error) {
    exchange.failure = "sending to " + exchange.where + " failed: " + error.message();
    co_return;
  }

  exchange.stage = "while waiting for the answer";
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(64 * 1024);
  parser.body_limit(exchange.max_body);
  co_await http::async_read(stream, buffer, parser, token);
  if (error == http::error::body_limit) {
    constexpr std::size_t kMiB = 1024 * 1024;
    const std::size_t limit = exchange.max_body;
    exchange.failure = exchange.where + " sent a reply larger than " +
                       (limit % kMiB == 0 ? std::to_string(limit / kMiB) + " MiB" : std::to_string(limit) + " bytes");
    co_return;
  }
  if (error) {
    exchange.failure = "reading the answer of " + exchange.where + " failed: " + error.message();
    co_return;
  }
  const auto& reply = parser.get();
  Response response;
  response.status = static_cast<int>(reply.result_int());
  for (const auto& field : reply) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  response.body = reply.body();
  exchange.response = std::move(response);
  // No TLS close_notify exchange: the answer is complete (Content-Length or chunked end), and a
  // server that never answers the close would cost the whole deadline. The socket closes with the
  // stream.
}

}  // namespace

std::string Response::header(std::string_view name) const {
  for (const auto& [header_name, value] : headers) {
    if (equal_ignoring_case(header_name, name)) return value;
  }
  return {};
}

std::vector<std::string> Response::headers_named(std::string_view name) const {
  std::vector<std::string> values;
  for (const auto& [header_name, value] : headers) {
    if (equal_ignoring_case(header_name, name)) values.push_back(value);
  }
  return values;
}

Client::Client(ClientOptions options) : options_(std::move(options)) {}

Result<Response> Client::send(const Request& request) const { return send(request, options_.timeout); }

Result<Response> Client::send(const Request& request, std::chrono::milliseconds timeout) const {
  Exchange exchange;
  exchange.request = &request;
  exchange.max_body = options_.max_body;
  const std::optional<Url> url = parse_url(request.url);
  if (!url) return parse_error("not an https:// address: " + request.url);
  exchange.url = *url;
  exchange.where = exchange.url.host + ":" + std::to_string(exchange.url.port);

  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                  asio::ssl::context::no_tlsv1_1);
  beast::error_code error;
  if (options_.ca_file.empty()) {
    tls.set_default_verify_paths(error);
  } else {
    tls.load_verify_file(options_.ca_file, error);
  }
  if (error) {
    const std::string which = options_.ca_file.empty() ? "the system's trusted certificates" : options_.ca_file;
    return parse_error("cannot load " + which + ": " + error.message());
  }
  tls.set_verify_mode(asio::ssl::verify_peer);

  asio::io_context io;
  tcp::resolver resolver(io);
  beast::ssl_stream<beast::tcp_stream> stream(io, tls);
  // SNI for names (clouds behind shared front ends need it); the certificate must name the host or
  // carry its IP address.
  const bool literal_address = [&] {
    beast::error_code parse_failure;
    asio::ip::make_address(exchange.url.host, parse_failure);
    return !parse_failure;
  }();
  if (!literal_address && !SSL_set_tlsext_host_name(stream.native_handle(), exchange.url.host.c_str())) {
    return parse_error("cannot set the TLS server name " + exchange.url.host);
  }
  stream.set_verify_callback(asio::ssl::host_name_verification(exchange.url.host));

  // One deadline for the whole exchange: when it strikes, everything under way is cancelled.
  bool timed_out = false;
  asio::steady_timer deadline(io, timeout);
  deadline.async_wait([&](const beast::error_code& wait_error) {
    if (wait_error) return;
    timed_out = true;
    resolver.cancel();
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().close(ignored);
  });
  std::exception_ptr crashed;
  asio::co_spawn(io, run_exchange(exchange, stream, resolver), [&](std::exception_ptr failure) {
    crashed = failure;
    deadline.cancel();
  });
  io.run();
  if (crashed) {
    try {
      std::rethrow_exception(crashed);
    } catch (const std::exception& e) {
      return parse_error(std::string("HTTPS request to ") + exchange.where + " failed: " + e.what());
    }
  }
  if (exchange.response) return std::move(*exchange.response);
  if (timed_out) {
    return parse_error("no answer from " + exchange.where + " within " + seconds_text(timeout) + " (" +
                       exchange.stage + ")");
  }
  return parse_error(exchange.failure);
}

}  // namespace cloudless::https
