// The device model's invariants and the availability hysteresis.
#include <catch2/catch.hpp>

#include "daemon/model/device.h"

using namespace cloudless::model;

TEST_CASE("presets carry Home Assistant metadata, each unit once") {
  CHECK(presets::power().unit == "W");
  CHECK(presets::energy().state_class == "total_increasing");
  CHECK(presets::energy().unit == "kWh");
  CHECK(presets::voltage().device_class == "voltage");
  CHECK(presets::current().unit == "A");
  CHECK(presets::temperature().unit == "°C");
  CHECK(presets::signal_strength().entity_category == "diagnostic");
  CHECK_FALSE(presets::signal_strength().enabled_by_default);
  CHECK(presets::power_switch().settable);
  CHECK(presets::binary("contact", "door", true).inverted);
}

TEST_CASE("validate_entities catches broken declarations") {
  CHECK_FALSE(validate_entities({presets::power_switch(), presets::power(), presets::energy()}));
  CHECK(validate_entities({presets::power(), presets::power()}) == std::optional<std::string>("entity key 'power' is declared twice"));
  Entity settable_sensor = presets::power();
  settable_sensor.settable = true;
  CHECK(validate_entities({settable_sensor}));
  Entity unsettable_switch = presets::power_switch();
  unsettable_switch.settable = false;
  CHECK(validate_entities({unsettable_switch}));
  Entity climate_without_traits = presets::climate({});
  climate_without_traits.climate.reset();
  CHECK(validate_entities({climate_without_traits}));
  Entity select;
  select.key = "mode";
  select.component = Component::select;
  select.settable = true;
  CHECK(validate_entities({select}));
  Entity diagnostic_switch = presets::switch_("led", "LED").diagnostic();
  CHECK(validate_entities({diagnostic_switch}));
}

TEST_CASE("availability: offline only after N misses, online on the first answer") {
  AvailabilityTracker tracker(3);
  CHECK(tracker.on_success() == std::optional<bool>(true));
  CHECK_FALSE(tracker.on_success());
  CHECK_FALSE(tracker.on_failure());  // one lost datagram never flaps
  CHECK_FALSE(tracker.on_failure());
  CHECK(tracker.on_failure() == std::optional<bool>(false));
  CHECK_FALSE(tracker.on_failure());
  CHECK(tracker.on_success() == std::optional<bool>(true));
  CHECK_FALSE(tracker.on_failure());
  CHECK(tracker.online());
}

TEST_CASE("availability: a device never reached is offline at the first miss") {
  AvailabilityTracker tracker(3);
  CHECK(tracker.on_failure() == std::optional<bool>(false));
  CHECK_FALSE(tracker.on_failure());
  CHECK(tracker.on_success() == std::optional<bool>(true));
}
