// A lifetime energy counter (kWh) that never decreases, for Home Assistant's total_increasing sensors
// (HA reads any decrease as a meter reset). Fed either by the device's own counter, which restarts at
// 0 when the plug reboots, or, for plugs that only report power, by integrating power over time.
#pragma once

#include <chrono>
#include <optional>

#include <nlohmann/json.hpp>

namespace cloudless {

class EnergyCounter {
 public:
  using Clock = std::chrono::steady_clock;

  // The device's counter in kWh. A drop means the device restarted its counter: what it counts
  // from now on is added on top of what we had.
  void on_device_counter(double kwh);
  // An instantaneous power reading (W). Integrated with the trapezoid rule; a gap longer than
  // `max_gap` (the device was unreachable) is not guessed across.
  void on_power(double watts, Clock::time_point now, std::chrono::seconds max_gap);

  std::optional<double> total_kwh() const { return total_; }

  nlohmann::json to_json() const;
  void restore(const nlohmann::json& saved);

 private:
  std::optional<double> total_;
  std::optional<double> last_device_counter_;
  std::optional<std::pair<Clock::time_point, double>> last_power_;
};

}  // namespace cloudless
