// `cloudless keys xiaomi`: QR login to the Mi Home cloud, then every device of every home (own and
// shared) in the chosen regions with its miIO token and, for BLE devices, its bind key
// (docs/xiaomi_cloud.md). One-shot and interactive: the QR code and the progress go to stderr, the
// result (table or `devices:` YAML) to stdout, or to --output (0600) and nowhere else.
//
// Base URLs: --account-base replaces https://account.xiaomi.com; --api-base replaces the regions' API
// servers, "{region}" in it standing for the region name (https://127.0.0.1:8443/{region}/app); without
// "{region}" one server answers for every region. Both are hidden, for tests, and only accept a
// loopback host: nobody is ever sent to another server with their Xiaomi login.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/cli/commands.h"
#include "daemon/cli/keys_commands.h"
#include "daemon/cli/keys_output.h"
#include "daemon/cli/terminal_qr.h"
#include "protocols/https/https_client.h"
#include "protocols/https/url.h"
#include "protocols/xiaomi_cloud/device_listing.h"
#include "protocols/xiaomi_cloud/qr_login.h"
#include "protocols/xiaomi_cloud/regions.h"

namespace cloudless::cli {

namespace {

namespace xc = xiaomi_cloud;

struct KeysXiaomiOptions {
  std::string region = "all";
  bool yaml = false;
  std::string output;
  std::string ca_file;
  double timeout_s = 20;
  std::string account_base;
  std::string api_base;
  double login_timeout_s = 0;  // 0: as long as the cloud's offer stands
};

// Server words end up in our one-line errors: no control characters, bounded.
std::string one_line(std::string text) {
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  if (text.size() > 300) text = text.substr(0, 297) + "...";
  return text;
}

int fail(const std::string& why) {
  std::fprintf(stderr, "cloudless: keys xiaomi: %s\n", one_line(why).c_str());
  return kExitFailure;
}

int usage(const std::string& why) {
  std::fprintf(stderr, "cloudless: keys xiaomi: %s\n", why.c_str());
  return kExitUsage;
}

// "" when `base` may be used; a test base must be https on a loopback host.
std::string check_test_base(const std::string& option, const std::string& base) {
  const std::optional<https::Url> url = https::parse_url(xc::expand_api_base(base, "cn"));
  if (!url) return option + ": not an https URL: " + base;
  if (!https::is_loopback_host(url->host)) {
    return option + ": only a loopback address (127.0.0.1, ::1, localhost) may replace Xiaomi's servers";
  }
  return {};
}

std::vector<std::string> chosen_regions(const std::string& region) {
  if (region != "all") return {region};
  return {xc::kRegions.begin(), xc::kRegions.end()};
}

std::string upper(std::string text) {
  for (char& c : text) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return text;
}

std::string lower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

FoundDevice found_device(const xc::ListedDevice& listed) {
  FoundDevice found;
  found.name = listed.device.name;
  found.model = listed.device.model;
  found.ip = listed.device.ip;
  found.mac = upper(listed.device.mac);
  found.did = listed.device.did;
  found.token = lower(listed.device.token);
  found.bindkey = listed.bindkey;
  found.home = listed.home.shared ? "shared by " + listed.home.owner : listed.home.name;
  if (listed.home.shared && !listed.home.name.empty()) found.home = listed.home.name + " (" + found.home + ")";
  found.region = listed.region;
  return found;
}

class LoginProgress {
 public:
  LoginProgress() : on_terminal_(isatty(STDERR_FILENO) == 1) {}

  void show_offer(const xc::QrLoginOffer& offer) const {
    std::fprintf(stderr,
                 "Scan this code with the Mi Home app (Profile, then the scan icon) and confirm the login there,\n"
                 "or open the link on a phone where Mi Home is logged in:\n\n%s\n%s\n\n",
                 render_terminal_qr(offer.login_url).c_str(), offer.login_url.c_str());
  }

  void show_waiting(std::chrono::seconds waited, std::chrono::seconds total) {
    std::fprintf(stderr, "%swaiting for the confirmation in Mi Home: %lld s of %lld s%s", on_terminal_ ? "\r" : "",
                 static_cast<long long>(waited.count()), static_cast<long long>(total.count()),
                 on_terminal_ ? "   " : "\n");
    waiting_shown_ = true;
  }

  void end_line() {
    if (on_terminal_ && waiting_shown_) std::fprintf(stderr, "\n");
    waiting_shown_ = false;
  }

 private:
  bool on_terminal_;
  bool waiting_shown_ = false;
};

int run_keys_xiaomi(const KeysXiaomiOptions& options) {
  if (options.region != "all" && !xc::is_region(options.region)) {
    return usage("--region: one of cn, de, us, ru, tw, sg, in, i2 or all");
  }
  if (options.timeout_s <= 0 || options.timeout_s > 600) return usage("--timeout: more than 0 and at most 600 s");
  if (options.login_timeout_s < 0 || options.login_timeout_s > 3600) {
    return usage("--login-timeout: 0 (the cloud's own) to 3600 s");
  }
  for (const auto& [option, base] : {std::pair{"--account-base", options.account_base},
                                     std::pair{"--api-base", options.api_base}}) {
    if (base.empty()) continue;
    if (std::string problem = check_test_base(option, base); !problem.empty()) return usage(problem);
  }

  // Found out now, not after the user scanned the code: the file's folder must exist.
  if (!options.output.empty()) {
    const std::filesystem::path folder = std::filesystem::absolute(options.output).parent_path();
    std::error_code error;
    if (!std::filesystem::is_directory(folder, error)) return usage("--output: no such directory: " + folder.string());
  }

  https::ClientOptions client_options;
  client_options.ca_file = options.ca_file;
  client_options.timeout = std::chrono::milliseconds(static_cast<long long>(options.timeout_s * 1000));
  const https::Client client(client_options);

  xc::LoginOptions login_options;
  if (!options.account_base.empty()) login_options.account_base = options.account_base;
  if (options.login_timeout_s > 0) {
    login_options.max_wait = std::chrono::seconds(static_cast<long long>(options.login_timeout_s + 0.999));
  }
  LoginProgress progress;
  xc::LoginEvents events;
  events.on_offer = [&](const xc::QrLoginOffer& offer) { progress.show_offer(offer); };
  events.on_waiting = [&](std::chrono::seconds waited, std::chrono::seconds total) {
    progress.show_waiting(waited, total);
  };
  Result<xc::CloudSession> session = xc::qr_login(client, login_options, events);
  progress.end_line();
  if (!session) return fail(session.error().what);
  std::fprintf(stderr, "logged in as user %s\n", session->user_id.c_str());

  // Region by region, so each outcome shows as soon as it is known.
  std::vector<FoundDevice> found;
  std::map<std::string, bool> seen_dids;  // one server may answer for several regions (--api-base)
  const std::vector<std::string> regions = chosen_regions(options.region);
  std::string last_error;
  std::size_t failed_regions = 0;
  for (const std::string& region : regions) {
    xc::ListingOptions listing;
    listing.regions = {region};
    listing.api_base_template = options.api_base;
    const xc::RegionOutcome outcome = xc::list_devices(client, *session, listing).front();
    if (!outcome.error.empty()) {
      ++failed_regions;
      last_error = region + ": " + outcome.error;
      std::fprintf(stderr, "region %s: failed: %s\n", region.c_str(), one_line(outcome.error).c_str());
      continue;
    }
    std::size_t added = 0;
    for (const xc::ListedDevice& listed : outcome.devices) {
      if (seen_dids[listed.device.did]) continue;
      seen_dids[listed.device.did] = true;
      found.push_back(found_device(listed));
      ++added;
    }
    std::fprintf(stderr, "region %s: %zu device%s\n", region.c_str(), added, added == 1 ? "" : "s");
    for (const std::string& warning : outcome.warnings) {
      std::fprintf(stderr, "region %s: %s\n", region.c_str(), one_line(warning).c_str());
    }
  }
  if (failed_regions == regions.size()) {
    return fail(regions.size() == 1 ? last_error : "no region answered (last: " + last_error + ")");
  }

  const std::string text = options.yaml ? devices_yaml(found) : devices_table(found);
  if (options.output.empty()) {
    std::fputs(text.c_str(), stdout);
    return kExitOk;
  }
  if (std::string problem = write_secret_file(options.output, text); !problem.empty()) {
    return fail("--output: " + problem);
  }
  std::fprintf(stderr, "wrote %zu device%s to %s (mode 0600)\n", found.size(), found.size() == 1 ? "" : "s",
               options.output.c_str());
  return kExitOk;
}

}  // namespace

KeysCommand add_keys_xiaomi_command(CLI::App& keys) {
  auto options = std::make_shared<KeysXiaomiOptions>();
  auto* command = keys.add_subcommand(
      "xiaomi", "log in to the Mi Home cloud with a QR code and list every device with its token and bind key");
  command->footer(
      "Shows a QR code: scan it with the Mi Home app and confirm; no password is asked or sent. Then every home "
      "(your own and those shared with you) in the chosen regions is listed: model, name, IP, MAC, did, miIO "
      "token, and the bind key of every Bluetooth device. Certificates are checked against the system's "
      "trusted store. Nothing is written unless --output is given (mode 0600). A region that fails is "
      "reported; exit 1 only when every region failed, or the login did.");
  command->add_option("--region", options->region, "cn, de, us, ru, tw, sg, in, i2, or all (each one, merged)")
      ->capture_default_str();
  command->add_flag("--yaml", options->yaml, "print a devices: block for config.yaml instead of the table");
  command->add_option("--output", options->output, "write the result to FILE (mode 0600) instead of stdout")
      ->type_name("FILE");
  command->add_option("--ca-file", options->ca_file, "trust only these PEM certificates (default: the system store)")
      ->type_name("FILE");
  command->add_option("--timeout", options->timeout_s, "seconds per HTTPS request")->capture_default_str();
  command->add_option("--account-base", options->account_base, "account server (tests: loopback only)")->group("");
  command->add_option("--api-base", options->api_base, "API server, {region} = region (tests: loopback only)")
      ->group("");
  command->add_option("--login-timeout", options->login_timeout_s, "cap on the QR wait in seconds (tests)")
      ->group("");
  return {command, [options] { return run_keys_xiaomi(*options); }};
}

}  // namespace cloudless::cli
