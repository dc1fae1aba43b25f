// Device kind: a Midea-family air conditioner on the LAN (V2, or V3 with token/key), bridged as a
// Home Assistant climate entity plus sensors and switches. It turns LanSession results into the
// air-conditioner state of docs/contract.md; protocol work stays in protocols/midea.
//
//   start ─▶ poll: [B5 capabilities, page 1..n, once per run] ─▶ 0x41 state query ─▶ C0
//                  ─▶ [group 4 power/energy] ─▶ [group 5 humidity] ─▶ publish ─▶ wait poll_interval
//   command ─▶ validate (synchronously) ─▶ queue one change: 0x40 set built from a copy of the last
//              C0 state ─▶ C0 answer ─▶ [display toggle when it differs] ─▶ C0 answer ─▶ publish
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

#include <boost/asio/steady_timer.hpp>

#include "config/config.h"
#include "daemon/devices/device_context.h"
#include "daemon/devices/energy_counter.h"
#include "daemon/devices/midea_ac_state_json.h"
#include "daemon/devices/poll_loop.h"
#include "daemon/model/device.h"
#include "daemon/devices/state_store.h"
#include "protocols/midea/ac_capabilities.h"
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
  const midea::AcFeatures& features() const { return features_; }
  bool capabilities_known() const { return capabilities_known_; }
  const std::optional<midea::AcState>& last_state() const { return last_state_; }
  std::uint64_t rejected_total() const { return rejects_total_; }
  const midea::LanSessionCounters* session_counters() const { return session_ ? &session_->counters() : nullptr; }

 private:
  // One change a command asked for: the whole state to send with 0x40 (a copy of the last C0 with
  // the named fields changed) and/or the wanted display state (a toggle when it differs).
  struct Change {
    std::optional<midea::AcState> state;
    std::optional<bool> display;
  };

  template <typename Handler>
  midea::LanSession::Callback guarded(Handler handler);
  std::uint8_t next_message_id() { return ++message_id_; }

  void poll();
  void query_capabilities(int page_index);
  void adopt_capabilities(const midea::AcCapabilities& capabilities);
  void capabilities_unanswered(const std::string& why);
  void query_state();
  void query_energy();
  void query_humidity();
  void poll_succeeded();
  void on_poll_failed(const midea::RequestResult& result, std::string_view step);
  void poll_finished();

  bool handle_state_frame(const midea::AcFrame& frame, std::string_view step);
  void on_unsolicited(const midea::AcFrame& frame);
  void on_link(midea::LinkEvent event, const std::string& detail);
  void on_authentication_failed();
  void note_reject(const std::string& what);
  void report_rejects(bool force);

  void start_change();
  void send_set_step();
  void send_display_step();
  void change_failed(const midea::RequestResult& result, std::string_view step);
  void change_finished();

  bool wants_energy() const;
  MideaAcReadings readings() const;
  void publish_full_state();
  void remember(bool urgent);

  config::MideaDeviceConfig config_;
  DeviceContext context_;
  std::shared_ptr<midea::LanSession> session_;
  PollLoop poll_loop_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // callbacks hold a weak_ptr to it
  bool started_ = false;
  std::uint8_t message_id_ = 0;

  // Capabilities: asked once per run; saved pages let a restart declare the right entities at once.
  midea::AcFeatures features_;
  bool capabilities_known_ = false;  // from the unit (this run or saved), not assumed
  bool capabilities_asked_ = false;  // this run
  midea::AcCapabilities pending_capabilities_;
  std::vector<std::string> pending_pages_, saved_pages_;  // B5 bodies, hex
  std::optional<bool> energy_capability_;  // 0x0216 as the unit sent it (absent: try group 4)

  std::optional<midea::AcState> last_state_;
  std::optional<std::uint8_t> indoor_humidity_;
  std::optional<double> power_;
  bool meter_ = false;          // group 4 reported values at least once (declares power/energy)
  bool meter_absent_ = false;   // group 4 showed no meter: stop asking
  int energy_misses_ = 0;
  EnergyCounter energy_;
  bool beep_ = true;  // bridge-side: whether commands make the unit beep

  std::optional<Change> queued_;
  std::optional<Change> in_flight_;
  std::optional<midea::AcState> in_flight_state_;  // what the set in flight asked for: base for more
  bool change_running_ = false;

  model::AvailabilityTracker availability_;
  midea::RequestFailure last_failure_ = midea::RequestFailure::none;
  bool authentication_reported_ = false;

  std::uint64_t rejects_total_ = 0;
  std::uint64_t rejects_pending_ = 0;
  std::string last_reject_;
  std::optional<std::chrono::steady_clock::time_point> last_reject_report_;

  StateFile state_file_;
};

}  // namespace cloudless
