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

namespace {

struct CountingListener : DeviceListener {
  void on_state(Device&) override { ++states; }
  void on_availability(Device&) override {}
  void on_description_changed(Device&) override {}
  int states = 0;
};

// A device kind reduced to its state: the two ways kinds report one.
class StateOnlyDevice : public Device {
 public:
  using Device::Device;
  DeviceInfo info() const override { return {}; }
  std::vector<Entity> entities() const override { return {}; }
  void start() override {}
  void stop() override {}
  void refresh() override {}
  CommandError command(const nlohmann::json&) override { return std::nullopt; }
  void merge(const nlohmann::json& changes) { publish_state(changes); }
  void replace(nlohmann::json full) { replace_state(std::move(full)); }
};

}  // namespace

TEST_CASE("state revision: changes with the state's content only, never shared between devices") {
  CountingListener listener;
  StateOnlyDevice plug("plug", listener);
  StateOnlyDevice other("other", listener);
  CHECK(plug.state_revision() != other.state_revision());

  const auto initial = plug.state_revision();
  plug.merge({{"power", 12.5}, {"state", "ON"}});
  const auto merged = plug.state_revision();
  CHECK(merged != initial);
  plug.merge({{"power", 12.5}});  // the same value again: still published, same revision
  CHECK(plug.state_revision() == merged);
  CHECK(plug.last_seen());
  plug.merge({{"power", 12.6}});
  CHECK(plug.state_revision() != merged);
  const auto after_power = plug.state_revision();
  plug.merge({{"voltage", 230}});  // a key the state did not have
  CHECK(plug.state_revision() != after_power);
  CHECK(plug.state() == nlohmann::json{{"power", 12.6}, {"state", "ON"}, {"voltage", 230}});

  const auto before_replace = plug.state_revision();
  plug.replace({{"power", 12.6}, {"state", "ON"}, {"voltage", 230}});  // equal content
  CHECK(plug.state_revision() == before_replace);
  plug.replace({{"power", 12.6}, {"state", "ON"}});  // a reading left: a change
  CHECK(plug.state_revision() != before_replace);
  CHECK(plug.state() == nlohmann::json{{"power", 12.6}, {"state", "ON"}});
  const auto before_null = plug.state_revision();
  plug.replace(nullptr);  // not an object: the state becomes {}
  CHECK(plug.state() == nlohmann::json::object());
  CHECK(plug.state_revision() != before_null);
  CHECK(listener.states == 7);  // every report reached the listener, changed or not
}
