// The conversation with one Midea air conditioner, shared by the daemon's device kind and
// `cloudless midea query`: which queries a poll makes and in what order, what the answers teach
// about the unit (its capabilities, whether it has a meter), and commands sent one change at a time.
// It sends through a Requester (LanSession::request in the program, a script in unit tests) and
// reports through AcClientEvents; it owns no socket and no timer. The frames: docs/midea.md §4.
//
//   poll ─▶ [0xB5 capabilities, pages 1..4, until learned once] ─▶ 0x41 state query ─▶ C0
//        ─▶ [group 4 power/energy: the unit claims a meter, or says nothing and has not shown it has none]
//        ─▶ [group 5 humidity: the unit has the sensor] ─▶ done(outcome)
//   change ─▶ 0x40 set (a whole state) ─▶ C0 ─▶ [display toggle, only when the display differs] ─▶ C0
//          ─▶ the change queued meanwhile, if any
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocols/common/bytes.h"
#include "protocols/midea/ac_capabilities.h"
#include "protocols/midea/ac_commands.h"
#include "protocols/midea/ac_frame.h"
#include "protocols/midea/ac_group_data.h"
#include "protocols/midea/ac_state.h"
#include "protocols/midea/lan_session.h"

namespace cloudless::midea {

enum class AcStateSource { poll, set_answer, display_answer, unsolicited };

struct AcPollOutcome {
  bool state_read = false;               // a C0 arrived during this poll
  std::optional<RequestResult> failure;  // what ended the poll early (after the state, only non-timeouts)
  std::string step;                      // the query that failed: "state query", "power/energy query", …
  // Queries that went unanswered without ending the poll ("capabilities page 1", "power/energy (group 4)").
  std::vector<std::string> unanswered;
};

// Everything the client learns, as it learns it. Unset handlers are skipped.
struct AcClientEvents {
  // A C0 state: a poll's answer, a command's answer or a frame the unit pushed (remote control).
  std::function<void(const AcState&, AcStateSource)> state;
  // Capability pages were read this run (all of them, or the first ones when a later page failed).
  std::function<void(const AcCapabilities& merged, bool features_changed)> capabilities;
  // The unit was reached but did not answer the first capabilities page, or not readably.
  std::function<void(const std::string& why)> capabilities_unanswered;
  // Group 4 with a reading (meter_found: the first this run or ever) or group 5.
  std::function<void(const AcGroupData&, bool meter_found)> group_data;
  // Group 4 is not asked again: why ("the unit reports no power/energy meter", …).
  std::function<void(const std::string& why)> meter_absent;
  // An answer that could not be read, with which query it answered.
  std::function<void(const std::string& what)> reject;
  // A command's set or display toggle failed (the change is dropped; the next one is sent).
  std::function<void(const RequestResult&, const std::string& step)> change_failed;
};

class AcClient {
 public:
  using Requester = std::function<void(Bytes frame, std::uint8_t reply_body_type, LanSession::Callback done)>;

  AcClient(Requester requester, EnergyFormat energy_format, AcClientEvents events);
  ~AcClient();  // answers arriving later are dropped
  AcClient(const AcClient&) = delete;
  AcClient& operator=(const AcClient&) = delete;

  // What an earlier run learned. Pages that do not parse are skipped; false when none did.
  bool restore_capabilities(const std::vector<Bytes>& pages);
  void restore_meter(bool meter) { meter_ = meter; }
  // The beep bit of every later set and display toggle.
  void set_beep(bool on) { beep_ = on; }

  // One poll; `done` runs exactly once, unless the client is destroyed first.
  void poll(std::function<void(const AcPollOutcome&)> done);

  // A frame the unit sent unasked: a C0 is read like an answer (true); anything else is not ours (false).
  bool take_unsolicited(const AcFrame& frame);

  // ---- commands: one change in flight; what comes meanwhile merges into one queued change ----
  // The state a new command starts from: the queued change's, else the one being sent, else the last
  // the unit reported (nullopt before the first C0). A set always carries every setting.
  std::optional<AcState> command_base() const;
  // The display state a TOGGLE inverts: the queued wish, else the one being sent, else the unit's.
  bool display_for_toggle() const;
  // Replaces the queued change's state and/or display wish (nullopt: keep what is queued).
  void queue_change(std::optional<AcState> state, std::optional<bool> display);
  bool change_running() const { return change_running_; }
  void send_queued();  // starts the queued change unless one is running

  // ---- what the client knows ----
  const AcFeatures& features() const { return features_; }
  bool capabilities_known() const { return capabilities_known_; }  // from the unit (this run or saved)
  const std::vector<Bytes>& capability_pages() const { return pages_; }  // the B5 bodies behind them
  bool meter() const { return meter_; }
  const std::optional<AcState>& last_state() const { return last_state_; }

 private:
  struct Change {
    std::optional<AcState> state;
    std::optional<bool> display;
  };

  template <typename Handler>
  LanSession::Callback guarded(Handler handler);
  std::uint8_t next_message_id() { return ++message_id_; }

  void query_capabilities(int page_index);
  void adopt_capabilities();
  void query_state();
  bool wants_energy() const;
  void query_energy();
  void query_humidity();
  void finish_poll(std::optional<RequestResult> failure, std::string step);
  bool read_state(const AcFrame& frame, AcStateSource source, const std::string& step);

  void start_change();
  void send_set_step();
  void send_display_step();
  void change_failed(const RequestResult& result, const std::string& step);
  void change_finished();

  Requester requester_;
  EnergyFormat energy_format_;
  AcClientEvents events_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // callbacks hold a weak_ptr to it
  std::uint8_t message_id_ = 0;
  bool beep_ = true;

  std::function<void(const AcPollOutcome&)> poll_done_;
  bool state_read_ = false;  // in the running poll
  std::vector<std::string> unanswered_;  // in the running poll

  AcFeatures features_ = assumed_ac_features();
  bool capabilities_known_ = false;
  bool capabilities_asked_ = false;  // this run
  std::optional<bool> energy_capability_;  // 0x0216 as the unit sent it (absent: try group 4)
  std::vector<Bytes> pages_;
  AcCapabilities pending_capabilities_;
  std::vector<Bytes> pending_pages_;

  bool meter_ = false;         // group 4 reported values at least once
  bool meter_absent_ = false;  // group 4 showed no meter: not asked again
  int energy_misses_ = 0;

  std::optional<AcState> last_state_;
  std::optional<Change> queued_;
  std::optional<Change> in_flight_;
  std::optional<AcState> in_flight_state_;  // what the set in flight asked for: base for more
  bool change_running_ = false;
};

}  // namespace cloudless::midea
