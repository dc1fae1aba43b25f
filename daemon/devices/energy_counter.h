// A lifetime energy counter (kWh) that never decreases, for Home Assistant's total_increasing sensors
// (HA reads any decrease as a meter reset). Fed either by the device's own counter, which restarts at
// 0 when the plug reboots, or, for plugs that only report power, by integrating power over time.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace cloudless {

class EnergyCounter {
 public:
  using Clock = std::chrono::steady_clock;
  using WallClock = std::chrono::system_clock;

  // What a device counter reading did to the total.
  enum class CounterStep {
    counted,    // adopted (first reading) or added what the device counted since the last reading
    restarted,  // the counter dropped to what it can have counted since a restart at 0: added
    rebased,    // the counter went back to an older value: nothing added, counted on from there
    ignored,    // not a reading (negative, not finite)
  };

  // The device's counter in kWh, read at `now`. A drop means the device restarted its counter: what
  // it counts from then on is added on top of what we had. But a drop to a value it cannot have
  // counted since the last reading (no plug draws kMaxPlausibleKw) is an older value coming back,
  // not a restart: adding it would be a jump that never happened.
  CounterStep on_device_counter(double kwh, WallClock::time_point now = WallClock::now());
  // An instantaneous power reading (W). Integrated with the trapezoid rule; a gap longer than
  // `max_gap` (the device was unreachable) is not guessed across.
  void on_power(double watts, Clock::time_point now, std::chrono::seconds max_gap);

  std::optional<double> total_kwh() const { return total_; }
  std::optional<double> last_device_counter_kwh() const { return last_device_counter_; }

  nlohmann::json to_json() const;
  // Takes back what to_json() wrote. A value no meter can show (negative, not finite, not a number)
  // is left out; the text says which (empty when everything was taken).
  std::string restore(const nlohmann::json& saved);

  // 16 A at 250 V is 4 kW, the most any plug here switches; 10 kW leaves room for clock jitter.
  static constexpr double kMaxPlausibleKw = 10.0;
  // Added to the time between two readings when judging a drop: a plug that rebooted between two
  // polls a moment apart still counted a little since.
  static constexpr std::chrono::seconds kRestartSlack{60};

 private:
  std::optional<double> total_;
  std::optional<double> last_device_counter_;
  std::optional<WallClock::time_point> last_device_counter_at_;
  std::optional<std::pair<Clock::time_point, double>> last_power_;
};

}  // namespace cloudless
