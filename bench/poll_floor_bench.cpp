// What a poll costs when our own code costs nothing: the floor under `cloudless`'s CPU per poll.
//
// The same parts as the daemon, with the work in between taken out: one UDP socket per plug on one
// Asio loop, every plug's request sent in one wake-up of a 1 s grid, one datagram back per request
// (the size of a miIO request and reply), and for each reply one state message through Paho MQTT C++
// at QoS 0, handed over in batches every 20 ms as the bridge does. No AES, no MD5, no JSON. The plugs
// are a forked child echoing datagrams on 127.0.2.x, so their CPU is not ours.
//
// Usage: bench_poll_floor BROKER_URI PLUGS SECONDS   (prints one JSON object)
#include <sys/resource.h>
#include <sys/wait.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio.hpp>
#include <mqtt/async_client.h>

namespace asio = boost::asio;
using udp = asio::ip::udp;

namespace {

constexpr std::size_t kRequestSize = 96;  // a miIO get_properties request: 32-byte header + 64 bytes
constexpr std::size_t kReplySize = 208;   // its reply with two properties
constexpr int kPort = 54400;

udp::endpoint plug_endpoint(int i) {
  return {asio::ip::make_address_v4("127.0.2." + std::to_string(i + 1)), static_cast<unsigned short>(kPort)};
}

// The plugs: one socket each, answering every datagram with kReplySize bytes. Ends after `seconds`.
[[noreturn]] void run_plugs(int plugs, int seconds, int ready_fd) {
  asio::io_context io;
  std::vector<std::unique_ptr<udp::socket>> sockets;
  for (int i = 0; i < plugs; ++i) sockets.push_back(std::make_unique<udp::socket>(io, plug_endpoint(i)));
  std::vector<pollfd> fds;
  for (auto& s : sockets) fds.push_back({s->native_handle(), POLLIN, 0});
  const char ok = 1;
  (void)!write(ready_fd, &ok, 1);
  std::array<char, 2048> buffer{};
  const std::array<char, kReplySize> reply{};
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (::poll(fds.data(), fds.size(), 200) <= 0) continue;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      udp::endpoint from;
      boost::system::error_code error;
      sockets[i]->receive_from(asio::buffer(buffer), from, 0, error);
      if (!error) sockets[i]->send_to(asio::buffer(reply), from, 0, error);
    }
  }
  _exit(0);
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);  // every thread: ours and Paho's
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

struct Plug {
  udp::socket socket;
  std::array<char, 2048> buffer{};
  udp::endpoint sender;
  std::string topic;
  explicit Plug(asio::io_context& io) : socket(io, udp::v4()) {}
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s BROKER_URI PLUGS SECONDS\n", argv[0]);
    return 2;
  }
  const std::string broker = argv[1];
  const int plugs = std::stoi(argv[2]);
  const int seconds = std::stoi(argv[3]);
  constexpr int kWarmup = 3;

  int ready[2];
  if (pipe(ready) != 0) return 1;
  const pid_t child = fork();
  if (child == 0) run_plugs(plugs, seconds + kWarmup + 10, ready[1]);
  char byte = 0;
  if (read(ready[0], &byte, 1) != 1) return 1;

  mqtt::async_client client(broker, "bench-poll-floor", mqtt::create_options(MQTTVERSION_3_1_1));
  client.connect(mqtt::connect_options_builder().clean_session().finalize())->wait();

  asio::io_context io;
  std::vector<std::unique_ptr<Plug>> all;
  for (int i = 0; i < plugs; ++i) {
    all.push_back(std::make_unique<Plug>(io));
    all.back()->topic = "cloudless/floor" + std::to_string(i);
  }
  const std::array<char, kRequestSize> request{};
  const std::string state(170, 'x');  // about one plug's state message
  std::vector<const std::string*> batch;
  asio::steady_timer flush(io), grid(io);
  long replies = 0;

  std::function<void(Plug&)> receive = [&](Plug& plug) {
    plug.socket.async_receive_from(asio::buffer(plug.buffer), plug.sender,
                                   [&](const boost::system::error_code& error, std::size_t) {
                                     if (error) return;
                                     ++replies;
                                     if (batch.empty()) {
                                       flush.expires_after(std::chrono::milliseconds(20));
                                       flush.async_wait([&](const boost::system::error_code& e) {
                                         if (e) return;
                                         for (const std::string* topic : batch) client.publish(*topic, state.data(), state.size(), 0, false);
                                         batch.clear();
                                       });
                                     }
                                     batch.push_back(&plug.topic);
                                     receive(plug);
                                   });
  };
  for (auto& plug : all) receive(*plug);

  std::function<void()> tick = [&] {
    for (int i = 0; i < plugs; ++i) {
      boost::system::error_code error;
      all[i]->socket.send_to(asio::buffer(request), plug_endpoint(i), 0, error);
    }
    grid.expires_at(grid.expiry() + std::chrono::seconds(1));
    grid.async_wait([&](const boost::system::error_code& e) {
      if (!e) tick();
    });
  };
  grid.expires_after(std::chrono::milliseconds(0));
  tick();

  io.run_for(std::chrono::seconds(kWarmup));
  const long replies_before = replies;
  const double cpu_before = cpu_seconds();
  io.run_for(std::chrono::seconds(seconds));
  const double cpu = cpu_seconds() - cpu_before;
  const long answered = replies - replies_before;

  client.disconnect()->wait();
  kill(child, SIGTERM);
  waitpid(child, nullptr, 0);
  std::printf("{\"plugs\": %d, \"seconds\": %d, \"answered_polls\": %ld, \"cpu_seconds\": %.3f, "
              "\"cpu_us_per_answered_poll\": %.1f}\n",
              plugs, seconds, answered, cpu, answered ? 1e6 * cpu / answered : 0.0);
  return answered ? 0 : 1;
}
