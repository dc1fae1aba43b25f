// Drives the BlueZ GATT client (protocols/xiaomi_ble/bluez/bluez_gatt_client.h) on the bus that
// DBUS_SYSTEM_BUS_ADDRESS names and prints one JSON line per event, for
// tests/integration/test_gatt_client.py (the fake bluetoothd of fake_bluez.py as the peer).
//
//   gatt_tool [--adapter hci0] [--attempts N] [--backoff-ms N] [--op-timeout-ms N] [--discovery-ms N]
//             MAC STEP...
//   STEP: read:UUID | write:UUID:HEX | command:UUID:HEX (without response) | notify:UUID | wait:MS
//         | disconnect | connect (again, on the same client)
//
// Output: {"event":"connected","characteristics":[...]} / {"event":"connect_failed","kind":…,"name":…}
//         {"event":"read","uuid":…,"value":"hex"} / {"event":"error","step":…,"kind":…,"name":…,"message":…}
//         {"event":"notification","uuid":…,"value":"hex"} / {"event":"disconnected","kind":…}
//         {"event":"done"} — then exit 0 (1 when the connection failed).
// Short UUIDs ("0010", "aa02") are expanded in the Bluetooth base.
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "protocols/common/bytes.h"
#include "protocols/xiaomi_ble/bluez/bluez_gatt_client.h"

namespace ble = cloudless::xiaomi_ble;
using nlohmann::json;

namespace {

void emit(const json& line) {
  std::cout << line.dump() << std::endl;
}

std::string full_uuid(const std::string& text) {
  if (text.size() == 4) return ble::uuid16(static_cast<std::uint16_t>(std::stoul(text, nullptr, 16)));
  return text;
}

json error_json(const ble::GattError& error) {
  return {{"kind", std::string(ble::gatt_error_kind_name(error.kind))}, {"name", error.name}, {"message", error.message}};
}

struct Runner {
  boost::asio::io_context io;
  std::shared_ptr<ble::GattClient> client;
  ble::GattConnectRequest request;
  std::shared_ptr<ble::GattConnection> connection;
  std::string mac;
  std::deque<std::string> steps;
  boost::asio::steady_timer timer{io};
  int exit_code = 0;

  void connect() {
    request = client->connect(mac, [this](const std::optional<ble::GattError>& error,
                                          std::shared_ptr<ble::GattConnection> link) {
      if (error) {
        json line = error_json(*error);
        line["event"] = "connect_failed";
        line["attempts"] = client->counters().connect_attempts;
        emit(line);
        exit_code = 1;
        finish();
        return;
      }
      connection = link;
      json chars = json::array();
      for (const auto& [uuid, path] : link->characteristics()) chars.push_back(uuid);
      emit({{"event", "connected"}, {"characteristics", chars}, {"attempts", client->counters().connect_attempts}});
      link->on_disconnected([](const ble::GattError& why) {
        json line = error_json(why);
        line["event"] = "disconnected";
        emit(line);
      });
      next();
    });
  }

  void finish() {
    emit({{"event", "done"}});
    if (connection) connection->disconnect();
    client->stop();
    io.stop();
  }

  void step_error(const std::string& step, const std::optional<ble::GattError>& error) {
    if (!error) return;
    json line = error_json(*error);
    line["event"] = "error";
    line["step"] = step;
    emit(line);
  }

  void next() {
    if (steps.empty()) {
      finish();
      return;
    }
    const std::string step = steps.front();
    steps.pop_front();
    const auto colon = step.find(':');
    const std::string verb = step.substr(0, colon);
    const std::string rest = colon == std::string::npos ? "" : step.substr(colon + 1);
    if (verb == "wait") {
      timer.expires_after(std::chrono::milliseconds(std::stol(rest)));
      timer.async_wait([this](const boost::system::error_code&) { next(); });
      return;
    }
    if (verb == "disconnect") {
      if (connection) connection->disconnect();
      connection.reset();
      emit({{"event", "disconnect_sent"}});
      next();
      return;
    }
    if (verb == "connect") {
      connect();
      return;
    }
    if (!connection) {
      emit({{"event", "error"}, {"step", step}, {"kind", "no_connection"}});
      next();
      return;
    }
    if (verb == "read") {
      const std::string uuid = full_uuid(rest);
      connection->read(uuid, [this, step, uuid](const std::optional<ble::GattError>& error, cloudless::Bytes value) {
        if (error) step_error(step, error);
        else emit({{"event", "read"}, {"uuid", uuid}, {"value", cloudless::to_hex(value)}});
        next();
      });
      return;
    }
    if (verb == "write" || verb == "command") {
      const auto second = rest.find(':');
      const std::string uuid = full_uuid(rest.substr(0, second));
      const auto value = cloudless::from_hex(second == std::string::npos ? "" : rest.substr(second + 1));
      connection->write(uuid, value.value_or(cloudless::Bytes{}),
                        verb == "write" ? ble::WriteType::request : ble::WriteType::command,
                        [this, step, uuid](const std::optional<ble::GattError>& error) {
                          if (error) step_error(step, error);
                          else emit({{"event", "written"}, {"uuid", uuid}});
                          next();
                        });
      return;
    }
    if (verb == "notify") {
      const std::string uuid = full_uuid(rest);
      connection->subscribe(
          uuid,
          [uuid](const cloudless::Bytes& value) {
            emit({{"event", "notification"}, {"uuid", uuid}, {"value", cloudless::to_hex(value)}});
          },
          [this, step, uuid](const std::optional<ble::GattError>& error) {
            if (error) step_error(step, error);
            else emit({{"event", "subscribed"}, {"uuid", uuid}});
            next();
          });
      return;
    }
    emit({{"event", "error"}, {"step", step}, {"kind", "bad_step"}});
    next();
  }
};

}  // namespace

int main(int argc, char** argv) {
  ble::GattClientOptions options;
  std::string adapter = "hci0";
  Runner runner;
  int i = 1;
  for (; i + 1 < argc && std::string(argv[i]).rfind("--", 0) == 0; i += 2) {
    const std::string flag = argv[i];
    const long value = std::strtol(argv[i + 1], nullptr, 10);
    if (flag == "--adapter") adapter = argv[i + 1];
    else if (flag == "--attempts") options.attempts = static_cast<int>(value);
    else if (flag == "--backoff-ms") options.backoff_initial = std::chrono::milliseconds(value);
    else if (flag == "--op-timeout-ms") options.operation_timeout = std::chrono::milliseconds(value);
    else if (flag == "--discovery-ms") options.discovery_timeout = std::chrono::milliseconds(value);
    else if (flag == "--connect-timeout-ms") options.connect_timeout = options.services_timeout = std::chrono::milliseconds(value);
    else {
      std::fprintf(stderr, "gatt_tool: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (i >= argc) {
    std::fprintf(stderr, "usage: gatt_tool [flags] MAC STEP...\n");
    return 2;
  }
  runner.mac = argv[i++];
  for (; i < argc; ++i) runner.steps.emplace_back(argv[i]);
  runner.client = ble::GattClient::create(runner.io, adapter, options);
  runner.connect();
  // Bounded: every step has its own timeout; this is the backstop.
  boost::asio::steady_timer backstop(runner.io);
  backstop.expires_after(std::chrono::seconds(120));
  backstop.async_wait([&](const boost::system::error_code& error) {
    if (error) return;
    emit({{"event", "backstop"}});
    runner.exit_code = 3;
    runner.finish();
  });
  runner.io.run();
  return runner.exit_code;
}
