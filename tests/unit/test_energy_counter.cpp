// The lifetime energy counter must never decrease (HA total_increasing), across device counter
// resets, restarts of the daemon, and for plugs that only report power.
#include <catch2/catch.hpp>

#include "daemon/devices/energy_counter.h"

using cloudless::EnergyCounter;
using namespace std::chrono_literals;

TEST_CASE("device counter: adopted, then deltas, and a reset adds on top") {
  EnergyCounter counter;
  CHECK_FALSE(counter.total_kwh());
  counter.on_device_counter(3.0);
  CHECK(*counter.total_kwh() == Approx(3.0));
  counter.on_device_counter(3.5);
  CHECK(*counter.total_kwh() == Approx(3.5));
  counter.on_device_counter(0.2);  // plug rebooted: its counter restarted at 0
  CHECK(*counter.total_kwh() == Approx(3.7));
  counter.on_device_counter(0.3);
  CHECK(*counter.total_kwh() == Approx(3.8));
  counter.on_device_counter(-1);  // nonsense is ignored
  counter.on_device_counter(std::nan(""));
  CHECK(*counter.total_kwh() == Approx(3.8));
}

TEST_CASE("the counter survives a daemon restart through to_json/restore") {
  EnergyCounter before;
  before.on_device_counter(10.0);
  before.on_device_counter(12.0);
  EnergyCounter after;
  after.restore(before.to_json());
  CHECK(*after.total_kwh() == Approx(12.0));
  after.on_device_counter(1.0);  // the plug was reset while we were down
  CHECK(*after.total_kwh() == Approx(13.0));
  EnergyCounter garbage;
  garbage.restore(nlohmann::json::parse(R"({"total_kwh":"x"})"));
  CHECK_FALSE(garbage.total_kwh());
}

TEST_CASE("power-only plugs: trapezoid integration, no guessing across gaps") {
  EnergyCounter counter;
  const auto t0 = EnergyCounter::Clock::time_point{} + 1000h;
  counter.on_power(1000, t0, 60s);
  CHECK(*counter.total_kwh() == Approx(0.0));
  counter.on_power(1000, t0 + 30s, 60s);  // 1 kW for 30 s
  CHECK(*counter.total_kwh() == Approx(1.0 * 30 / 3600));
  counter.on_power(3000, t0 + 60s, 60s);  // ramp 1 kW → 3 kW over 30 s: average 2 kW
  CHECK(*counter.total_kwh() == Approx(1.0 * 30 / 3600 + 2.0 * 30 / 3600));
  const double before_gap = *counter.total_kwh();
  counter.on_power(3000, t0 + 1h, 60s);  // the plug was unreachable for an hour
  CHECK(*counter.total_kwh() == Approx(before_gap));
  counter.on_power(-5, t0 + 1h + 10s, 60s);
  CHECK(*counter.total_kwh() == Approx(before_gap));
}
