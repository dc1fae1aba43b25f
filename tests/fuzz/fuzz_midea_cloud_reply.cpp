// libFuzzer harness for the Midea SmartHome cloud's reply reader (protocols/midea_cloud/smarthome_reply.h):
// `cloudless keys midea` reads these answers from the network (docs/midea_cloud.md §5).
//
// Invariants (a violation aborts, so libFuzzer reports it as a crash):
//  1. parse_reply never throws, crashes or recurses without bound, on any input.
//  2. An accepted reply's message is printable ASCII of at most 163 characters (160 + "...").
//  3. On any accepted reply, the login id, login session and token list readers and describe_refusal
//     for every step never throw; describe_refusal always says something.
//  4. A token pair read is 128 + 64 lower-case hex digits, for the udpid that was asked.
// Seeds: tests/fuzz/corpus/midea_cloud_reply/ (success, 3004, 3201, 9999, login answers).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocols/midea_cloud/smarthome_reply.h"

namespace {

using namespace cloudless::midea_cloud;

#define FUZZ_CHECK(condition)                                                                  \
  do {                                                                                         \
    if (!(condition)) {                                                                        \
      std::fprintf(stderr, "invariant failed: %s (%s:%d)\n", #condition, __FILE__, __LINE__); \
      std::abort();                                                                            \
    }                                                                                          \
  } while (false)

bool lower_hex(const std::string& text, std::size_t size) {
  return text.size() == size &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const cloudless::Result<CloudReply> reply = parse_reply(text);
  if (!reply) return 0;
  FUZZ_CHECK(reply->message.size() <= 163);
  FUZZ_CHECK(std::all_of(reply->message.begin(), reply->message.end(), [](char c) { return c >= 0x20 && c <= 0x7e; }));
  for (const Step step : {Step::login_id, Step::login, Step::get_token}) {
    FUZZ_CHECK(!describe_refusal(step, *reply, 151732605161920, false).empty());
    FUZZ_CHECK(!describe_refusal(step, *reply, 0, true).empty());
  }
  (void)read_login_id(reply->data);
  (void)read_login_session(reply->data);
  const auto pair = read_token_pair(reply->data, "4fbe0d4139de99cc88a0285e14657045");
  if (pair) {
    FUZZ_CHECK(lower_hex(pair->token_hex, 128));
    FUZZ_CHECK(lower_hex(pair->key_hex, 64));
  }
  return 0;
}
