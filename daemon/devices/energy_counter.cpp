#include "daemon/devices/energy_counter.h"

#include <cmath>

namespace cloudless {

namespace {
bool is_meter_value(const nlohmann::json& value) {
  return value.is_number() && std::isfinite(value.get<double>()) && value.get<double>() >= 0;
}
}  // namespace

EnergyCounter::CounterStep EnergyCounter::on_device_counter(double kwh, WallClock::time_point now) {
  if (!std::isfinite(kwh) || kwh < 0) return CounterStep::ignored;
  CounterStep step = CounterStep::counted;
  if (!total_) {
    total_ = kwh;  // first reading ever: adopt the device's own lifetime count
  } else if (!last_device_counter_) {
    // Restored from state_dir without a device reading: count on from here.
  } else if (kwh >= *last_device_counter_) {
    *total_ += kwh - *last_device_counter_;
  } else {
    auto since = kRestartSlack + std::chrono::duration_cast<std::chrono::seconds>(
                                     now - last_device_counter_at_.value_or(now));
    if (since < kRestartSlack) since = kRestartSlack;  // the wall clock went back: judge by the slack alone
    const double countable = kMaxPlausibleKw * std::chrono::duration<double, std::ratio<3600>>(since).count();
    if (kwh <= countable) {
      *total_ += kwh;  // the counter restarted (reboot, reset): it has counted `kwh` since
      step = CounterStep::restarted;
    } else {
      step = CounterStep::rebased;
    }
  }
  last_device_counter_ = kwh;
  last_device_counter_at_ = now;
  return step;
}

void EnergyCounter::on_power(double watts, Clock::time_point now, std::chrono::seconds max_gap) {
  if (!std::isfinite(watts) || watts < 0) return;
  if (!total_) total_ = 0.0;
  if (last_power_) {
    const auto gap = now - last_power_->first;
    if (gap > std::chrono::seconds(0) && gap <= max_gap) {
      const double hours = std::chrono::duration<double, std::ratio<3600>>(gap).count();
      *total_ += (watts + last_power_->second) / 2.0 * hours / 1000.0;
    }
  }
  last_power_ = {now, watts};
}

nlohmann::json EnergyCounter::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  if (total_) out["total_kwh"] = *total_;
  if (last_device_counter_) out["last_device_counter_kwh"] = *last_device_counter_;
  if (last_device_counter_at_)
    out["last_device_counter_at"] =
        std::chrono::duration_cast<std::chrono::seconds>(last_device_counter_at_->time_since_epoch()).count();
  return out;
}

std::string EnergyCounter::restore(const nlohmann::json& saved) {
  if (!saved.is_object()) return saved.is_null() ? "" : "energy is not an object";
  std::string problem;
  auto take = [&](const char* key, std::optional<double>& into) {
    const auto it = saved.find(key);
    if (it == saved.end()) return;
    if (!is_meter_value(*it)) {
      problem += std::string(problem.empty() ? "" : "; ") + key + " " + it->dump() + " is not a meter reading";
      return;
    }
    into = it->get<double>();
  };
  take("total_kwh", total_);
  take("last_device_counter_kwh", last_device_counter_);
  if (auto it = saved.find("last_device_counter_at"); it != saved.end() && it->is_number_integer())
    last_device_counter_at_ = WallClock::time_point(std::chrono::seconds(it->get<std::int64_t>()));
  return problem;
}

}  // namespace cloudless
