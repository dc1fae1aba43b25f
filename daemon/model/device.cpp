#include "daemon/model/device.h"

#include <atomic>

namespace cloudless::model {

std::uint64_t Device::next_state_revision() {
  static std::atomic<std::uint64_t> last{0};
  return last.fetch_add(1, std::memory_order_relaxed) + 1;
}

void Device::publish_state(const nlohmann::json& changes) {
  if (changes.is_object()) {
    // Only what differs is copied in: a poll reports every value, and most are what they were.
    bool changed = false;
    for (const auto& change : changes.items()) {
      const auto current = state_.find(change.key());
      if (current == state_.end()) {
        state_[change.key()] = change.value();
        changed = true;
      } else if (*current != change.value()) {
        *current = change.value();
        changed = true;
      }
    }
    if (changed) state_revision_ = next_state_revision();
  }
  last_seen_ = std::chrono::system_clock::now();
  listener_.on_state(*this);
}

void Device::replace_state(nlohmann::json full) {
  if (!full.is_object()) full = nlohmann::json::object();
  if (full != state_) {
    state_ = std::move(full);
    state_revision_ = next_state_revision();
  }
  last_seen_ = std::chrono::system_clock::now();
  listener_.on_state(*this);
}

void Device::set_online(bool online) {
  if (online_ == online) return;
  online_ = online;
  listener_.on_availability(*this);
}

std::optional<bool> AvailabilityTracker::on_success() {
  failures_ = 0;
  if (online_ && decided_) return std::nullopt;
  online_ = true;
  decided_ = true;
  return true;
}

std::optional<bool> AvailabilityTracker::on_failure() {
  ++failures_;
  // The very first poll failing decides "offline" at once: there is no earlier "online" to keep.
  if (!decided_) {
    decided_ = true;
    online_ = false;
    return false;
  }
  if (!online_ || failures_ < misses_to_offline_) return std::nullopt;
  online_ = false;
  return false;
}

}  // namespace cloudless::model
