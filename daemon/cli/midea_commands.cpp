// `cloudless midea query`: connect to one Midea appliance (V2, or V3 with the token/key handshake),
// read its capabilities and its state once, and print the state exactly as the daemon would
// publish it (daemon/devices/midea_ac_state_json.h), then the capabilities summary.
// Without --id, Midea discovery at --host first learns the appliance id and V2/V3.
#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "daemon/cli/commands.h"
#include "daemon/devices/midea_ac_state_json.h"
#include "protocols/common/bytes.h"
#include "protocols/midea/ac_client.h"
#include "protocols/midea/discovery_codec.h"
#include "protocols/midea/lan_discovery.h"
#include "protocols/midea/lan_session.h"

namespace cloudless::cli {

namespace asio = boost::asio;

namespace {

std::chrono::milliseconds seconds_to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

std::string trimmed(std::string text) {
  const auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  text.erase(text.begin(), std::find_if_not(text.begin(), text.end(), space));
  text.erase(std::find_if_not(text.rbegin(), text.rend(), space).base(), text.end());
  return text;
}

// The hex digits of --token/--key, or of the file that holds them. nullopt (with a message) when
// the file cannot be read or both forms are given.
std::optional<std::string> secret_text(const std::string& inline_value, const std::string& file,
                                       const char* name) {
  if (file.empty()) return inline_value;
  if (!inline_value.empty()) {
    std::fprintf(stderr, "cloudless: give --%s or --%s-file, not both\n", name, name);
    return std::nullopt;
  }
  std::ifstream in(file);
  if (!in) {
    std::fprintf(stderr, "cloudless: --%s-file: cannot read %s\n", name, file.c_str());
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  return trimmed(text.str());
}

// One poll by midea::AcClient, the daemon's own sequence: capabilities (all pages), state, then
// power/energy and humidity where the unit has them. What went wrong on the way becomes notes.
class QueryRun {
 public:
  QueryRun(asio::io_context& io, std::shared_ptr<midea::LanSession> session, midea::EnergyFormat format,
           std::chrono::milliseconds overall)
      : session_(std::move(session)),
        client_(
            [this](Bytes frame, std::uint8_t reply_body_type, midea::LanSession::Callback done) {
              session_->request(std::move(frame), reply_body_type, std::move(done));
            },
            format, events()),
        deadline_(io) {
    // Every request is bounded by the session; this only guards against a session that never calls back.
    deadline_.expires_after(overall);
    deadline_.async_wait([this](const boost::system::error_code& error) {
      if (error || done_) return;
      failure = midea::RequestResult{midea::RequestFailure::timeout, {}, "no result in time"};
      failed_step = "query";
      finish();
    });
  }

  void start() {
    client_.poll([this](const midea::AcPollOutcome& outcome) {
      for (const std::string& step : outcome.unanswered) notes.push_back("no answer to the " + step + " query");
      if (outcome.failure && !outcome.state_read) {
        failure = outcome.failure;
        failed_step = outcome.step;
      } else if (outcome.failure) {
        notes.push_back("the " + outcome.step + " failed: " +
                        std::string(midea::request_failure_name(outcome.failure->failure)) +
                        (outcome.failure->detail.empty() ? "" : ": " + outcome.failure->detail));
      }
      finish();
    });
  }

  const midea::AcClient& client() const { return client_; }

  MideaAcReadings readings;
  std::optional<midea::RequestResult> failure;
  std::string failed_step;
  std::vector<std::string> notes;  // rejected frames and skipped steps, for stderr

 private:
  midea::AcClientEvents events() {
    midea::AcClientEvents events;
    events.group_data = [this](const midea::AcGroupData& data, bool) {
      if (data.power) readings.power = data.power;
      if (data.total_energy) readings.energy = data.total_energy;
      if (data.indoor_humidity) readings.indoor_humidity = data.indoor_humidity;
    };
    events.meter_absent = [this](const std::string& why) { notes.push_back(why); };
    events.reject = [this](const std::string& what) { notes.push_back("unreadable answer: " + what); };
    return events;
  }

  void finish() {
    if (done_) return;
    done_ = true;
    deadline_.cancel();
    session_->stop();
  }

  std::shared_ptr<midea::LanSession> session_;
  midea::AcClient client_;
  asio::steady_timer deadline_;
  bool done_ = false;
};

}  // namespace

int midea_query(const MideaQueryOptions& options) {
  // ---- arguments (exit 2) ----
  const auto token_hex = secret_text(options.token, options.token_file, "token");
  const auto key_hex = secret_text(options.key, options.key_file, "key");
  if (!token_hex || !key_hex) return kExitUsage;
  std::optional<midea::V3Token> token;
  std::optional<midea::V3Key> key;
  if (!token_hex->empty()) {
    token = midea::parse_v3_token(*token_hex);
    if (!token) {
      std::fprintf(stderr, "cloudless: --token: expected 128 hex digits\n");
      return kExitUsage;
    }
  }
  if (!key_hex->empty()) {
    key = midea::parse_v3_key(*key_hex);
    if (!key) {
      std::fprintf(stderr, "cloudless: --key: expected 64 hex digits\n");
      return kExitUsage;
    }
  }
  if (token.has_value() != key.has_value()) {
    std::fprintf(stderr, "cloudless: --token and --key go together (V3 appliances need both, older ones neither)\n");
    return kExitUsage;
  }
  const auto format = midea::energy_format_from_name(options.energy_format);
  if (!format) {
    std::fprintf(
        stderr,
        "cloudless: --energy-format: must be one of bcd, binary, mixed, binary_centi, bcd_energy_binary_power\n");
    return kExitUsage;
  }
  if (!(options.timeout_s >= 0.1 && options.timeout_s <= 60)) {
    std::fprintf(stderr, "cloudless: --timeout: must be from 0.1 to 60 seconds\n");
    return kExitUsage;
  }

  asio::io_context io;
  std::uint64_t id = options.id;
  std::uint16_t port = options.port;

  // ---- without --id: ask the appliance who it is ----
  if (id == 0) {
    midea::LanDiscoveryOptions discovery_options;
    discovery_options.target = options.host;
    if (!options.discovery_ports.empty()) discovery_options.ports = options.discovery_ports;
    discovery_options.timeout = std::max(seconds_to_ms(options.timeout_s), std::chrono::milliseconds(2000));
    std::vector<midea::DiscoveredAppliance> found;
    std::string error;
    auto discovery = midea::LanDiscovery::create(io, discovery_options);
    discovery->start([&](std::vector<midea::DiscoveredAppliance> appliances, const std::string& why) {
      found = std::move(appliances);
      error = why;
    });
    io.run();
    io.restart();
    if (!error.empty()) {
      std::fprintf(stderr, "cloudless: discovery at %s: %s\n", options.host.c_str(), error.c_str());
      return kExitFailure;
    }
    if (found.empty()) {
      std::fprintf(stderr,
                   "cloudless: no Midea appliance answered discovery at %s (UDP 6445/20086); is it on and on this "
                   "subnet? Pass --id if you know the appliance id.\n",
                   options.host.c_str());
      return kExitFailure;
    }
    const auto it = std::find_if(found.begin(), found.end(), [&](const midea::DiscoveredAppliance& a) {
      return a.sender == options.host || a.reply.ip_string() == options.host;
    });
    const midea::DiscoveredAppliance& appliance = it != found.end() ? *it : found.front();
    id = appliance.reply.appliance_id;
    if (port == 0 && appliance.reply.port != 0) port = appliance.reply.port;
    if (appliance.reply.version >= 3 && !token) {
      std::fprintf(stderr,
                   "cloudless: %s is a V3 appliance (id %" PRIu64 "): it needs --token and --key.\n"
                   "Its udpid is %s: the Midea cloud issues the token/key pair for this udpid (once; back it up).\n",
                   options.host.c_str(), id, to_hex(appliance.udpid).c_str());
      return kExitUsage;
    }
    if (appliance.reply.version < 3 && token) {
      std::fprintf(stderr, "note: %s is a V2 appliance: it needs no token/key; ignoring them\n", options.host.c_str());
      token.reset();
      key.reset();
    }
  }
  if (port == 0) port = midea::kDefaultDevicePort;

  // ---- capabilities and state ----
  midea::LanSessionOptions session_options;
  session_options.host = options.host;
  session_options.port = port;
  session_options.appliance_id = id;
  session_options.token = token;
  session_options.key = key;
  session_options.timeout = seconds_to_ms(options.timeout_s);
  session_options.retries = 1;
  auto session = midea::LanSession::create(io, session_options);
  std::uint64_t rejected = 0;
  std::string last_reject;
  session->on_reject([&](const std::string& what) {
    ++rejected;
    last_reject = what;
  });
  // Up to 4 capability pages, the state and two groups, each with its attempts, plus the V3 settle time.
  const auto overall = seconds_to_ms(options.timeout_s) * 2 * 8 + std::chrono::seconds(10);
  QueryRun run(io, session, *format, overall);
  run.start();
  io.run();

  const std::string where = options.host + ":" + std::to_string(port);
  for (const std::string& note : run.notes) std::fprintf(stderr, "note: %s\n", note.c_str());
  if (rejected > 0)
    std::fprintf(stderr, "note: rejected %" PRIu64 " bad packet(s) or frame(s); last: %s\n", rejected,
                 last_reject.c_str());
  if (run.failure) {
    const midea::RequestResult& failure = *run.failure;
    switch (failure.failure) {
      case midea::RequestFailure::authentication:
        // The session's detail already starts with the phrase users look for.
        if (failure.detail.find("authentication failed") != std::string::npos)
          std::fprintf(stderr, "%s: %s\n", where.c_str(), failure.detail.c_str());
        else
          std::fprintf(stderr, "%s: authentication failed: check token/key (%s)\n", where.c_str(),
                       failure.detail.c_str());
        break;
      case midea::RequestFailure::unreachable:
        std::fprintf(stderr, "%s: unreachable: %s\n", where.c_str(), failure.detail.c_str());
        break;
      case midea::RequestFailure::timeout:
        std::fprintf(stderr, "%s: no answer to the %s (%s)%s\n", where.c_str(), run.failed_step.c_str(),
                     failure.detail.c_str(),
                     token ? "" : "; a V3 appliance needs --token and --key (run without --id to see the version)");
        break;
      default:
        std::fprintf(stderr, "%s: %s failed: %s: %s\n", where.c_str(), run.failed_step.c_str(),
                     std::string(midea::request_failure_name(failure.failure)).c_str(), failure.detail.c_str());
    }
    return kExitFailure;
  }
  const auto& state_read = run.client().last_state();
  if (!state_read) {
    std::fprintf(stderr, "%s: no state\n", where.c_str());
    return kExitFailure;
  }

  const midea::AcFeatures& features = run.client().features();
  const nlohmann::json state = midea_ac_state_json(*state_read, features, run.readings);
  std::printf("%s\n", state.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  std::printf("appliance: id %" PRIu64 ", %s, %s\n", id, token ? "V3" : "V2", where.c_str());
  std::printf("capabilities%s: %s\n", run.client().capabilities_known() ? "" : " (assumed: no answer to the query)",
              midea_ac_features_summary(features).c_str());
  return kExitOk;
}

}  // namespace cloudless::cli
