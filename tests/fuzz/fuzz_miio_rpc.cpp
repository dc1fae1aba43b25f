// libFuzzer harness for the miIO JSON-RPC layer (protocols/miio/rpc.h): the decrypted payload of a
// device reply is untrusted text, possibly broken by firmware quirks, possibly not UTF-8.
//
// Invariants (a violation aborts, so libFuzzer reports it as a crash):
//  1. parse_payload, parse_reply and parse_request never crash and never throw (an escaping
//     exception terminates the process, which libFuzzer reports) on any bytes.
//  2. Errors are malformed-kind, their offset lies within the text and their message is printable
//     ASCII (safe to log or to embed in JSON).
//  3. parse → dump → parse is stable: the dump of an accepted payload parses again, to a value
//     that dumps identically (dump with error_handler_t::replace; the parsed value nests at most
//     kMaxJsonDepth levels, so the recursive dump cannot exhaust the stack).
//  4. An accepted reply carries either an error (and then a null result) or no error; an accepted
//     request survives encode_request → parse_request unchanged (id, method, params).
//  5. is_ok_result never crashes on any accepted value.
//  6. What read_reply takes with a MiotPropertiesReader, parse_reply takes too, with the same id and
//     no error, and merge_miot_values gives what decode_miot_properties gives from its result.
//  7. The same with a ScalarListReader: decode_legacy_values and decode_get_power_values give what
//     decode_legacy_props and decode_get_power give from parse_reply's result.
// Seeds: tests/fuzz/corpus/miio_rpc/ (docs/miio.md §1.5 quirks, §6 payloads).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocols/miio/plug_models.h"
#include "protocols/miio/rpc.h"

namespace {

using namespace cloudless;
using namespace cloudless::miio;
using json = nlohmann::json;

#define FUZZ_CHECK(condition)                                                              \
  do {                                                                                     \
    if (!(condition)) {                                                                    \
      std::fprintf(stderr, "invariant failed: %s (%s:%d)\n", #condition, __FILE__, __LINE__); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (false)

std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

void check_error(const ParseError& error, std::size_t size) {
  FUZZ_CHECK(error.kind == ErrorKind::malformed);
  FUZZ_CHECK(error.offset <= size);
  for (const char c : error.what) {
    const auto byte = static_cast<unsigned char>(c);
    FUZZ_CHECK(byte >= 0x20 && byte < 0x7f);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  // 1–3, 5: payload.
  const Result<json> payload = parse_payload(text);
  if (payload) {
    const std::string first = dump(*payload);
    const Result<json> again = parse_payload(first);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(dump(*again) == first);
    (void)is_ok_result(*payload);
  } else {
    check_error(payload.error(), size);
  }

  // 1, 2, 4: reply.
  const Result<Reply> reply = parse_reply(text);
  if (reply) {
    FUZZ_CHECK(payload.has_value() && payload->is_object());
    if (reply->error) FUZZ_CHECK(reply->result.is_null());
    (void)is_ok_result(reply->result);
  } else {
    check_error(reply.error(), size);
  }

  // 1, 2, 4: request.
  const Result<Request> request = parse_request(text);
  if (request) {
    const Result<Request> again = parse_request(encode_request(request->id, request->method, request->params));
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->id == request->id);
    FUZZ_CHECK(again->method == request->method);
    FUZZ_CHECK(dump(again->params) == dump(request->params));
  } else {
    check_error(request.error(), size);
  }
  // 6: a get_properties answer read without the DOM.
  static const PlugModel* const model = find_plug_model("chuangmi.plug.212a01");
  MiotPropertiesReader reader;
  if (const std::optional<std::int64_t> id = read_reply(text, reader)) {
    FUZZ_CHECK(reply.has_value() && reply->id == id && !reply->error);
    const Result<PlugReading> decoded = decode_miot_properties(*model, reply->result);
    FUZZ_CHECK(decoded.has_value() && merge_miot_values(*model, reader.values(), {}) == *decoded);
  }
  // 7: a get_prop or get_power answer read without the DOM.
  static const PlugModel* const legacy_model = find_plug_model("chuangmi.plug.v3");
  ScalarListReader list_reader;
  if (const std::optional<std::int64_t> id = read_reply(text, list_reader)) {
    FUZZ_CHECK(reply.has_value() && reply->id == id && !reply->error);
    const Result<PlugReading> decoded = decode_legacy_props(*legacy_model, reply->result);
    FUZZ_CHECK(decoded.has_value() && decode_legacy_values(*legacy_model, list_reader.values()) == *decoded);
    const Result<double> watts = decode_get_power(reply->result);
    const Result<double> read_watts = decode_get_power_values(list_reader.values());
    FUZZ_CHECK(watts.has_value() == read_watts.has_value());
    FUZZ_CHECK(!watts || *watts == *read_watts);
  }
  return 0;
}
