// The lifetime energy counter must never decrease (HA total_increasing), across device counter
// resets, restarts of the daemon, and for plugs that only report power; and it must not jump when a
// device counter comes back with an older value.
#include <catch2/catch.hpp>

#include <limits>

#include "daemon/devices/energy_counter.h"

using cloudless::EnergyCounter;
using Step = EnergyCounter::CounterStep;
using namespace std::chrono_literals;

namespace {
const auto kWall0 = EnergyCounter::WallClock::time_point{} + 24h * 365 * 56;  // some day in 2026
}

TEST_CASE("device counter: adopted, then deltas, and a reset adds on top") {
  EnergyCounter counter;
  CHECK_FALSE(counter.total_kwh());
  CHECK(counter.on_device_counter(3.0, kWall0) == Step::counted);
  CHECK(*counter.total_kwh() == Approx(3.0));
  CHECK(counter.on_device_counter(3.5, kWall0 + 10min) == Step::counted);
  CHECK(*counter.total_kwh() == Approx(3.5));
  // Plug rebooted: its counter restarted at 0 and counted 0.2 kWh in the 5 minutes since.
  CHECK(counter.on_device_counter(0.2, kWall0 + 15min) == Step::restarted);
  CHECK(*counter.total_kwh() == Approx(3.7));
  CHECK(counter.on_device_counter(0.3, kWall0 + 20min) == Step::counted);
  CHECK(*counter.total_kwh() == Approx(3.8));
  CHECK(counter.on_device_counter(-1, kWall0 + 21min) == Step::ignored);  // nonsense is ignored
  CHECK(counter.on_device_counter(std::nan(""), kWall0 + 22min) == Step::ignored);
  CHECK(*counter.total_kwh() == Approx(3.8));
}

TEST_CASE("a counter back at an older value is re-based, never added as a jump") {
  EnergyCounter counter;
  counter.on_device_counter(120.0, kWall0);
  counter.on_device_counter(120.5, kWall0 + 10s);
  // 10 s later the device says 119.8: it cannot have counted 119.8 kWh since a restart.
  CHECK(counter.on_device_counter(119.8, kWall0 + 20s) == Step::rebased);
  CHECK(*counter.total_kwh() == Approx(120.5));
  // Counting goes on from the older value.
  CHECK(counter.on_device_counter(119.9, kWall0 + 30s) == Step::counted);
  CHECK(*counter.total_kwh() == Approx(120.6));
  // A drop right to 0, or to the little a restarted plug counts in a moment, is a restart.
  CHECK(counter.on_device_counter(0.0, kWall0 + 40s) == Step::restarted);
  CHECK(*counter.total_kwh() == Approx(120.6));
  CHECK(counter.on_device_counter(0.01, kWall0 + 50s) == Step::counted);
  CHECK(*counter.total_kwh() == Approx(120.61));
  CHECK(counter.on_device_counter(0.005, kWall0 + 60s) == Step::restarted);
  CHECK(*counter.total_kwh() == Approx(120.615));
}

TEST_CASE("what a restarted counter may have counted grows with the time since the last reading") {
  EnergyCounter counter;
  counter.on_device_counter(50.0, kWall0);
  // Three hours later, 20 kWh after a restart is possible (under 10 kW × 3 h)...
  CHECK(counter.on_device_counter(20.0, kWall0 + 3h) == Step::restarted);
  CHECK(*counter.total_kwh() == Approx(70.0));
  // ...but 40 kWh one hour after the last reading is not.
  CHECK(counter.on_device_counter(40.0, kWall0 + 4h) == Step::counted);  // 20 → 40: counted on
  CHECK(counter.on_device_counter(30.0, kWall0 + 5h) == Step::rebased);
  CHECK(*counter.total_kwh() == Approx(90.0));
  // The wall clock going back never makes a drop look possible.
  CHECK(counter.on_device_counter(29.0, kWall0 - 10h) == Step::rebased);
}

TEST_CASE("the counter survives a daemon restart through to_json/restore") {
  EnergyCounter before;
  before.on_device_counter(10.0, kWall0);
  before.on_device_counter(12.0, kWall0 + 1h);
  EnergyCounter after;
  CHECK(after.restore(before.to_json()).empty());
  CHECK(*after.total_kwh() == Approx(12.0));
  // The plug was reset while we were down for a day: what it counted since is added.
  CHECK(after.on_device_counter(1.0, kWall0 + 25h) == Step::restarted);
  CHECK(*after.total_kwh() == Approx(13.0));
  // What the device counted while we were down is not lost either.
  EnergyCounter again;
  again.restore(before.to_json());
  CHECK(again.on_device_counter(12.4, kWall0 + 2h) == Step::counted);
  CHECK(*again.total_kwh() == Approx(12.4));
  // An older value right after the restart is re-based against the saved reading.
  EnergyCounter older;
  older.restore(before.to_json());
  CHECK(older.on_device_counter(11.0, kWall0 + 1h + 30s) == Step::rebased);
  CHECK(*older.total_kwh() == Approx(12.0));
  EnergyCounter garbage;
  CHECK_FALSE(garbage.restore(nlohmann::json::parse(R"({"total_kwh":"x"})")).empty());
  CHECK_FALSE(garbage.total_kwh());
}

TEST_CASE("a negative or non-finite saved energy is not restored, and says so") {
  const double inf = std::numeric_limits<double>::infinity();
  for (const nlohmann::json& saved :
       {nlohmann::json{{"total_kwh", -3.5}}, nlohmann::json{{"total_kwh", inf}},
        nlohmann::json{{"total_kwh", -inf}}, nlohmann::json{{"total_kwh", std::nan("")}}}) {
    CAPTURE(saved.dump());
    EnergyCounter counter;
    const std::string problem = counter.restore(saved);
    CHECK(problem.find("total_kwh") != std::string::npos);
    CHECK_FALSE(counter.total_kwh());
    // The next reading starts it afresh from the device's own count.
    counter.on_device_counter(4.0, kWall0);
    CHECK(*counter.total_kwh() == Approx(4.0));
  }
  EnergyCounter counter;
  const std::string problem = counter.restore({{"total_kwh", 7.0}, {"last_device_counter_kwh", -1}});
  CHECK(problem.find("last_device_counter_kwh") != std::string::npos);
  CHECK(*counter.total_kwh() == Approx(7.0));  // the good value is kept
  CHECK_FALSE(counter.last_device_counter_kwh());
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
