#include "daemon/devices/energy_counter.h"

#include <cmath>

namespace cloudless {

void EnergyCounter::on_device_counter(double kwh) {
  if (!std::isfinite(kwh) || kwh < 0) return;
  if (!total_) {
    total_ = kwh;  // first reading ever: adopt the device's own lifetime count
  } else if (!last_device_counter_) {
    // Restored from state_dir without a device reading: count on from here.
  } else if (kwh >= *last_device_counter_) {
    *total_ += kwh - *last_device_counter_;
  } else {
    *total_ += kwh;  // the counter restarted (reboot, reset): it has counted `kwh` since
  }
  last_device_counter_ = kwh;
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
  return out;
}

void EnergyCounter::restore(const nlohmann::json& saved) {
  if (!saved.is_object()) return;
  if (auto it = saved.find("total_kwh"); it != saved.end() && it->is_number()) total_ = it->get<double>();
  if (auto it = saved.find("last_device_counter_kwh"); it != saved.end() && it->is_number())
    last_device_counter_ = it->get<double>();
}

}  // namespace cloudless
