// Device kind: a Xiaomi miIO WiFi plug (legacy get_prop or MIoT get_properties), polled on a timer.
// It turns session results into the plug state of docs/contract.md; protocol work stays in protocols/miio.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/steady_timer.hpp>

#include "config/config.h"
#include "daemon/devices/device_context.h"
#include "daemon/devices/energy_counter.h"
#include "daemon/devices/poll_loop.h"
#include "daemon/model/device.h"
#include "daemon/devices/state_store.h"
#include "protocols/miio/plug_models.h"
#include "protocols/miio/session.h"

namespace cloudless {

// How long to wait for each answer and how many extra attempts to make. What the user configured
// wins; otherwise it follows the poll interval: half of it per attempt, between 1 s and 2 s, with one
// retry below a 5 s poll interval and two above. A silent plug thus fails a poll in 2 s at a 1 s poll
// and in 6 s at the default 10 s, and TimedAvailability can call it offline after about three
// poll intervals (a 2 s × 3 budget at a 1 s poll would take 6 s per failed poll).
struct MiioCallBudget {
  std::chrono::milliseconds timeout;
  int retries;
};
MiioCallBudget miio_call_budget(const config::MiioDeviceConfig& config);

// Availability by time: offline once nothing has answered for `offline_after` and at least two
// attempts in a row went unanswered (one lost datagram is never enough), online again on the first
// answer. The very first call failing decides offline at once: there is no earlier "online" to keep.
class TimedAvailability {
 public:
  using Clock = std::chrono::steady_clock;

  explicit TimedAvailability(Clock::duration offline_after) : offline_after_(offline_after) {}
  // Each returns the new availability when it changed.
  std::optional<bool> on_answer(Clock::time_point now);
  std::optional<bool> on_silence(Clock::time_point now, int unanswered_attempts);
  bool online() const { return online_; }
  // Since the last answer (or since the first silence, when nothing ever answered).
  Clock::duration silent_for(Clock::time_point now) const;

 private:
  Clock::duration offline_after_;
  std::optional<Clock::time_point> last_answer_;
  std::optional<Clock::time_point> first_silence_;
  int unanswered_ = 0;
  bool online_ = false;
  bool decided_ = false;
};

class MiioPlug : public model::Device {
 public:
  using Clock = std::chrono::steady_clock;

  MiioPlug(std::string id, config::MiioDeviceConfig config, DeviceContext context);
  ~MiioPlug() override;

  model::DeviceInfo info() const override;
  std::vector<model::Entity> entities() const override;
  void start() override;
  void stop() override;
  void refresh() override;
  model::CommandError command(const nlohmann::json& changes) override;

  // A command is carried out within this time after it was given, or not at all (with a warning):
  // a switch must never flip long after the user asked, e.g. when an unplugged plug comes back.
  static constexpr std::chrono::seconds kCommandLifetime{5};
  // Switch calls start at least this far apart, however fast /set commands come: a relay is not a
  // strobe. A single command is never delayed by it.
  static constexpr std::chrono::milliseconds kSwitchSpacing{250};
  // The state file is written at most this often (and on stop, and at once when the did, the model
  // or the message-id reservation change). The published energy never runs ahead of what is
  // written, so a crash or a power cut can never make it go backwards.
  static constexpr std::chrono::seconds kStateWriteInterval{30};
  // Message ids are reserved this far ahead on disk, and reserved again when fewer than
  // kIdReserveRefill are left: one write per ~500 requests, and a restarted daemon resumes at
  // least that far above the last id the plug saw.
  static constexpr std::int64_t kIdReservation = 1000;
  static constexpr std::int64_t kIdReserveRefill = 500;

 private:
  enum class Write { if_due, now };
  struct PendingSwitch {
    miio::Quantity quantity;
    bool on = false;
    Clock::time_point given_at;
  };

  void poll();
  void poll_info();
  void poll_state();
  void probe_dialect();
  void settle_dialect(miio::Dialect dialect);
  void poll_miot_batch(std::size_t index, miio::PlugReading reading);
  void on_reading(const miio::PlugReading& reading);
  void on_poll_failed(const miio::CallResult& result, std::string_view step);
  void poll_finished();
  void adopt_model(const std::string& model_name);
  void use_model(miio::PlugModel model);
  void note_answer();
  void note_silence(const miio::CallResult& result);
  void start_next_switch();
  void send_switch(const std::string& key, const PendingSwitch& pending);
  void on_switch_done(const std::string& key, bool on, bool miot, const miio::CallResult& result);
  void on_message_id(std::int64_t id);
  void remember(Write when);
  nlohmann::json state_json() const;
  template <typename Handler>
  miio::Session::Callback guarded(Handler handler);

  config::MiioDeviceConfig config_;
  DeviceContext context_;
  std::shared_ptr<miio::Session> session_;
  PollLoop poll_loop_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // callbacks hold a weak_ptr to it
  bool started_ = false;

  miio::PlugModel model_;  // set through use_model(), which keeps the two below in step
  miio::EncodedParams legacy_get_prop_params_;        // the poll's get_prop parameters
  std::vector<miio::EncodedParams> miot_get_batches_;  // the poll's get_properties calls
  // Read the poll's answers without a DOM (docs/build.md §9): one for all get_properties batches, read
  // one after the other; one for get_prop's values and then get_power's.
  std::shared_ptr<miio::MiotPropertiesReader> miot_reader_ = std::make_shared<miio::MiotPropertiesReader>();
  std::shared_ptr<miio::ScalarListReader> list_reader_ = std::make_shared<miio::ScalarListReader>();
  bool model_known_ = false;
  // False for a model outside the table without a `miot:` mapping until it has answered
  // get_properties or get_prop with values: an error (-9999 comes and goes) decides nothing.
  bool dialect_known_ = false;
  bool probe_warned_ = false;
  std::optional<std::uint32_t> did_;
  std::string firmware_, hardware_;

  // Commands: one switch call at a time, the newest /set per attribute waiting behind it. A reading
  // begun before a command was sent may show the state from before it, so it is not published.
  std::map<std::string, PendingSwitch> pending_switches_;
  std::optional<std::pair<std::string, bool>> switch_in_flight_;
  std::optional<Clock::time_point> last_switch_sent_;
  boost::asio::steady_timer switch_timer_;  // holds the next switch call for kSwitchSpacing
  bool switch_waiting_ = false;
  std::uint64_t commands_sent_ = 0;
  std::uint64_t commands_sent_at_poll_start_ = 0;

  TimedAvailability availability_;
  miio::CallFailure last_failure_ = miio::CallFailure::none;
  EnergyCounter energy_;
  std::optional<double> energy_written_;  // the total in the state file: what is published
  std::optional<std::int64_t> reserved_id_;
  StateFile state_file_;
  nlohmann::json written_;  // what the state file holds, as far as this run knows
  std::optional<Clock::time_point> next_write_;  // when the next periodic write is due; unset: none yet
};

}  // namespace cloudless
