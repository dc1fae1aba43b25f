#include "protocols/midea/ac_client.h"

#include <utility>

namespace cloudless::midea {

namespace {

// Units announce more pages by a flag; a broken one could announce them forever.
constexpr int kMaxCapabilityPages = 4;
// A unit whose capabilities do not mention energy gets asked for group 4 (msmart does the same);
// when it does not answer this many times in a row it has no meter.
constexpr int kEnergyMissesToGiveUp = 2;

}  // namespace

AcClient::AcClient(Requester requester, EnergyFormat energy_format, AcClientEvents events)
    : requester_(std::move(requester)), energy_format_(energy_format), events_(std::move(events)) {}

AcClient::~AcClient() = default;

template <typename Handler>
LanSession::Callback AcClient::guarded(Handler handler) {
  return [alive = std::weak_ptr<int>(alive_), handler = std::move(handler)](const RequestResult& result) mutable {
    if (!alive.expired()) handler(result);
  };
}

bool AcClient::restore_capabilities(const std::vector<Bytes>& pages) {
  AcCapabilities merged;
  std::vector<Bytes> readable;
  for (const Bytes& page : pages) {
    const auto parsed = parse_ac_capabilities(page);
    if (!parsed) continue;
    merge_ac_capabilities(merged, parsed->capabilities);
    readable.push_back(page);
  }
  if (readable.empty()) return false;
  pages_ = std::move(readable);
  features_ = summarize_ac_capabilities(merged);
  energy_capability_ = merged.energy_stats;
  capabilities_known_ = true;
  return true;
}

// ---- a poll ------------------------------------------------------------------------------------

void AcClient::poll(std::function<void(const AcPollOutcome&)> done) {
  poll_done_ = std::move(done);
  state_read_ = false;
  unanswered_.clear();
  if (!capabilities_asked_) {
    pending_capabilities_ = {};
    pending_pages_.clear();
    query_capabilities(0);
    return;
  }
  query_state();
}

void AcClient::finish_poll(std::optional<RequestResult> failure, std::string step) {
  AcPollOutcome outcome;
  outcome.state_read = state_read_;
  outcome.failure = std::move(failure);
  outcome.step = std::move(step);
  outcome.unanswered = std::move(unanswered_);
  unanswered_.clear();
  auto done = std::move(poll_done_);
  poll_done_ = nullptr;
  if (done) done(outcome);
}

void AcClient::query_capabilities(int page_index) {
  const auto page = page_index == 0 ? CapabilitiesPage::first : CapabilitiesPage::additional;
  requester_(
      encode_ac_query_capabilities(next_message_id(), page), body_type::kCapabilities,
      guarded([this, page_index](const RequestResult& result) {
        if (!result.ok()) {
          // Later pages are extras: keep what the first ones said.
          if (page_index > 0) adopt_capabilities();
          if (result.failure != RequestFailure::timeout) {
            // Unreachable or refused: the first page is asked again on the next poll.
            finish_poll(result, "capabilities query");
            return;
          }
          // Connected but silent: some units do not know B5 at all.
          unanswered_.push_back("capabilities page " + std::to_string(page_index + 1));
          if (page_index == 0) {
            capabilities_asked_ = true;
            if (events_.capabilities_unanswered)
              events_.capabilities_unanswered(std::string(request_failure_name(result.failure)) +
                                              (result.detail.empty() ? "" : ": " + result.detail));
          }
          query_state();
          return;
        }
        // The reply is the unit's frame-type-0x03 answer: the session never completes a request
        // with a frame of a notification type (0x04, 0x05), so a B5 notification some units send
        // (msmart-ng #122: a property notification carrying swing-angle ids, not capabilities)
        // goes to the unsolicited handler and the request keeps waiting for the real answer.
        const auto parsed = parse_ac_capabilities(result.reply.body);
        if (!parsed) {
          if (events_.reject) events_.reject("capabilities: " + parsed.error().describe());
          if (page_index > 0) {
            adopt_capabilities();
          } else {
            capabilities_asked_ = true;
            if (events_.capabilities_unanswered) events_.capabilities_unanswered("unreadable answer");
          }
          query_state();
          return;
        }
        merge_ac_capabilities(pending_capabilities_, parsed->capabilities);
        pending_pages_.push_back(result.reply.body);
        if (parsed->more_pages && page_index + 1 < kMaxCapabilityPages) {
          query_capabilities(page_index + 1);
          return;
        }
        adopt_capabilities();
        query_state();
      }));
}

void AcClient::adopt_capabilities() {
  capabilities_asked_ = true;
  if (pending_pages_.empty()) return;
  const AcFeatures features = summarize_ac_capabilities(pending_capabilities_);
  const bool changed = !capabilities_known_ || features != features_;
  features_ = features;
  energy_capability_ = pending_capabilities_.energy_stats;
  capabilities_known_ = true;
  pages_ = pending_pages_;
  if (events_.capabilities) events_.capabilities(pending_capabilities_, changed);
}

void AcClient::query_state() {
  requester_(encode_ac_query_state(next_message_id()), body_type::kState, guarded([this](const RequestResult& result) {
               if (!result.ok()) {
                 finish_poll(result, "state query");
                 return;
               }
               if (!read_state(result.reply, AcStateSource::poll, "state query")) {
                 finish_poll(RequestResult{RequestFailure::timeout, {}, "unreadable state answer"}, "state query");
                 return;
               }
               if (wants_energy()) {
                 query_energy();
                 return;
               }
               query_humidity();
             }));
}

bool AcClient::wants_energy() const {
  if (meter_absent_) return false;
  return features_.energy_stats || !energy_capability_.has_value();
}

void AcClient::query_energy() {
  requester_(
      encode_ac_query_group_data(4, next_message_id()), body_type::kGroupData,
      guarded([this](const RequestResult& result) {
        if (!result.ok()) {
          if (result.failure != RequestFailure::timeout) {
            finish_poll(result, "power/energy query");
            return;
          }
          unanswered_.push_back("power/energy (group 4)");
          if (!features_.energy_stats && ++energy_misses_ >= kEnergyMissesToGiveUp) {
            meter_absent_ = true;
            if (events_.meter_absent) events_.meter_absent("no answer to the power/energy query");
          }
          query_humidity();
          return;
        }
        energy_misses_ = 0;
        const auto data = parse_ac_group_data(result.reply.body, energy_format_);
        if (!data || data->group != 4) {
          if (events_.reject)
            events_.reject(data ? "power/energy: answer for group " + std::to_string(data->group)
                                : "power/energy: " + data.error().describe());
          query_humidity();
          return;
        }
        if (!data->total_energy && !data->current_energy && !data->power) {
          // All zero: the unit has no meter (msmart reads it as "none").
          if (!features_.energy_stats && !meter_) {
            meter_absent_ = true;
            if (events_.meter_absent) events_.meter_absent("the unit reports no power/energy meter");
          }
          query_humidity();
          return;
        }
        const bool found = !meter_;
        meter_ = true;
        if (events_.group_data) events_.group_data(*data, found);
        query_humidity();
      }));
}

void AcClient::query_humidity() {
  if (!features_.humidity) {
    finish_poll(std::nullopt, {});
    return;
  }
  requester_(encode_ac_query_group_data(5, next_message_id()), body_type::kGroupData,
             guarded([this](const RequestResult& result) {
               if (!result.ok()) {
                 finish_poll(result, "humidity query");
                 return;
               }
               const auto data = parse_ac_group_data(result.reply.body, energy_format_);
               if (!data || data->group != 5) {
                 if (events_.reject)
                   events_.reject(data ? "humidity: answer for group " + std::to_string(data->group)
                                       : "humidity: " + data.error().describe());
               } else if (events_.group_data) {
                 events_.group_data(*data, false);
               }
               finish_poll(std::nullopt, {});
             }));
}

bool AcClient::read_state(const AcFrame& frame, AcStateSource source, const std::string& step) {
  const auto parsed = parse_ac_state(frame.body);
  if (!parsed) {
    if (events_.reject) events_.reject(step + ": " + parsed.error().describe());
    return false;
  }
  last_state_ = *parsed;
  if (source == AcStateSource::poll) state_read_ = true;
  if (events_.state) events_.state(*last_state_, source);
  return true;
}

bool AcClient::take_unsolicited(const AcFrame& frame) {
  // Units push a C0 when someone uses the remote: read like an answer.
  if (classify_ac_frame(frame) != AcBodyKind::state) return false;
  read_state(frame, AcStateSource::unsolicited, "unsolicited state");
  return true;
}

// ---- commands ----------------------------------------------------------------------------------

std::optional<AcState> AcClient::command_base() const {
  if (queued_ && queued_->state) return queued_->state;
  if (in_flight_state_) return in_flight_state_;
  return last_state_;
}

bool AcClient::display_for_toggle() const {
  if (queued_ && queued_->display) return *queued_->display;
  if (in_flight_ && in_flight_->display) return *in_flight_->display;
  return last_state_ && last_state_->display_on;
}

void AcClient::queue_change(std::optional<AcState> state, std::optional<bool> display) {
  Change& change = queued_ ? *queued_ : queued_.emplace();
  if (state) change.state = std::move(state);
  if (display) change.display = display;
}

void AcClient::send_queued() {
  if (!change_running_ && queued_) start_change();
}

void AcClient::start_change() {
  in_flight_ = std::move(*queued_);
  queued_.reset();
  in_flight_state_ = in_flight_->state;
  change_running_ = true;
  send_set_step();
}

void AcClient::send_set_step() {
  if (!in_flight_->state) {
    send_display_step();
    return;
  }
  const AcState wanted = *in_flight_->state;
  in_flight_->state.reset();
  Bytes frame = encode_ac_set_state(wanted, next_message_id(), beep_ ? Beep::on : Beep::off);
  if (frame.empty()) {
    change_failed({RequestFailure::invalid, {},
                   "the set command could not be encoded (target " + std::to_string(wanted.target_temperature) + ")"},
                  "set");
    return;
  }
  requester_(std::move(frame), body_type::kState, guarded([this](const RequestResult& result) {
               if (!result.ok()) {
                 change_failed(result, "set");
                 return;
               }
               read_state(result.reply, AcStateSource::set_answer, "set answer");
               send_display_step();
             }));
}

void AcClient::send_display_step() {
  const std::optional<bool> wanted = in_flight_->display;
  in_flight_->display.reset();
  // The unit only has a toggle: send it only when the display is not already as wanted.
  if (!wanted || !last_state_ || last_state_->display_on == *wanted) {
    change_finished();
    return;
  }
  requester_(encode_ac_toggle_display(next_message_id(), beep_ ? Beep::on : Beep::off), body_type::kState,
             guarded([this](const RequestResult& result) {
               if (!result.ok()) {
                 change_failed(result, "display toggle");
                 return;
               }
               read_state(result.reply, AcStateSource::display_answer, "display answer");
               change_finished();
             }));
}

void AcClient::change_failed(const RequestResult& result, const std::string& step) {
  if (result.failure == RequestFailure::stopped) return;
  if (events_.change_failed) events_.change_failed(result, step);
  change_finished();
}

void AcClient::change_finished() {
  change_running_ = false;
  in_flight_.reset();
  in_flight_state_.reset();
  if (queued_) start_change();
}

}  // namespace cloudless::midea
