"""`cloudless ble register` and `cloudless ble login` (issue #6) against the fake bluetoothd's scripted
devices (fake_bluez.py + fake_gatt_devices.py): a Mi standard-auth sensor (docs/ble.md §4.4) and a
Mi kettle (legacy auth, §4.2), whose device side is computed independently in Python.

Contract: `cloudless ble register MAC [--product-id N] [--config PATH] [--state-dir DIR]
[--adapter hciN] [--timeout S]` connects, picks the auth (0x0019 present = standard, else legacy),
registers, writes <state_dir>/ble_<mac lower, no colons>.json {"mac", "auth", "token", "bindkey",
"did", "product_id", "registered"}, prints a line with "registered" and the bind key, exit 0.
Failures: exit 1 and a one-line reason (a mismatch says "confirmation", a timeout "no answer" or
"timed out", a device error its code, out of range "could not connect"); nothing written. Bad MAC:
exit 2. `cloudless ble login MAC`: exit 0 "login ok"; exit 1 with a wrong or absent token (absent:
says to run `ble register`).

Bounded: each command runs with --timeout and a subprocess timeout; every fake is stopped by a
finalizer; the CLI must leave the device disconnected.
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


pytestmark = [pytest.mark.skipif(_problem() is not None, reason=str(_problem())),
              pytest.mark.usefixtures("cloudless_bin")]

SENSOR_MAC = "A4:C1:38:02:83:F4"
SENSOR_DID = "blt.4.18n58266kgg00"
KETTLE_MAC = "AA:BB:CC:DD:EE:FF"
KETTLE_BEACON_KEY = "0a1b2c3d4e5f60718293a4b5"


@pytest.fixture
def fake(fake_bluetoothd):
    return fake_bluetoothd


@pytest.fixture
def state_dir(tmp_path):
    d = tmp_path / "state"
    d.mkdir()
    return d


def run(binary, fake, *args, timeout=30):
    proc = subprocess.run([str(binary)] + [str(a) for a in args], env=fake.env() if fake else None,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def register(binary, fake, mac, state_dir, *extra, timeout=10):
    return run(binary, fake, "ble", "register", mac, "--state-dir", state_dir, "--adapter", "hci0",
               "--timeout", timeout, *extra, timeout=timeout + 20)


def login(binary, fake, mac, state_dir, *extra, timeout=10):
    return run(binary, fake, "ble", "login", mac, "--state-dir", state_dir, "--adapter", "hci0",
               "--timeout", timeout, *extra, timeout=timeout + 20)


def key_file(state_dir, mac):
    return Path(state_dir) / ("ble_%s.json" % mac.lower().replace(":", ""))


def assert_left_disconnected(fake, mac, timeout=5.0):
    deadline = time.monotonic() + timeout
    while fake.gatt_state(mac)["connected"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not fake.gatt_state(mac)["connected"], "the command left %s connected" % mac


def one_line_reason(out):
    lines = [l for l in out.strip().splitlines() if l.strip()]
    assert lines, "no reason printed"
    return lines[-1]


# ------------------------------------------------------------------------------------------------


def test_register_help_warns_about_mi_home(cloudless_bin):
    rc, out = run(cloudless_bin, None, "ble", "register", "--help")
    assert rc == 0, out
    assert "Mi Home" in out and re.search(r"unbind", out, re.I), out


def test_bad_mac_is_a_usage_error(cloudless_bin, fake, state_dir):
    for bad in ("AA:BB:CC:DD:EE", "not-a-mac", "AA:BB:CC:DD:EE:GG"):
        rc, out = register(cloudless_bin, fake, bad, state_dir)
        assert rc == 2, (bad, out)
    rc, out = login(cloudless_bin, fake, "AA:BB:CC", state_dir)
    assert rc == 2, out
    assert list(state_dir.iterdir()) == []


def test_register_and_login_a_standard_auth_sensor(cloudless_bin, fake, state_dir):
    fake.add_std_sensor(SENSOR_MAC, did=SENSOR_DID)
    rc, out = register(cloudless_bin, fake, SENSOR_MAC, state_dir, "--product-id", 0x055B)
    assert rc == 0, out
    keys = fake.sensor_keys(SENSOR_MAC)
    assert keys is not None, "the device was not registered; output:\n" + out
    # "registered" and the new bind key are printed (on one line or on the lines that follow).
    assert re.search(r"registered", out, re.I) and keys["bindkey"] in out.lower(), out

    saved = json.loads(key_file(state_dir, SENSOR_MAC).read_text())
    assert {"mac", "auth", "token", "bindkey", "did", "product_id", "registered"} <= set(saved), saved
    assert saved["mac"].upper() == SENSOR_MAC and saved["auth"] == "standard"
    assert saved["token"].lower() == keys["token"] and saved["bindkey"].lower() == keys["bindkey"]
    assert saved["did"] == SENSOR_DID and saved["product_id"] == 0x055B and saved["registered"]
    # The exchange ran on the Mi service's UPNP (0x0010) and AVDTP (0x0019) characteristics.
    from fake_bluez import uuid16
    used = {(u, m) for u, m, _, _ in fake.gatt_calls(SENSOR_MAC)}
    assert (uuid16(0x0010), "WriteValue") in used and (uuid16(0x0019), "WriteValue") in used
    assert_left_disconnected(fake, SENSOR_MAC)

    rc, out = login(cloudless_bin, fake, SENSOR_MAC, state_dir)
    assert rc == 0 and "login ok" in out.lower(), out
    assert fake.gatt_state(SENSOR_MAC)["logins"] == 1
    assert_left_disconnected(fake, SENSOR_MAC)

    # A wrong token in the file: the device refuses the login.
    saved["token"] = "00" * 12
    key_file(state_dir, SENSOR_MAC).write_text(json.dumps(saved))
    rc, out = login(cloudless_bin, fake, SENSOR_MAC, state_dir, timeout=5)
    assert rc == 1, out
    assert fake.gatt_state(SENSOR_MAC)["logins"] == 1


def test_login_without_a_token_says_to_register(cloudless_bin, fake, state_dir):
    fake.add_std_sensor(SENSOR_MAC)
    rc, out = login(cloudless_bin, fake, SENSOR_MAC, state_dir, timeout=5)
    assert rc == 1, out
    assert "ble register" in out, out


def test_register_a_device_bluez_has_not_seen_yet(cloudless_bin, fake, state_dir):
    # No Device1 object until a discovery runs: register has to scan for it first.
    fake.add_std_sensor(SENSOR_MAC, visible=False)
    rc, out = register(cloudless_bin, fake, SENSOR_MAC, state_dir)
    assert rc == 0, out
    assert fake.sensor_keys(SENSOR_MAC) is not None
    assert key_file(state_dir, SENSOR_MAC).exists()


def test_register_a_kettle_with_the_legacy_auth(cloudless_bin, fake, state_dir):
    fake.add_kettle(KETTLE_MAC, product_id=131, beacon_key=KETTLE_BEACON_KEY)
    rc, out = register(cloudless_bin, fake, KETTLE_MAC, state_dir, "--product-id", 131)
    assert rc == 0, out
    token = fake.kettle_token(KETTLE_MAC)
    assert token is not None, "the kettle saw no register; output:\n" + out
    saved = json.loads(key_file(state_dir, KETTLE_MAC).read_text())
    assert saved["auth"] == "legacy" and saved["token"].lower() == token and saved["product_id"] == 131
    # The legacy "bind key" is the beacon key read from 0x0014 (docs/ble.md §4.2 step 7).
    assert saved["bindkey"].lower() == KETTLE_BEACON_KEY
    assert re.search(r"registered", out, re.I) and KETTLE_BEACON_KEY in out.lower(), out
    assert_left_disconnected(fake, KETTLE_MAC)

    rc, out = login(cloudless_bin, fake, KETTLE_MAC, state_dir)
    assert rc == 0 and "login ok" in out.lower(), out
    assert fake.kettle_state(KETTLE_MAC)["logins"] + fake.kettle_state(KETTLE_MAC)["registers"] >= 2


@pytest.mark.parametrize("kind, fault, reason", [
    ("legacy", "wrong_confirmation", r"confirmation"),
    ("legacy", "malformed", r"."),
    ("legacy", "no_notification", r"no answer|timed out"),
    ("standard", "no_notification", r"no answer|timed out"),
    ("standard", "error_code", r"e2"),
    ("standard", "malformed", r"."),
    ("standard", "malformed_index", r"."),
    ("standard", "disconnect_mid_handshake", r"."),
    ("legacy", "disconnect_mid_handshake", r"."),
    ("standard", "out_of_range", r"could not connect"),
])
def test_register_failures_exit_1_and_write_nothing(cloudless_bin, fake, state_dir, kind, fault, reason):
    mac = SENSOR_MAC if kind == "standard" else KETTLE_MAC
    if kind == "standard":
        fake.add_std_sensor(mac)
    else:
        fake.add_kettle(mac)
    fake.set_fault(mac, fault)
    start = time.monotonic()
    rc, out = register(cloudless_bin, fake, mac, state_dir, "--product-id", 131 if kind == "legacy" else 0x055B,
                       timeout=3)
    assert rc == 1, out
    assert time.monotonic() - start < 20, "a failure must not take much longer than --timeout"
    assert re.search(reason, one_line_reason(out), re.I), out
    assert not key_file(state_dir, mac).exists()
    assert list(state_dir.iterdir()) == []
    if kind == "standard":
        assert fake.sensor_keys(mac) is None
    else:
        assert not fake.kettle_state(mac)["authenticated"]
    assert_left_disconnected(fake, mac)
