// Cost per packet of the miIO codec: build+encrypt a request, and decrypt+parse a reply, with the
// same token and payloads as bench/miio_codec_python.py uses for python3-miio. Prints JSON.
#include <chrono>
#include <cstdio>
#include <string>

#include "protocols/miio/packet.h"
#include "protocols/miio/rpc.h"

using namespace cloudless;
using namespace cloudless::miio;

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::stoi(argv[1]) : 200000;
  const Token token = *parse_token("00112233445566778899aabbccddeeff");
  const PacketKeys keys(token);  // derived once, as a session does
  // docs/miio.md §6.7 vectors 5 and 6: a MIoT get_properties request and its reply.
  const nlohmann::json params = nlohmann::json::parse(
      R"([{"did":"power","siid":2,"piid":1},{"did":"electric_power","siid":5,"piid":6}])");
  const std::string reply_text =
      R"({"id":3,"result":[{"did":"power","siid":2,"piid":1,"code":0,"value":true},{"did":"electric_power","siid":5,"piid":6,"code":0,"value":1500}],"exe_time":40})";
  const Bytes reply_packet = encode_message(token, 0x0badcafe, 0x3ec, as_bytes(reply_text));

  using Clock = std::chrono::steady_clock;
  std::size_t sink = 0;
  auto start = Clock::now();
  for (int i = 0; i < iterations; ++i) {
    const std::string text = encode_request(3 + i % 1000, "get_properties", params);
    sink += encode_message(keys, 0x0badcafe, 0x3eb + i, as_bytes(text)).size();
  }
  const double build_ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / iterations;

  start = Clock::now();
  for (int i = 0; i < iterations; ++i) {
    auto message = decode_message(keys, reply_packet);
    auto reply = parse_reply(message->payload);
    sink += reply->result.size();
  }
  const double parse_ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / iterations;
  std::printf("{\"iterations\": %d, \"build_encrypt_ns\": %.1f, \"decrypt_parse_ns\": %.1f, \"sink\": %zu}\n",
              iterations, build_ns, parse_ns, sink);
  return 0;
}
