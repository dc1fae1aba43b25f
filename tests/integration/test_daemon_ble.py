"""The cloudless daemon with Xiaomi BLE sensors, end to end: a fake bluetoothd (fake_bluez.py:
python-dbusmock's bluez5 template on a private bus that the daemon uses as its *system* bus through
DBUS_SYSTEM_BUS_ADDRESS), a private mosquitto, and the cloudless binary.

Covered: Home Assistant discovery and state of a configured encrypted LYWSD03MMC (docs/ble.md
§3.2 V16, its public test key) and of an unencrypted LYWSDCGQ (V1, plus synthetic plain frames with
new counters); an unconfigured advertiser is never published; a wrong bindkey publishes nothing and
logs why; bluetoothd restarting (mock owner gone and back) and the scan watchdog restarting discovery
with adverts flowing again afterwards; no D-Bus at all without BLE devices, and BLE devices added and
removed by SIGHUP; openssl.cnf left unread with a plain mqtt:// broker.

Bounded: every wait has a deadline, the module takes well under a minute; every process started is
stopped by a finalizer. Under ASan (CLOUDLESS_BIN pointing at an ASan build) each test also checks
the daemon's log for sanitizer reports and its clean exit.
"""

import re
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import helpers  # noqa: E402
from fake_bluez import FakeBluez  # noqa: E402


def _problem():
    return helpers.fake_bluez_problem()


pytestmark = pytest.mark.skipif(_problem() is not None, reason=str(_problem()))

BASE = helpers.BASE_TOPIC
PREFIX = helpers.DISCOVERY_PREFIX

# docs/ble.md §3.2 V16 (xiaomi-ble / ble_monitor test_Xiaomi_LYWSD03MMC_encrypted): MiBeacon v5,
# encrypted, pid 0x055B LYWSD03MMC, frame counter 0x50; decrypts to 0x1006 = 46.7 % humidity.
V16 = bytes.fromhex("58585b0550f4830238c1a495ef58763c26000097e2abb5")
V16_MAC = "A4:C1:38:02:83:F4"
V16_KEY = "e9ea895fac7cca6d30532432a516f3a8"
# §3.1 V1 (xiaomi-ble test_Xiaomi_LYWSDCGQ): plain v2, pid 0x01AA, T 18.0 °C, H 66.1 %, battery 59 %.
V1 = bytes.fromhex("5020aa01a3bf2e3b342d580d1004b40095020a10013b")
V1_MAC = "58:2D:34:3B:2E:BF"
# §3.2 V17 (CGG1-ENCRYPTED 5A:58:2D:34:12:5F): configured below with V16's key, i.e. a wrong one.
V17 = bytes.fromhex("5858480b685f12342d585a0b1841e2aa000e00a4964fb5")
V17_MAC = "5A:58:2D:34:12:5F"
# §3.2 V23 (MCCGQ02HL door sensor E4:AA:EC:81:21:AE): never configured here.
V23 = bytes.fromhex("58588b09a3ae2181ecaae40e2c553c040000d28a500c")
V23_MAC = "E4:AA:EC:81:21:AE"


def plain_lywsdcgq(counter, temperature, humidity, mac=V1_MAC):
    """Synthetic plain MiBeacon v2 frame like V1: FC 0x2050 (MAC + object), pid 0x01AA, `counter`,
    the MAC byte-reversed, object 0x100D (len 4): temperature s16 /10 °C, humidity u16 /10 %."""
    mac_bytes = bytes.fromhex(mac.replace(":", ""))[::-1]
    return (bytes([0x50, 0x20, 0xAA, 0x01, counter & 0xFF]) + mac_bytes +
            struct.pack("<HBhH", 0x100D, 4, round(temperature * 10), round(humidity * 10)))


def sensor(mac, bindkey=None):
    entry = {"protocol": "xiaomi_ble", "mac": mac}
    if bindkey:
        entry["bindkey"] = bindkey
    return entry


def discovery_topic(device_id):
    return "%s/device/%s/%s/config" % (PREFIX, BASE, device_id)


@pytest.fixture
def fake(request, monkeypatch):
    # A short directory: the bus socket path must fit in sun_path (108 bytes).
    workdir = Path(tempfile.mkdtemp(prefix="cl-ble-"))
    bluez = FakeBluez(workdir)

    def cleanup():
        bluez.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    request.addfinalizer(cleanup)
    bluez.start()
    bluez.add_adapter("hci0")
    # helpers.Daemon starts cloudless with this process' environment.
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", bluez.address)
    return bluez


def assert_clean(d):
    """The daemon stops with exit 0 on SIGTERM and its log has no sanitizer report."""
    rc = d.stop()
    log = d.log_text()
    assert "Sanitizer" not in log and "runtime error" not in log, log
    assert rc == 0 and not d.killed, "exit %s (killed: %s); log:\n%s" % (rc, d.killed, log)


def wait_scanning(d, timeout=10.0):
    d.wait_for_log(r"BLE: discovering on hci0", timeout=timeout)


def advertise_until(fake, client, device_id, mac, frames, predicate, timeout=12.0):
    """Sends the frames of the iterator `frames` one by one (0.3 s apart) until the state of
    `device_id` satisfies `predicate`: adverts sent while the scan is being set up again may be lost,
    like on air. Returns the JSON state."""
    since = client.mark()
    deadline = time.monotonic() + timeout
    for frame in frames:
        fake.advertise(mac, frame, rssi=-60)
        found = client.find("%s/%s" % (BASE, device_id), lambda m: predicate(m.json()), since)
        if found:
            return found[0].json()
        if time.monotonic() > deadline:
            break
        time.sleep(0.3)
        found = client.find("%s/%s" % (BASE, device_id), lambda m: predicate(m.json()), since)
        if found:
            return found[0].json()
    raise AssertionError("no state of %s matching within %.0f s; log tail:\n%s" % (device_id, timeout, ""))


# ------------------------------------------------------------------------------------------------


def test_configured_sensors_are_discovered_and_published_others_never(fake, daemon, mqtt_client):
    for mac, name in ((V16_MAC, "LYWSD03MMC"), (V1_MAC, "LYWSDCGQ"), (V17_MAC, "CGG1"), (V23_MAC, "door")):
        fake.add_device(mac, name=name)
    d = daemon({
        "bedroom_sensor": sensor(V16_MAC, V16_KEY),
        "living_sensor": sensor(V1_MAC),
        "cellar_sensor": sensor(V17_MAC, V16_KEY),  # the wrong key for this device
    }, ble={"adapter": "hci0"})
    wait_scanning(d)

    # Encrypted LYWSD03MMC: decrypted with its bindkey.
    since = mqtt_client.mark()
    fake.advertise(V16_MAC, V16, rssi=-71)
    _, state = mqtt_client.wait_for_json(BASE + "/bedroom_sensor", since=since)
    assert state["humidity"] == 46.7 and state["rssi"] == -71
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", state["last_seen"]), state
    assert set(state) == {"humidity", "rssi", "last_seen"}
    mqtt_client.wait_for(BASE + "/bedroom_sensor/availability", payload="online")

    # Its discovery config grows the product's entities once the product id is known.
    _, config = mqtt_client.wait_for_json(discovery_topic("bedroom_sensor"),
                                          lambda c: "temperature" in c.get("cmps", {}))
    cmps = config["cmps"]
    assert set(cmps) == {"temperature", "humidity", "battery", "rssi", "last_seen"}
    assert cmps["humidity"]["p"] == "sensor"
    assert cmps["humidity"]["unique_id"] == "cloudless_ble_a4c1380283f4_humidity"
    assert cmps["humidity"]["device_class"] == "humidity" and cmps["humidity"]["unit_of_measurement"] == "%"
    assert cmps["humidity"]["state_class"] == "measurement" and cmps["humidity"]["expire_after"] == 3600
    assert cmps["temperature"]["unit_of_measurement"] == "°C" and cmps["temperature"]["expire_after"] == 3600
    assert cmps["battery"]["expire_after"] == 25 * 3600 and cmps["battery"]["entity_category"] == "diagnostic"
    assert cmps["rssi"]["enabled_by_default"] is False and cmps["rssi"]["entity_category"] == "diagnostic"
    assert cmps["last_seen"]["device_class"] == "timestamp"
    assert config["dev"]["mdl_id"] == "LYWSD03MMC" and config["dev"]["ids"] == ["cloudless_ble_a4c1380283f4"]
    assert config["state_topic"] == BASE + "/bedroom_sensor"

    # Unencrypted LYWSDCGQ: every reading of the frame, numbers as JSON numbers.
    since = mqtt_client.mark()
    fake.advertise(V1_MAC, V1, rssi=-80)
    msg, state = mqtt_client.wait_for_json(BASE + "/living_sensor", since=since)
    assert {k: state[k] for k in ("temperature", "humidity", "battery", "rssi")} == {
        "temperature": 18, "humidity": 66.1, "battery": 59, "rssi": -80}
    assert '"battery":59' in msg.text  # an integer, not 59.0
    _, config = mqtt_client.wait_for_json(discovery_topic("living_sensor"),
                                          lambda c: "battery" in c.get("cmps", {}))
    assert config["dev"]["mdl_id"] == "LYWSDCGQ"

    # An unconfigured advertiser and a wrong bindkey: nothing published. The last advert (a new
    # frame of living_sensor, from the same sender, so delivered in order) proves the others were
    # processed before it.
    since = mqtt_client.mark()
    fake.advertise(V23_MAC, V23, rssi=-50)
    fake.advertise(V17_MAC, V17, rssi=-74)
    fake.advertise(V17_MAC, V17, rssi=-74)
    fake.advertise(V1_MAC, plain_lywsdcgq(0xA4, 19.5, 60.0), rssi=-79)
    mqtt_client.wait_for_json(BASE + "/living_sensor", lambda s: s["temperature"] == 19.5, since=since)
    topics = mqtt_client.topics_seen(since)
    assert not [t for t in topics if "cellar_sensor" in t], topics
    assert not [t for t in topics if t.startswith(BASE + "/") and t.split("/")[1] not in (
        "bridge", "bedroom_sensor", "living_sensor", "cellar_sensor")], topics
    assert mqtt_client.find(BASE + "/cellar_sensor") == []
    assert mqtt_client.find(BASE + "/+", lambda m: "E4:AA" in m.text or "e4aaec" in m.text) == []
    line = d.wait_for_log(r"cellar_sensor: an advert from 5A:58:2D:34:12:5F failed decryption .*check the bindkey")
    assert line
    # Only one line for the two failures (the rest is summarised once a minute).
    assert len(re.findall(r"cellar_sensor: an advert from .* failed decryption", d.log_text())) == 1
    # bridge/devices lists the three configured sensors, the wrong-keyed one never seen.
    _, devices = mqtt_client.wait_for_json(BASE + "/bridge/devices", lambda a: len(a) == 3)
    by_id = {e["id"]: e for e in devices}
    assert by_id["cellar_sensor"]["protocol"] == "xiaomi_ble" and by_id["cellar_sensor"]["address"] == V17_MAC
    # Never seen: offline (published with the states after the connect), never online.
    mqtt_client.wait_for(BASE + "/cellar_sensor/availability", payload="offline", timeout=5)
    assert mqtt_client.find(BASE + "/cellar_sensor/availability", lambda m: m.text == "online") == []

    assert_clean(d)
    # The daemon ended its own discovery session and did nothing else to the adapter.
    calls = fake.adapter_calls()
    assert calls[:2] == ["SetDiscoveryFilter", "StartDiscovery"] and calls[-1] == "StopDiscovery", calls
    assert bool(fake.adapter_property("hci0", "Powered")) is True


def test_bluetoothd_restart_and_scan_watchdog(fake, daemon, mqtt_client):
    fake.add_device(V1_MAC, name="LYWSDCGQ")
    d = daemon({"living_sensor": sensor(V1_MAC)}, ble={"adapter": "hci0", "scan_watchdog": "2s"})
    wait_scanning(d)
    counter = iter(range(1, 250))

    state = advertise_until(fake, mqtt_client, "living_sensor", V1_MAC,
                            (plain_lywsdcgq(next(counter), 20.0, 50.0) for _ in range(30)),
                            lambda s: s.get("temperature") == 20)
    assert state["humidity"] == 50

    # bluetoothd restarts: the owner of org.bluez goes and comes back, adapter and device re-created.
    fake.restart()
    d.wait_for_log(r"BLE: .*(left the system bus|not running)", timeout=10)
    state = advertise_until(fake, mqtt_client, "living_sensor", V1_MAC,
                            (plain_lywsdcgq(next(counter), 21.5, 51.0) for _ in range(40)),
                            lambda s: s.get("temperature") == 21.5)
    assert state["humidity"] == 51

    # Silence for longer than scan_watchdog: discovery is restarted (stop, filter, start) and logged.
    before = len(fake.adapter_calls())
    d.wait_for_log(r"BLE: watchdog: no advert for 2 s", timeout=10)
    deadline = time.monotonic() + 10
    while fake.adapter_calls()[before:].count("StartDiscovery") < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    restarted = fake.adapter_calls()[before:]
    assert "StopDiscovery" in restarted and "StartDiscovery" in restarted, restarted
    assert restarted.index("StopDiscovery") < len(restarted) - 1 - restarted[::-1].index("StartDiscovery")
    state = advertise_until(fake, mqtt_client, "living_sensor", V1_MAC,
                            (plain_lywsdcgq(next(counter), 22.0, 52.0) for _ in range(30)),
                            lambda s: s.get("temperature") == 22)
    assert state["humidity"] == 52
    assert_clean(d)


def test_no_dbus_without_ble_devices(tmp_path, daemon, monkeypatch):
    # No bus at all behind the address: a daemon without BLE devices must not even try.
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=%s" % (tmp_path / "no-bus-here"))
    d = daemon({}, ble={"adapter": "hci0", "scan_watchdog": "1s"})
    time.sleep(1.5)
    assert d.running
    log = d.log_text()
    assert "BLE" not in log and "org.bluez" not in log, log
    assert_clean(d)


def test_ble_devices_added_and_removed_by_reload(fake, daemon, mqtt_client):
    import dbus

    watcher = dbus.bus.BusConnection(fake.address)
    try:
        names_before = {str(n) for n in watcher.list_names()}
        # A daemon configured without BLE devices (but with a `ble:` section) touches no D-Bus.
        d = daemon({}, ble={"adapter": "hci0"})
        time.sleep(1.0)
        assert {str(n) for n in watcher.list_names()} == names_before
        assert fake.adapter_calls() == []

        # SIGHUP with a BLE device: the scan starts and its adverts are published.
        fake.add_device(V16_MAC, name="LYWSD03MMC")
        client_id = d.config["mqtt"]["client_id"]  # unchanged, or the reload warns about MQTT settings
        d.configure({"bedroom_sensor": sensor(V16_MAC, V16_KEY)}, ble={"adapter": "hci0"}, client_id=client_id)
        since = mqtt_client.mark()
        d.sighup()
        wait_scanning(d)
        assert len({str(n) for n in watcher.list_names()} - names_before) == 1  # our one connection
        fake.advertise(V16_MAC, V16, rssi=-66)
        _, state = mqtt_client.wait_for_json(BASE + "/bedroom_sensor", since=since)
        assert state["humidity"] == 46.7 and state["rssi"] == -66

        # SIGHUP without it: unsubscribed, the scan stops, the connection goes, discovery is cleared.
        d.configure({}, ble={"adapter": "hci0"}, client_id=client_id)
        since = mqtt_client.mark()
        d.sighup()
        d.wait_for_log(r"BLE: no BLE device left; stopping the scan")
        mqtt_client.wait_for(discovery_topic("bedroom_sensor"), lambda m: m.payload == b"", since=since)
        deadline = time.monotonic() + 5
        while {str(n) for n in watcher.list_names()} != names_before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert {str(n) for n in watcher.list_names()} == names_before
        assert fake.adapter_calls()[-1] == "StopDiscovery"
        since = mqtt_client.mark()
        fake.advertise(V16_MAC, V16, rssi=-66)
        mqtt_client.assert_silent(BASE + "/bedroom_sensor", 0.5, since=since)
        assert_clean(d)
    finally:
        watcher.close()


# Frames from xiaomi-ble's published tests (docs/ble.md), with the readings that peer expects.
# MMC-W505 (plain v2): object 0x000A 34.45 °C, then one trailing byte that must not cost the reading.
W505 = bytes.fromhex("702291030fdbab531824d0090a0002750d07")
W505_MAC = "D0:24:18:53:AB:DB"
# XMMF01JQD magic cube (plain v3): object 0x1001 byte 0 = 1, the direction: rotate_left.
CUBE = bytes.fromhex("5030e1048e54d3e63053e2011003010000")
CUBE_MAC = "E2:53:30:E6:D3:54"
# LYWSDCGQ (encrypted v5, the suite's public key) carrying 0x560D and 0x560E: button objects of
# other products, which a thermo-hygrometer does not define: nothing comes of them.
ROUND_BUTTONS = bytes.fromhex("5859aa01b4e6fea138c1a4ff47a4daba202c2f090000e761ffec")
ROUND_MAC = "A4:C1:38:A1:FE:E6"
ROUND_KEY = "8bdff7d0f70fa7f5c68f42157b5fd65b"
# ZNMS16LM lock (plain v4 like the suite's ZNMS16LM frames, our own counter 0x42): object 0x000B
# 1f 0300dec0 f76c7c65 = password (1) << 4 | abnormal (15), key id 0xC0DE0003 (the lock-picking
# alarm), a timestamp. Two events in one frame: the action, then the alarm.
LOCK = bytes.fromhex("50449e0642918aeb441fd70b00091f0300dec0f76c7c65")
LOCK_MAC = "D7:1F:44:EB:8A:91"


def test_peer_vectors_end_to_end_trailing_bytes_cube_foreign_objects_and_event_order(fake, daemon, mqtt_client):
    for mac, name in ((W505_MAC, "MMC-W505"), (CUBE_MAC, "cube"), (ROUND_MAC, "LYWSDCGQ"), (LOCK_MAC, "lock")):
        fake.add_device(mac, name=name)
    d = daemon({
        "baby_thermometer": sensor(W505_MAC),
        "cube": sensor(CUBE_MAC),
        "round_sensor": sensor(ROUND_MAC, ROUND_KEY),
        "front_door": sensor(LOCK_MAC),
    }, ble={"adapter": "hci0"})
    wait_scanning(d)
    # the bridge republishes known states 1-3 s after it connects: wait for it, so that every state
    # counted below is one of the adverts'
    d.wait_for_log(r"mqtt: republished availability of 4 device\(s\)", timeout=10)

    since = mqtt_client.mark()
    fake.advertise(W505_MAC, W505, rssi=-60)
    _, state = mqtt_client.wait_for_json(BASE + "/baby_thermometer", since=since)
    assert state["temperature"] == 34.45, state

    fake.advertise(CUBE_MAC, CUBE, rssi=-60)
    mqtt_client.wait_for_json(BASE + "/cube", lambda s: s.get("action") == "", since=since)
    assert [m.json()["action"] for m in mqtt_client.find(BASE + "/cube", since=since)] == ["rotate_left", ""]

    # Each event of the lock's frame is a state of its own, in frame order, then the clear.
    fake.advertise(LOCK_MAC, LOCK, rssi=-60)
    mqtt_client.wait_for_json(BASE + "/front_door", lambda s: s.get("action") == "", since=since)
    states = [m.json() for m in mqtt_client.find(BASE + "/front_door", since=since)]
    assert [s["action"] for s in states] == ["abnormal", "lock_picking", ""], states
    assert states[0]["locked"] is False and states[0]["lock_method"] == "password", states[0]
    assert "key_id" not in states[0]  # the key id named an alarm, not a key

    # The round sensor's 0x560D/0x560E: decrypted, accepted (online), but no reading and no action.
    fake.advertise(ROUND_MAC, ROUND_BUTTONS, rssi=-60)
    mqtt_client.wait_for(BASE + "/round_sensor/availability", payload="online", since=since)
    _, state = mqtt_client.wait_for_json(BASE + "/round_sensor", since=since)
    assert set(state) <= {"rssi", "last_seen"}, state
    assert not re.search(r"round_sensor: .*(failed decryption|rejected)", d.log_text())
    assert_clean(d)


def test_openssl_cnf_is_not_read_without_tls(fake, daemon, mqtt_client, tmp_path, monkeypatch):
    """With a plain mqtt:// broker the daemon does not read openssl.cnf (docs/build.md §9): a
    configuration that would leave OpenSSL no cipher at all (only the null provider) changes nothing,
    and the encrypted advert still decrypts. Read, it would leave MiBeacon's CCM unavailable."""
    cnf = tmp_path / "openssl.cnf"
    cnf.write_text("openssl_conf = openssl_init\n[openssl_init]\nproviders = provider_sect\n"
                   "[provider_sect]\nnull = null_sect\n[null_sect]\nactivate = 1\n")
    monkeypatch.setenv("OPENSSL_CONF", str(cnf))  # only the daemon, started below, sees it
    fake.add_device(V16_MAC, name="LYWSD03MMC")
    d = daemon({"bedroom_sensor": sensor(V16_MAC, V16_KEY)}, ble={"adapter": "hci0"})
    wait_scanning(d)
    since = mqtt_client.mark()
    fake.advertise(V16_MAC, V16, rssi=-70)
    _, state = mqtt_client.wait_for_json(BASE + "/bedroom_sensor", since=since)
    assert state["humidity"] == 46.7, state
    assert_clean(d)
