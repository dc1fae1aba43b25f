"""The BlueZ GATT client (protocols/xiaomi_ble/bluez_gatt_client.{h,cpp}) through tests/tools/gatt_tool,
against the fake bluetoothd's scripted kettle (fake_bluez.py + fake_gatt_devices.py): connect and resolve
services, read, write with and without response, notifications, error names, retries with backoff, a
device BlueZ has not seen yet, out of range, a drop mid-session, bluetoothd going away.

gatt_tool prints one JSON line per event; every run is bounded (its own backstop and a subprocess timeout)
and every fake is stopped by a finalizer.
"""

import json
import os
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

MAC = "AA:BB:CC:DD:EE:FF"


def tool_path():
    tools = os.environ.get("CLOUDLESS_TOOLS_DIR")
    path = Path(tools) / "gatt_tool" if tools else None
    if path is None or not path.exists():
        pytest.skip("gatt_tool not built (CLOUDLESS_TOOLS_DIR)")
    return path


@pytest.fixture
def fake(fake_bluetoothd):
    return fake_bluetoothd


def run_tool(fake, *args, flags=(), timeout=60):
    proc = subprocess.run([str(tool_path())] + list(flags) + [MAC] + list(args), env=fake.env(dict(os.environ)),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return proc.returncode, events, proc.stderr


def start_tool(fake, *args, flags=()):
    return subprocess.Popen([str(tool_path())] + list(flags) + [MAC] + list(args), env=fake.env(dict(os.environ)),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def of(events, kind):
    return [e for e in events if e["event"] == kind]


def test_connect_resolves_characteristics_by_uuid_and_reads_writes(fake):
    fake.add_kettle(MAC)
    code, events, err = run_tool(fake, "read:2a28", "write:0010:90ca85de", "command:0001:00112233445566778899aabb", "read:0002")
    assert code == 0, err
    connected = of(events, "connected")[0]
    for short in ("0001", "0004", "0010", "0014", "aa01", "aa02", "aa04", "aa05", "2a28"):
        assert "0000%s-0000-1000-8000-00805f9b34fb" % short in connected["characteristics"]
    assert connected["attempts"] == 1
    reads = of(events, "read")
    assert len(reads) == 1 and bytes.fromhex(reads[0]["value"])  # the MCU version string, readable unauthenticated
    assert len(of(events, "written")) == 1
    # 0x0001 takes no write without response (no such flag): BlueZ' NotSupported, named.
    unsupported = [e for e in of(events, "error") if e["step"].startswith("command:0001")]
    assert unsupported and unsupported[0]["kind"] == "not_supported"
    assert unsupported[0]["name"] == "org.bluez.Error.NotSupported"
    # A characteristic the device lacks: a clear error, not a hang.
    missing = [e for e in of(events, "error") if e["step"] == "read:0002"]
    assert missing and missing[0]["kind"] == "no_characteristic"
    writes = [c for c in fake.gatt_calls(MAC) if c[1] == "WriteValue"]
    assert writes[0][0].startswith("00000010") and writes[0][2] == "90ca85de" and writes[0][3].get("type") == "request"
    assert not fake.kettle_state(MAC)["connected"]  # the tool disconnected at the end


def test_write_without_response_goes_out_as_an_att_command(fake):
    fake.add_std_sensor(MAC)
    code, events, err = run_tool(fake, "command:0019:00000101")
    assert code == 0, err
    assert of(events, "written")
    writes = [c for c in fake.gatt_calls(MAC) if c[1] == "WriteValue"]
    assert writes and writes[0][0].startswith("00000019") and writes[0][3].get("type") == "command"


def test_bluez_errors_map_to_kinds(fake):
    fake.add_kettle(MAC)
    # Before the Mi auth the kettle refuses its settings: org.bluez.Error.NotAuthorized.
    code, events, err = run_tool(fake, "write:aa05:01", "write:aa04:ff")
    assert code == 0, err
    errors = of(events, "error")
    assert errors[0]["kind"] == "not_authorized" and errors[0]["name"] == "org.bluez.Error.NotAuthorized"


def test_notifications_arrive_after_start_notify(fake):
    fake.add_kettle(MAC)
    # The first half of the legacy register: the kettle answers any token write on 0x0001 with a
    # 12-byte notification (its mixB proof), whatever the token.
    code, events, err = run_tool(fake, "notify:0001", "write:0010:90ca85de", "write:0001:00112233445566778899aabb",
                                 "wait:1000")
    assert code == 0, err
    assert of(events, "subscribed")[0]["uuid"].startswith("00000001")
    notes = of(events, "notification")
    assert len(notes) == 1 and notes[0]["uuid"].startswith("00000001") and len(bytes.fromhex(notes[0]["value"])) == 12
    assert [c[1] for c in fake.gatt_calls(MAC)].count("StartNotify") == 1


def test_connect_in_progress_is_retried_with_backoff(fake):
    fake.add_kettle(MAC)
    fake.set_fault(MAC, "connect_in_progress_once")
    code, events, err = run_tool(fake, "read:2a28", flags=["--attempts", "3", "--backoff-ms", "200"])
    assert code == 0, err
    assert of(events, "connected")[0]["attempts"] == 2
    assert of(events, "read")


def test_out_of_range_fails_after_the_attempts_with_the_bluez_reason(fake):
    fake.add_kettle(MAC)
    fake.set_fault(MAC, "out_of_range")
    started = time.monotonic()
    code, events, err = run_tool(fake, "read:2a28", flags=["--attempts", "3", "--backoff-ms", "100"])
    assert code == 1
    failed = of(events, "connect_failed")[0]
    assert failed["attempts"] == 3
    assert failed["kind"] == "disconnected" and "le-connection-abort-by-local" in failed["message"]
    assert time.monotonic() - started < 30


def test_a_device_bluez_has_not_seen_is_discovered_first(fake):
    fake.add_kettle(MAC, visible=False)
    code, events, err = run_tool(fake, "read:2a28", flags=["--discovery-ms", "5000"])
    assert code == 0, err
    assert of(events, "connected") and of(events, "read")
    adapter_calls = fake.adapter_calls("hci0")
    assert "StartDiscovery" in adapter_calls and "StopDiscovery" in adapter_calls


def test_a_device_that_never_shows_up_is_reported_as_unknown(fake):
    code, events, err = run_tool(fake, "read:2a28", flags=["--discovery-ms", "600", "--attempts", "1"])
    assert code == 1
    failed = of(events, "connect_failed")[0]
    assert failed["kind"] == "device_unknown" and "not seen advertising" in failed["message"]
    assert "StopDiscovery" in fake.adapter_calls("hci0")


def test_a_drop_mid_session_fails_the_pending_operation_and_reports_disconnected(fake):
    fake.add_kettle(MAC)
    proc = start_tool(fake, "notify:0001", "wait:3000", "read:2a28")
    try:
        # Drop the link while the tool waits.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not fake.kettle_state(MAC)["connected"]:
            time.sleep(0.05)
        assert fake.kettle_state(MAC)["connected"]
        time.sleep(0.3)
        fake.drop_connection(MAC)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert of(events, "subscribed")
    dropped = of(events, "disconnected")
    assert dropped and dropped[0]["kind"] == "disconnected"
    late = [e for e in of(events, "error") if e["step"] == "read:2a28"]
    assert late and late[0]["kind"] == "disconnected"


def test_bluetoothd_going_away_ends_the_connection(fake):
    fake.add_kettle(MAC)
    proc = start_tool(fake, "wait:4000", "read:2a28")
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not fake.kettle_state(MAC)["connected"]:
            time.sleep(0.05)
        time.sleep(0.3)
        fake.stop_bluez()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    dropped = of(events, "disconnected")
    assert dropped and dropped[0]["kind"] == "bluez_gone"
    assert of(events, "error")[0]["kind"] in ("disconnected", "cancelled", "bluez_gone")
