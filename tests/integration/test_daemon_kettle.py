"""The cloudless daemon with a Mi kettle (issue #6), end to end: the fake bluetoothd with a scripted
kettle (fake_bluez.py + fake_gatt_devices.py: legacy Mi auth and the kettle service computed
independently in Python from docs/ble.md §4.2/§4.3), a private mosquitto and the cloudless binary.
Also a standard-auth sensor registered with `cloudless ble register` while the daemon runs.

Contract: a `protocol: xiaomi_ble` device with `product_id: 131` (or 275) is a kettle. State topic
cloudless/<id>: {"action": "heating"|"idle"|"cooling"|"keeping_warm", "mode": "none"|"boil"|"keep_warm",
"temperature": °C, "keep_warm_temperature", "keep_warm_type": "boil_then_cool"|"heat_to",
"keep_warm_time_limit": hours (0-12, 0.5 steps), "turn_off_after_boil": bool, "last_seen"};
availability online while connected and authenticated; /set {"keep_warm_temperature": 70},
{"keep_warm_type": "heat_to"}, {"keep_warm_time_limit": 6}, {"turn_off_after_boil": true} (and raw
"ON"/"OFF" on /set/turn_off_after_boil) write aa01/aa04/aa05; the token is made at the first connect,
kept in <state_dir>/ble_<mac>.json (auth "legacy") and reused; out of range -> offline, back in range
-> reconnects by itself; Home Assistant discovery for these entities.

Bounded: every wait has a deadline (the reconnect one 60 s, the rest far less); every process is
stopped by a finalizer. Under ASan (CLOUDLESS_BIN at an ASan build) each test checks the log.
"""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import helpers  # noqa: E402


def _problem():
    return helpers.fake_bluez_problem()


pytestmark = pytest.mark.skipif(_problem() is not None, reason=str(_problem()))

BASE = helpers.BASE_TOPIC
PREFIX = helpers.DISCOVERY_PREFIX
KETTLE_MAC = "AA:BB:CC:DD:EE:FF"
SENSOR_MAC = "A4:C1:38:02:83:F4"
ONLINE_TIMEOUT = 20.0


def kettle(mac=KETTLE_MAC, product_id=131, **extra):
    entry = {"protocol": "xiaomi_ble", "mac": mac, "product_id": product_id}
    entry.update(extra)
    return entry


def key_file(d, mac):
    return d.state_dir / ("ble_%s.json" % mac.lower().replace(":", ""))


def discovery_topic(device_id):
    return "%s/device/%s/%s/config" % (PREFIX, BASE, device_id)


@pytest.fixture
def fake(fake_bluetoothd):
    return fake_bluetoothd


def assert_clean(d):
    rc = d.stop()
    log = d.log_text()
    assert "Sanitizer" not in log and "runtime error" not in log, log
    assert rc == 0 and not d.killed, "exit %s (killed: %s); log:\n%s" % (rc, d.killed, log)


def wait_online(client, device_id, since=0, timeout=ONLINE_TIMEOUT):
    client.wait_for("%s/%s/availability" % (BASE, device_id), payload="online", since=since, timeout=timeout)


def wait_kettle(fake, predicate, timeout=10.0, what="kettle state"):
    deadline = time.monotonic() + timeout
    while True:
        state = fake.kettle_state(KETTLE_MAC)
        if predicate(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s; kettle: %r" % (what, state))
        time.sleep(0.05)


def writes(fake, uuid):
    return [v for u, m, v, _ in fake.gatt_calls(KETTLE_MAC) if u == uuid and m == "WriteValue"]


# ------------------------------------------------------------------------------------------------


def test_kettle_first_connect_registers_publishes_and_takes_settings(fake, daemon, mqtt_client):
    from fake_bluez import uuid16
    fake.add_kettle(KETTLE_MAC, product_id=131)
    d = daemon({"kitchen_kettle": kettle()}, ble={"adapter": "hci0"})
    wait_online(mqtt_client, "kitchen_kettle")

    # A new token, accepted by the kettle, kept in state_dir.
    state = fake.kettle_state(KETTLE_MAC)
    assert state["authenticated"] and state["token"] and state["registers"] == 1
    saved = json.loads(key_file(d, KETTLE_MAC).read_text())
    assert saved["auth"] == "legacy" and saved["token"].lower() == state["token"]
    assert saved["mac"].upper() == KETTLE_MAC

    # The status of the sample 00ff00005020000000010200 of docs/ble.md §4.3 (idle, no mode, 80 °C set, 32 °C).
    _, s = mqtt_client.wait_for_json(BASE + "/kitchen_kettle", lambda s: "action" in s)
    assert {k: s[k] for k in ("action", "mode", "temperature", "keep_warm_temperature", "keep_warm_type",
                              "keep_warm_time_limit", "turn_off_after_boil")} == {
        "action": "idle", "mode": "none", "temperature": 32, "keep_warm_temperature": 80,
        "keep_warm_type": "boil_then_cool", "keep_warm_time_limit": 12, "turn_off_after_boil": False}
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", s["last_seen"]), s

    # Home Assistant discovery for each entity; the settable ones have a command topic.
    _, config = mqtt_client.wait_for_json(
        discovery_topic("kitchen_kettle"),
        lambda c: "keep_warm_temperature" in helpers.ha_expand(c).get("components", {}))
    cmps = helpers.ha_expand(config)["components"]
    for name in ("action", "mode", "temperature", "keep_warm_temperature", "keep_warm_type",
                 "keep_warm_time_limit", "turn_off_after_boil"):
        assert name in cmps, sorted(cmps)
    assert cmps["temperature"]["device_class"] == "temperature" and cmps["temperature"]["unit_of_measurement"] == "°C"
    assert cmps["keep_warm_temperature"]["platform"] == "number"
    assert cmps["keep_warm_type"]["platform"] == "select"
    assert set(cmps["keep_warm_type"]["options"]) == {"boil_then_cool", "heat_to"}
    assert cmps["keep_warm_time_limit"]["platform"] == "number"
    assert cmps["turn_off_after_boil"]["platform"] == "switch"
    for name in ("keep_warm_temperature", "keep_warm_type", "keep_warm_time_limit", "turn_off_after_boil"):
        assert cmps[name]["command_topic"].startswith(BASE + "/kitchen_kettle/set"), cmps[name]

    # A status notification from the kettle reaches MQTT.
    since = mqtt_client.mark()
    fake.kettle_set(KETTLE_MAC, action="heating", mode="boil", current_temperature=95)
    mqtt_client.wait_for_json(BASE + "/kitchen_kettle", lambda s: s["action"] == "heating" and s["mode"] == "boil"
                              and s["temperature"] == 95, since=since)

    # Settings: each /set writes its characteristic, the kettle's next status shows it.
    since = mqtt_client.mark()
    mqtt_client.publish(BASE + "/kitchen_kettle/set", {"keep_warm_temperature": 70})
    wait_kettle(fake, lambda k: k["keep_warm_temperature"] == 70, what="keep-warm 70 °C")
    assert writes(fake, uuid16(0xAA01))[-1] == "0046"  # type 0 (boil then cool), 70 °C
    mqtt_client.wait_for_json(BASE + "/kitchen_kettle", lambda s: s["keep_warm_temperature"] == 70, since=since)

    mqtt_client.publish(BASE + "/kitchen_kettle/set", {"keep_warm_type": "heat_to"})
    wait_kettle(fake, lambda k: k["keep_warm_type"] == 1, what="keep-warm type heat_to")
    assert writes(fake, uuid16(0xAA01))[-1] == "0146"
    mqtt_client.wait_for_json(BASE + "/kitchen_kettle", lambda s: s["keep_warm_type"] == "heat_to", since=since)

    mqtt_client.publish(BASE + "/kitchen_kettle/set", {"keep_warm_time_limit": 6})
    wait_kettle(fake, lambda k: k["time_limit_x2"] == 12, what="time limit 6 h")
    assert writes(fake, uuid16(0xAA04))[-1] == "0c"
    mqtt_client.wait_for_json(BASE + "/kitchen_kettle", lambda s: s["keep_warm_time_limit"] == 6, since=since)
    mqtt_client.publish(BASE + "/kitchen_kettle/set", {"keep_warm_time_limit": 7.5})
    wait_kettle(fake, lambda k: k["time_limit_x2"] == 15, what="time limit 7.5 h")

    mqtt_client.publish(BASE + "/kitchen_kettle/set", {"turn_off_after_boil": True})
    wait_kettle(fake, lambda k: k["boil_mode"] == 1, what="turn off after boil")
    assert writes(fake, uuid16(0xAA05))[-1] == "01"
    mqtt_client.wait_for_json(BASE + "/kitchen_kettle", lambda s: s["turn_off_after_boil"] is True, since=since)
    mqtt_client.publish(BASE + "/kitchen_kettle/set/turn_off_after_boil", "OFF")
    wait_kettle(fake, lambda k: k["boil_mode"] == 0, what="turn off after boil OFF")
    assert writes(fake, uuid16(0xAA05))[-1] == "00"
    mqtt_client.publish(BASE + "/kitchen_kettle/set/turn_off_after_boil", "ON")
    wait_kettle(fake, lambda k: k["boil_mode"] == 1, what="turn off after boil ON")

    # Out of range values are refused by the daemon: nothing written.
    before = len(writes(fake, uuid16(0xAA01)))
    mqtt_client.publish(BASE + "/kitchen_kettle/set", {"keep_warm_temperature": 30})
    time.sleep(1.0)
    assert len(writes(fake, uuid16(0xAA01))) == before
    assert fake.kettle_state(KETTLE_MAC)["keep_warm_temperature"] == 70
    assert_clean(d)


def test_kettle_token_is_kept_and_reused(fake, daemon, mqtt_client):
    fake.add_kettle(KETTLE_MAC)
    d = daemon({"kitchen_kettle": kettle()}, ble={"adapter": "hci0"})
    wait_online(mqtt_client, "kitchen_kettle")
    token = fake.kettle_token(KETTLE_MAC)
    assert token and json.loads(key_file(d, KETTLE_MAC).read_text())["token"].lower() == token
    first = fake.kettle_state(KETTLE_MAC)
    assert_clean(d)
    assert not wait_kettle(fake, lambda k: not k["connected"], what="disconnected at exit")["connected"]

    since = mqtt_client.mark()
    d.start()
    wait_online(mqtt_client, "kitchen_kettle", since=since)
    again = fake.kettle_state(KETTLE_MAC)
    assert again["token"] == token, "a restarted daemon must reuse the kept token"
    assert again["authenticated"] and again["connects"] == first["connects"] + 1
    assert again["registers"] + again["logins"] == first["registers"] + first["logins"] + 1
    assert json.loads(key_file(d, KETTLE_MAC).read_text())["token"].lower() == token
    assert_clean(d)


def test_configured_token_is_used(fake, daemon, mqtt_client):
    # A kettle bound to Mi Home with this token: the daemon may log in or register with it.
    fake.add_kettle(KETTLE_MAC, product_id=275, token="00112233445566778899aabb")
    d = daemon({"eu_kettle": kettle(product_id=275, token="00112233445566778899aabb")}, ble={"adapter": "hci0"})
    wait_online(mqtt_client, "eu_kettle")
    state = fake.kettle_state(KETTLE_MAC)
    assert state["token"] == "00112233445566778899aabb" and state["authenticated"]
    assert_clean(d)


def test_kettle_found_by_discovery_goes_out_of_range_and_comes_back(fake, daemon, mqtt_client):
    # BlueZ does not know the kettle when the daemon starts: it appears once a discovery runs.
    fake.add_kettle(KETTLE_MAC, visible=False)
    d = daemon({"kitchen_kettle": kettle()}, ble={"adapter": "hci0"})
    wait_online(mqtt_client, "kitchen_kettle")

    since = mqtt_client.mark()
    fake.set_in_range(KETTLE_MAC, False)
    mqtt_client.wait_for(BASE + "/kitchen_kettle/availability", payload="offline", since=since, timeout=15)
    time.sleep(3)  # a few failing reconnects (Connect fails after ~100 ms)
    assert not fake.kettle_state(KETTLE_MAC)["connected"]
    assert d.running

    since = mqtt_client.mark()
    fake.set_in_range(KETTLE_MAC, True)
    deadline = time.monotonic() + 60
    while True:
        fake.kettle_advertise(KETTLE_MAC)  # its adverts speed the reconnect up
        if mqtt_client.find(BASE + "/kitchen_kettle/availability", lambda m: m.text == "online", since):
            break
        assert time.monotonic() < deadline, "no reconnect within 60 s; log:\n" + d.log_text()[-3000:]
        time.sleep(1.0)
    assert fake.kettle_state(KETTLE_MAC)["authenticated"]
    since = mqtt_client.mark()
    fake.kettle_set(KETTLE_MAC, current_temperature=50)
    mqtt_client.wait_for_json(BASE + "/kitchen_kettle", lambda s: s["temperature"] == 50, since=since)
    assert_clean(d)


def test_kettle_goes_offline_when_a_reload_changes_the_adapter_and_back_online_on_it(fake, daemon, mqtt_client):
    # The GATT client of the old adapter is stopped on reload: its connections must end for their
    # owner too, or the kettle stays "online" with no connection behind it.
    fake.add_kettle(KETTLE_MAC)
    fake.add_adapter("hci1")
    d = daemon({"kitchen_kettle": kettle()}, ble={"adapter": "hci0"})
    wait_online(mqtt_client, "kitchen_kettle")

    config = dict(d.config)
    config["ble"] = {"adapter": "hci1"}  # the kettle is not reachable through hci1
    d.write_config(config)
    since = mqtt_client.mark()
    d.sighup()
    mqtt_client.wait_for(BASE + "/kitchen_kettle/availability", payload="offline", since=since, timeout=15)
    helpers.wait_until(lambda: not fake.kettle_state(KETTLE_MAC)["connected"], 10, message="the old link closed")

    config["ble"] = {"adapter": "hci0"}
    d.write_config(config)
    since = mqtt_client.mark()
    d.sighup()
    deadline = time.monotonic() + 60
    while not mqtt_client.find(BASE + "/kitchen_kettle/availability", lambda m: m.text == "online", since):
        assert time.monotonic() < deadline, "no reconnect within 60 s; log:\n" + d.log_text()[-3000:]
        fake.kettle_advertise(KETTLE_MAC)  # its adverts speed the reconnect up
        time.sleep(1.0)
    assert_clean(d)


def test_kettle_that_refuses_the_auth_is_never_online(fake, daemon, mqtt_client):
    fake.add_kettle(KETTLE_MAC)
    fake.set_fault(KETTLE_MAC, "wrong_confirmation")
    d = daemon({"kitchen_kettle": kettle()}, ble={"adapter": "hci0"})
    from fake_bluez import uuid16
    deadline = time.monotonic() + 15
    while ("90ca85de" not in [v for u, m, v, _ in fake.gatt_calls(KETTLE_MAC) if u == uuid16(0x0010)]
           and time.monotonic() < deadline):
        time.sleep(0.1)
    assert fake.kettle_state(KETTLE_MAC)["registers"] == 0
    assert "90ca85de" in [v for u, m, v, _ in fake.gatt_calls(KETTLE_MAC) if u == uuid16(0x0010)], \
        "the daemon never tried to register"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        assert not mqtt_client.find(BASE + "/kitchen_kettle/availability", lambda m: m.text == "online")
        time.sleep(0.2)
    assert not fake.kettle_state(KETTLE_MAC)["authenticated"]
    assert not key_file(d, KETTLE_MAC).exists(), "a token the kettle did not confirm must not be kept"
    assert_clean(d)


def test_sensor_registered_while_the_daemon_runs_publishes_decrypted_readings(fake, daemon, mqtt_client):
    fake.add_std_sensor(SENSOR_MAC)
    d = daemon({"bedroom_sensor": {"protocol": "xiaomi_ble", "mac": SENSOR_MAC}}, ble={"adapter": "hci0"})
    d.wait_for_log(r"BLE: discovering on hci0", timeout=10)

    proc = subprocess.run([d.binary, "ble", "register", SENSOR_MAC, "--config", str(d.config_path), "--timeout", "10"],
                          env=fake.env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=40)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    keys = fake.sensor_keys(SENSOR_MAC)
    assert keys and json.loads(key_file(d, SENSOR_MAC).read_text())["bindkey"].lower() == keys["bindkey"]

    since = mqtt_client.mark()
    deadline = time.monotonic() + 15
    while True:
        fake.sensor_advertise(SENSOR_MAC, temperature=22.4, humidity=48.2, rssi=-58)
        found = mqtt_client.find(BASE + "/bedroom_sensor", lambda m: m.json().get("temperature") == 22.4, since)
        if found:
            state = found[0].json()
            break
        assert time.monotonic() < deadline, "no decrypted reading; log:\n" + d.log_text()[-3000:]
        time.sleep(0.5)
    assert state["humidity"] == 48.2 and state["rssi"] == -58
    assert_clean(d)
