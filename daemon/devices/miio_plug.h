// Device kind: a Xiaomi miIO WiFi plug (legacy get_prop or MIoT get_properties), polled on a timer.
// It turns session results into the plug state of PRODUCT.md; protocol work stays in protocols/miio.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/steady_timer.hpp>

#include "config/config.h"
#include "daemon/devices/device_context.h"
#include "daemon/devices/energy_counter.h"
#include "daemon/model/device.h"
#include "daemon/state_store.h"
#include "protocols/miio/plug_models.h"
#include "protocols/miio/session.h"

namespace cloudless {

class MiioPlug : public model::Device {
 public:
  MiioPlug(std::string id, config::MiioDeviceConfig config, DeviceContext context);
  ~MiioPlug() override;

  model::DeviceInfo info() const override;
  std::vector<model::Entity> entities() const override;
  void start() override;
  void stop() override;
  void refresh() override;
  model::CommandError command(const nlohmann::json& changes) override;

 private:
  void schedule_poll(std::chrono::milliseconds delay);
  void poll();
  void poll_info();
  void poll_state();
  void poll_miot_batch(std::size_t index, miio::PlugReading reading);
  void on_reading(const miio::PlugReading& reading);
  void on_poll_failed(const miio::CallResult& result, std::string_view step);
  void poll_finished();
  void adopt_model(const std::string& model_name);
  void send_switch(miio::Quantity quantity, bool on, std::string key);
  void remember(bool urgent);
  template <typename Handler>
  miio::Session::Callback guarded(Handler handler);

  config::MiioDeviceConfig config_;
  DeviceContext context_;
  std::shared_ptr<miio::Session> session_;
  boost::asio::steady_timer poll_timer_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // callbacks hold a weak_ptr to it
  bool started_ = false;
  bool polling_ = false;
  bool poll_again_ = false;

  miio::PlugModel model_;
  bool model_known_ = false;
  bool tried_generic_miot_ = false;
  std::optional<std::uint32_t> did_;
  std::string firmware_, hardware_;

  model::AvailabilityTracker availability_;
  miio::CallFailure last_failure_ = miio::CallFailure::none;
  EnergyCounter energy_;
  StateFile state_file_;
};

}  // namespace cloudless
