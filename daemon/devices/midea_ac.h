// Device kind: a Midea-family air conditioner on the LAN (V2, or V3 with token/key), bridged as a
// Home Assistant climate entity plus sensors and switches. It turns what midea::AcClient learns
// into the air-conditioner state of docs/contract.md; which queries a poll makes and how commands
// reach the unit is the client's business (protocols/midea/ac_client.h).
//
//   poll (PollLoop) ─▶ client.poll ─▶ C0 ─▶ publish, online ─▶ [power/energy, humidity] ─▶ publish
//   command ─▶ validate against the unit's features (synchronously) ─▶ client.queue_change: a whole
//              state built from the client's command base ─▶ set answer ─▶ publish
//   unsolicited C0 ─▶ publish
//
// Availability: offline after 3 failed polls; a connection the session re-establishes is not a
// failure (the session hides it); a refused V3 handshake is "authentication failed: check
// token/key" and offline at once, retried on the poll timer while the session backs off.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "daemon/devices/device_context.h"
#include "daemon/devices/energy_counter.h"
#include "daemon/devices/midea_ac_state_json.h"
#include "daemon/devices/poll_loop.h"
#include "daemon/model/device.h"
#include "daemon/devices/state_store.h"
#include "protocols/midea/ac_capabilities.h"
#include "protocols/midea/ac_client.h"
#include "protocols/midea/ac_state.h"
#include "protocols/midea/lan_session.h"

namespace cloudless {

class MideaAc : public model::Device {
 public:
  MideaAc(std::string id, config::MideaDeviceConfig config, DeviceContext context);
  ~MideaAc() override;

  model::DeviceInfo info() const override;
  std::vector<model::Entity> entities() const override;
  void start() override;
  void stop() override;
  void refresh() override;
  model::CommandError command(const nlohmann::json& changes) override;

  // For tests and diagnostics.
  const midea::AcFeatures& features() const { return client_.features(); }
  bool capabilities_known() const { return client_.capabilities_known(); }
  const std::optional<midea::AcState>& last_state() const { return client_.last_state(); }
  std::uint64_t rejected_total() const { return rejects_total_; }
  const midea::LanSessionCounters* session_counters() const { return session_ ? &session_->counters() : nullptr; }

 private:
  midea::AcClientEvents client_events();
  void poll();
  void on_state(midea::AcStateSource source);
  void on_capabilities(const midea::AcCapabilities& merged, bool features_changed);
  void on_group_data(const midea::AcGroupData& data, bool meter_found);
  void on_poll_done(const midea::AcPollOutcome& outcome);
  void poll_succeeded();
  void on_poll_failed(const midea::RequestResult& result, std::string_view step);
  void poll_finished();

  void on_unsolicited(const midea::AcFrame& frame);
  void on_link(midea::LinkEvent event, const std::string& detail);
  void on_authentication_failed();
  void note_reject(const std::string& what);
  void report_rejects(bool force);
  void on_change_failed(const midea::RequestResult& result, const std::string& step);

  MideaAcReadings readings() const;
  void publish_full_state();
  void remember(bool urgent);

  config::MideaDeviceConfig config_;
  DeviceContext context_;
  std::shared_ptr<midea::LanSession> session_;
  midea::AcClient client_;  // what to ask, what the unit is; sends through session_
  PollLoop poll_loop_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // callbacks hold a weak_ptr to it
  bool started_ = false;

  std::optional<std::uint8_t> indoor_humidity_;
  std::optional<double> power_;
  EnergyCounter energy_;
  bool beep_ = true;  // bridge-side: whether commands make the unit beep

  model::AvailabilityTracker availability_;
  midea::RequestFailure last_failure_ = midea::RequestFailure::none;
  bool authentication_reported_ = false;

  std::uint64_t rejects_total_ = 0;
  std::uint64_t rejects_pending_ = 0;
  std::string last_reject_;
  std::optional<std::chrono::steady_clock::time_point> last_reject_report_;

  StateFile state_file_;
  // What the last full state was built from, and the state revision it gave: while a poll brings the
  // same and nothing else changed the state since, it is reported again unbuilt (docs/build.md §9).
  struct StateInputs {
    midea::AcState state;
    midea::AcFeatures features;
    MideaAcReadings readings;
    std::uint64_t revision = 0;
  };
  std::optional<StateInputs> published_;
};

}  // namespace cloudless
