#include "daemon/model/device.h"

namespace cloudless::model {

void Device::publish_state(const nlohmann::json& changes) {
  if (changes.is_object()) state_.update(changes);
  last_seen_ = std::chrono::system_clock::now();
  listener_.on_state(*this);
}

void Device::replace_state(const nlohmann::json& full) {
  state_ = full.is_object() ? full : nlohmann::json::object();
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
