// `cloudless keys midea --account EMAIL --password-file F [--host ADDR]…`: the token/key pair of each
// Midea V3 unit from the SmartHome (MSmartHome) cloud, written where the config's token_file/key_file
// can point at it (docs/midea_cloud.md, docs/midea.md §5).
//
//   discovery (broadcast, or each --host) ─▶ V3 units: id, host, port, udpid
//     ─▶ login (login id, then the password proofs) ─▶ per unit and udpid variant: getToken
//       ─▶ one V3 handshake with the pair at the unit ─▶ proved │ refused (next variant) │ no answer
//         ─▶ <dir>/midea_<id>.token and .key (0600, atomic) ─▶ the config lines
//
// Why discovery comes first: it costs nothing, and a run that finds no V3 unit never sends the
// password anywhere. Why the handshake: the cloud hands out a pair for any udpid it is asked about
// (an id read little- instead of big-endian gets a pair the unit refuses); only the unit can say
// which pair is its own. Nothing is written for a unit unless the cloud issued a pair and the unit
// did not refuse it. The password, token and key are never printed: the files' paths are.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include <boost/asio/io_context.hpp>

#include "daemon/cli/ble_settings.h"
#include "daemon/cli/commands.h"
#include "daemon/cli/keys_commands.h"
#include "daemon/devices/state_store.h"
#include "protocols/common/bytes.h"
#include "protocols/https/url.h"
#include "protocols/midea/ac_commands.h"
#include "protocols/midea/discovery_codec.h"
#include "protocols/midea/frame_v3.h"
#include "protocols/midea/lan_discovery.h"
#include "protocols/midea/lan_session.h"
#include "protocols/midea_cloud/smarthome_client.h"

namespace cloudless::cli {

namespace asio = boost::asio;

namespace {

constexpr const char* kDefaultConfig = "/etc/cloudless/config.yaml";
constexpr const char* kDefaultStateDir = "/var/lib/cloudless";

struct KeysMideaOptions {
  std::string account;
  std::string password_file;
  std::vector<std::string> hosts;  // empty: broadcast discovery
  std::uint64_t id = 0;            // with one --host: skip discovery (a unit that does not answer it)
  std::uint16_t port = 0;          // with --id: the unit's TCP port (default 6444)
  std::string output_dir;          // empty: state_dir of the config, else /var/lib/cloudless
  std::string config_path = kDefaultConfig;
  bool force = false;
  std::string ca_file;
  std::string cloud = "smarthome";
  std::string cloud_base;  // tests: a fake cloud on loopback
  std::vector<std::uint16_t> discovery_ports;
  double timeout_s = 10;
};

void fail_line(const std::string& text) { std::fprintf(stderr, "cloudless: keys midea: %s\n", text.c_str()); }

std::chrono::milliseconds seconds_to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

// The password file's first line ("-": standard input), without its line end. nullopt (said) when
// it cannot be read or is empty.
std::optional<std::string> read_password(const std::string& path) {
  std::string line;
  if (path == "-") {
    std::getline(std::cin, line);
  } else {
    std::ifstream in(path);
    if (!in) {
      fail_line("--password-file: cannot read " + path);
      return std::nullopt;
    }
    std::getline(in, line);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) {
    fail_line("--password-file: " + std::string(path == "-" ? "standard input" : path) + " holds no password");
    return std::nullopt;
  }
  return line;
}

// ---- the units ----------------------------------------------------------------------------------

struct Unit {
  std::string host;
  std::uint16_t port = midea::kDefaultDevicePort;
  std::uint64_t id = 0;
  std::vector<midea::UdpidVariant> variants;  // the udpids to ask the cloud for, most likely first
};

// The variant the unit's discovery trailer names, when it names one; else big-endian first (what
// every trailer seen so far matched), then little-endian (what msmart tries first).
std::vector<midea::UdpidVariant> variants_for(const midea::DiscoveredAppliance& appliance) {
  if (appliance.reply.trailer) {
    if (auto variant = midea::match_udpid(appliance.reply.appliance_id, *appliance.reply.trailer)) return {*variant};
  }
  return {midea::UdpidVariant::big_endian_6, midea::UdpidVariant::little_endian_6};
}

// Midea discovery at each --host (or by broadcast), all at once on one io_context. V2 units are
// named and left out: they need no pair. nullopt (said) when discovery could not run at all.
std::optional<std::vector<Unit>> discover_units(const KeysMideaOptions& options) {
  asio::io_context io;
  const std::vector<std::string> targets =
      options.hosts.empty() ? std::vector<std::string>{"255.255.255.255"} : options.hosts;
  std::vector<midea::DiscoveredAppliance> found;
  std::vector<std::string> errors;
  std::vector<std::shared_ptr<midea::LanDiscovery>> discoveries;
  for (const std::string& target : targets) {
    midea::LanDiscoveryOptions discovery_options;
    discovery_options.target = target;
    if (!options.discovery_ports.empty()) discovery_options.ports = options.discovery_ports;
    discovery_options.timeout = std::min(seconds_to_ms(options.timeout_s), std::chrono::milliseconds(5000));
    auto discovery = midea::LanDiscovery::create(io, discovery_options);
    discovery->start([&, target](std::vector<midea::DiscoveredAppliance> appliances, const std::string& error) {
      if (!error.empty()) errors.push_back(target + ": " + error);
      std::move(appliances.begin(), appliances.end(), std::back_inserter(found));
    });
    discoveries.push_back(discovery);
  }
  io.run();
  if (found.empty() && !errors.empty()) {
    fail_line("discovery at " + errors.front());
    return std::nullopt;
  }
  std::vector<Unit> units;
  for (const midea::DiscoveredAppliance& appliance : found) {
    const std::uint64_t id = appliance.reply.appliance_id;
    const bool seen = std::any_of(units.begin(), units.end(), [&](const Unit& unit) { return unit.id == id; });
    if (seen) continue;
    if (appliance.reply.version < 3) {
      std::printf("midea %s  id=%" PRIu64 "  V2: needs no token/key\n", appliance.sender.c_str(), id);
      continue;
    }
    Unit unit;
    unit.host = appliance.sender;
    unit.id = id;
    if (appliance.reply.port != 0) unit.port = appliance.reply.port;
    unit.variants = variants_for(appliance);
    units.push_back(std::move(unit));
  }
  return units;
}

// ---- the proof: one V3 handshake ------------------------------------------------------------------

enum class Proof { proved, refused, no_answer };

struct ProofResult {
  Proof proof = Proof::no_answer;
  std::string detail;
};

// Connects and handshakes with the pair, then stops: the unit either proves it holds the same key
// (its answer decrypts and verifies under it), refuses, or does not answer. No command is executed
// (the state query that starts the session is stopped once the handshake succeeded).
ProofResult prove_pair(const Unit& unit, const midea::V3Token& token, const midea::V3Key& key,
                       std::chrono::milliseconds timeout) {
  asio::io_context io;
  midea::LanSessionOptions session_options;
  session_options.host = unit.host;
  session_options.port = unit.port;
  session_options.appliance_id = unit.id;
  session_options.token = token;
  session_options.key = key;
  session_options.timeout = timeout;
  session_options.retries = 1;
  auto session = midea::LanSession::create(io, session_options);
  ProofResult result;
  bool decided = false;
  session->on_link([&](midea::LinkEvent event, const std::string& detail) {
    if (decided || event == midea::LinkEvent::disconnected) return;
    decided = true;
    result.proof = event == midea::LinkEvent::connected ? Proof::proved : Proof::refused;
    result.detail = detail;
    session->stop();
  });
  session->request(midea::encode_ac_query_state(1), midea::body_type::kState,
                   [&](const midea::RequestResult& outcome) {
                     if (decided) return;
                     decided = true;
                     result.proof = outcome.failure == midea::RequestFailure::authentication ? Proof::refused
                                                                                            : Proof::no_answer;
                     result.detail = outcome.detail;
                     session->stop();
                   });
  io.run();
  return result;
}

// ---- the files ----------------------------------------------------------------------------------

struct PairFiles {
  std::string directory;
  std::string token_path;
  std::string key_path;
};

PairFiles files_for(const std::string& directory, std::uint64_t id) {
  const std::string base = directory + "/midea_" + std::to_string(id);
  return {directory, base + ".token", base + ".key"};
}

// What a pair file holds now: its hex digits (trimmed), "" when absent.
std::optional<std::string> existing_hex(const std::string& path, std::string& problem) {
  const StateFileText file = read_state_file(path);
  if (file.status == StateFileText::Status::missing) return std::string();
  if (file.status != StateFileText::Status::ok) {
    problem = path + ": " + (file.problem.empty() ? "unreadable" : file.problem);
    return std::nullopt;
  }
  std::string text = file.text;
  text.erase(std::remove_if(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c) != 0; }),
             text.end());
  return text;
}

// Run as root into a directory that belongs to someone else (state_dir, owned by the daemon's user):
// the files go to that owner, else the daemon could not read them. O_NOFOLLOW + fchown: a link the
// directory's owner put in place of the file is never followed with root's rights.
std::string give_to_directory_owner(const std::string& directory, const std::string& path) {
  struct stat dir_info {};
  if (::geteuid() != 0 || ::stat(directory.c_str(), &dir_info) != 0 || dir_info.st_uid == 0) return {};
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return "cannot open " + path + " to hand it to the directory's owner";
  struct stat file_info {};
  const bool ok = ::fstat(fd, &file_info) == 0 && S_ISREG(file_info.st_mode) &&
                  ::fchown(fd, dir_info.st_uid, dir_info.st_gid) == 0;
  ::close(fd);
  return ok ? std::string() : "cannot hand " + path + " to the owner of " + directory;
}

// Writes both files unless they hold a different pair and --force is not given. "" or the problem;
// `unchanged` when they already held this very pair.
std::string save_pair(const PairFiles& files, const midea_cloud::TokenPair& pair, bool force, bool& unchanged) {
  std::string problem;
  const auto old_token = existing_hex(files.token_path, problem);
  const auto old_key = old_token ? existing_hex(files.key_path, problem) : std::nullopt;
  if (!old_token || !old_key) return problem;
  unchanged = *old_token == pair.token_hex && *old_key == pair.key_hex;
  if (unchanged) return {};
  const bool other_pair = !old_token->empty() || !old_key->empty();
  if (other_pair && !force)
    return files.token_path + " or " + files.key_path + " holds a different pair; --force replaces it";
  const std::pair<std::string, std::string> contents[] = {{files.token_path, pair.token_hex},
                                                          {files.key_path, pair.key_hex}};
  for (const auto& [path, hex] : contents) {
    if (std::string error = write_file_atomically(path, hex + "\n"); !error.empty()) return error;
    if (std::string error = give_to_directory_owner(files.directory, path); !error.empty()) return error;
  }
  return {};
}

// The output directory, created (0750) when missing. "" or why it cannot be used.
std::string prepare_directory(const std::string& directory) {
  if (::access(directory.c_str(), F_OK) != 0) return ensure_state_dir(directory);
  if (::access(directory.c_str(), W_OK) != 0) return "cannot write to " + directory;
  return {};
}

// ---- one unit: getToken per udpid variant, then the proof -------------------------------------

struct UnitOutcome {
  bool saved = false;
  std::string line;  // what the run says about the unit
  PairFiles files;
};

UnitOutcome fetch_unit(midea_cloud::SmartHomeClient& cloud, const Unit& unit, const KeysMideaOptions& options,
                       const std::string& directory) {
  UnitOutcome outcome;
  outcome.files = files_for(directory, unit.id);
  std::optional<midea_cloud::TokenPair> unproved;  // issued, but the unit did not answer the handshake
  std::string first_problem;
  for (const midea::UdpidVariant variant : unit.variants) {
    const std::string udpid = to_hex(midea::derive_udpid(unit.id, variant));
    Result<midea_cloud::TokenPair> pair = cloud.get_token(udpid, unit.id);
    if (!pair) {
      if (first_problem.empty()) first_problem = pair.error().what;
      // The account-level refusal is the same for every udpid: asking again only repeats it.
      if (cloud.last_refusal_code() == midea_cloud::kCodeNoPermission) break;
      continue;
    }
    const auto token = midea::parse_v3_token(pair->token_hex);
    const auto key = midea::parse_v3_key(pair->key_hex);
    if (!token || !key) continue;  // read_token_pair checked the digits: cannot happen
    const ProofResult proof = prove_pair(unit, *token, *key, seconds_to_ms(options.timeout_s));
    if (proof.proof == Proof::refused) {
      if (first_problem.empty())
        first_problem = "the unit refused the pair the cloud issued for udpid " + udpid + " (" + proof.detail + ")";
      continue;
    }
    if (proof.proof == Proof::no_answer) {
      // Another udpid could not be proved either: keep the likeliest pair (big-endian, or the one
      // the unit's discovery trailer named) and let `midea query` try it when the unit is back.
      unproved = *pair;
      break;
    }
    bool unchanged = false;
    if (std::string error = save_pair(outcome.files, *pair, options.force, unchanged); !error.empty()) {
      outcome.line = "udpid=" + udpid + "  not saved: " + error;
      return outcome;
    }
    outcome.saved = true;
    outcome.line = "udpid=" + udpid + "  ok (handshake proved the pair)" + (unchanged ? ", files unchanged" : "");
    return outcome;
  }
  if (unproved) {
    bool unchanged = false;
    if (std::string error = save_pair(outcome.files, *unproved, options.force, unchanged); !error.empty()) {
      outcome.line = "not saved: " + error;
      return outcome;
    }
    outcome.saved = true;
    outcome.line = "saved, not proved (unit did not answer)";
    return outcome;
  }
  outcome.line = first_problem.empty() ? "no pair" : first_problem;
  return outcome;
}

// ---- the run ------------------------------------------------------------------------------------

// --cloud, --cloud-base and --ca-file → the client's options; nullopt (said) when refused.
std::optional<midea_cloud::SmartHomeClientOptions> cloud_options(const KeysMideaOptions& options, int& exit_code) {
  exit_code = kExitUsage;
  if (options.cloud == "nethome") {
    fail_line("NetHome Plus cannot issue a token/key pair: its getToken answers 9999 \"system error\" for every "
              "account since August 2026. Use a SmartHome (MSmartHome) account (the default --cloud smarthome).");
    exit_code = kExitFailure;
    return std::nullopt;
  }
  midea_cloud::SmartHomeClientOptions cloud;
  cloud.ca_file = options.ca_file;
  cloud.timeout = seconds_to_ms(options.timeout_s);
  if (!options.cloud_base.empty()) {
    const auto url = https::parse_url(options.cloud_base);
    if (!url || !https::is_loopback_host(url->host)) {
      fail_line("--cloud-base: only an https:// URL on a loopback address is accepted (it exists for tests)");
      return std::nullopt;
    }
    cloud.base_url = options.cloud_base;
  }
  return cloud;
}

std::string output_directory(const KeysMideaOptions& options, bool config_given, int& exit_code) {
  if (!options.output_dir.empty()) return options.output_dir;
  const auto settings = load_ble_settings(options.config_path, config_given, exit_code);
  if (!settings) return {};
  return settings->state_dir.empty() ? kDefaultStateDir : settings->state_dir;
}

void print_config_lines(const std::vector<std::pair<Unit, PairFiles>>& saved) {
  if (saved.empty()) return;
  std::printf("\n# config.yaml: under devices:\n");
  for (const auto& [unit, files] : saved) {
    std::printf("  midea_%" PRIu64 ":\n    protocol: midea\n    host: %s\n", unit.id, unit.host.c_str());
    if (unit.port != midea::kDefaultDevicePort) std::printf("    port: %u\n", unit.port);
    std::printf("    id: %" PRIu64 "\n    token_file: %s\n    key_file: %s\n", unit.id, files.token_path.c_str(),
                files.key_path.c_str());
  }
}

int run_keys_midea(const KeysMideaOptions& options, bool config_given) {
  // ---- arguments (exit 2) ----
  if (!(options.timeout_s >= 0.1 && options.timeout_s <= 120)) {
    fail_line("--timeout: must be from 0.1 to 120 seconds");
    return kExitUsage;
  }
  if (options.id != 0 && options.hosts.size() != 1) {
    fail_line("--id goes with exactly one --host");
    return kExitUsage;
  }
  int exit_code = kExitUsage;
  const auto cloud = cloud_options(options, exit_code);
  if (!cloud) return exit_code;
  const auto password = read_password(options.password_file);
  if (!password) return kExitUsage;
  const std::string directory = output_directory(options, config_given, exit_code);
  if (directory.empty()) return exit_code;

  // ---- the units (no cloud yet) ----
  std::vector<Unit> units;
  if (options.id != 0) {
    Unit unit;
    unit.host = options.hosts.front();
    unit.id = options.id;
    if (options.port != 0) unit.port = options.port;
    unit.variants = {midea::UdpidVariant::big_endian_6, midea::UdpidVariant::little_endian_6};
    units.push_back(unit);
  } else {
    auto discovered = discover_units(options);
    if (!discovered) return kExitFailure;
    units = std::move(*discovered);
  }
  if (units.empty()) {
    fail_line("no Midea V3 unit answered discovery (" +
              std::string(options.hosts.empty() ? "broadcast: units on other subnets cannot hear it; try --host"
                                                : "give --id with --host for a unit that does not answer it") +
              ")");
    return kExitFailure;
  }
  if (std::string problem = prepare_directory(directory); !problem.empty()) {
    fail_line(problem);
    return kExitFailure;
  }

  // ---- the cloud ----
  midea_cloud::SmartHomeClient client(*cloud);
  if (Result<midea_cloud::LoginSession> session = client.login(options.account, *password); !session) {
    fail_line(session.error().what);
    return kExitFailure;
  }
  bool all_saved = true;
  std::vector<std::pair<Unit, PairFiles>> saved;
  for (const Unit& unit : units) {
    const UnitOutcome outcome = fetch_unit(client, unit, options, directory);
    if (!outcome.saved) {
      // A refusal is the run's error for this unit: stderr, one line; the other units go on.
      fail_line(unit.host + " id=" + std::to_string(unit.id) + ": " + outcome.line);
      all_saved = false;
      continue;
    }
    std::printf("midea %s  id=%" PRIu64 "  %s\n", unit.host.c_str(), unit.id, outcome.line.c_str());
    std::printf("  token_file: %s\n  key_file: %s\n", outcome.files.token_path.c_str(), outcome.files.key_path.c_str());
    saved.emplace_back(unit, outcome.files);
  }
  print_config_lines(saved);
  return all_saved ? kExitOk : kExitFailure;
}

}  // namespace

KeysCommand add_keys_midea_command(CLI::App& keys) {
  auto options = std::make_shared<KeysMideaOptions>();
  auto* command = keys.add_subcommand(
      "midea", "Midea V3 token/key from the SmartHome (MSmartHome) cloud, proved with one handshake at the unit");
  command->footer(
      "Discovers the V3 units (broadcast, or each --host), logs in to the SmartHome cloud with your account, asks "
      "for each unit's token/key pair (getToken with its udpid and appliance id) and tries the pair with one V3 "
      "handshake at the unit: \"ok\" only when the unit accepts it. Writes <dir>/midea_<id>.token and .key (mode "
      "0600) and prints the config lines. The unit must be in this account (add it in the SmartHome app), else "
      "the cloud answers 3201 \"no permission\". NetHome Plus accounts cannot get pairs any more (9999 since "
      "August 2026). Exit 0 when every unit got a pair, 1 otherwise, 2 on bad options.");
  command->add_option("--account", options->account, "SmartHome (MSmartHome) account, usually an email address")
      ->required();
  command->add_option("--password-file", options->password_file,
                      "file whose first line is the account's password (\"-\": standard input)")
      ->required();
  command->add_option("--host", options->hosts, "a unit's address (repeatable; default: broadcast discovery)");
  command->add_option("--id", options->id, "appliance id, with one --host: for a unit that does not answer discovery");
  command->add_option("--output-dir", options->output_dir,
                      "where midea_<id>.token/.key go (default: state_dir of the config, else /var/lib/cloudless)");
  command->add_option("--config", options->config_path, "configuration file (for state_dir)")->capture_default_str();
  command->add_flag("--force", options->force, "replace files that hold a different pair");
  command->add_option("--ca-file", options->ca_file, "trust these CA certificates instead of the system's");
  command->add_option("--cloud", options->cloud, "smarthome (default); nethome only says why it cannot work")
      ->check(CLI::IsMember({"smarthome", "nethome"}));
  command->add_option("--timeout", options->timeout_s, "seconds per cloud request and per unit step")
      ->capture_default_str();
  // Test-only: a fake cloud on loopback, free ports for the simulated units.
  command->add_option("--cloud-base", options->cloud_base, "base URL of the cloud (loopback only)")->group("");
  command->add_option("--discovery-port", options->discovery_ports, "Midea discovery UDP port (repeatable)")
      ->group("");
  command->add_option("--port", options->port, "the unit's TCP port with --id")->group("");
  return {command, [options, command] {
            const bool config_given = command->get_option("--config")->count() > 0;
            return run_keys_midea(*options, config_given);
          }};
}

}  // namespace cloudless::cli
