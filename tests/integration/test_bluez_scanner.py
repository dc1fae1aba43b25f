"""AdvertScanner (protocols/xiaomi_ble/bluez/bluez_scanner.h) against a fake bluetoothd: python-dbusmock's
bluez5 template on a private bus used as the system bus (fake_bluez.py). The scanner runs inside
tests/tools/bluez_scan_tool, which prints one JSON line per status change and per advert.

Binary: $CLOUDLESS_TOOLS_DIR/bluez_scan_tool (ctest sets it), else build/tests or /tmp/h5-build/tests.
Point CLOUDLESS_TOOLS_DIR at an ASan+UBSan build to run the scanner under the sanitizers: every test
checks the tool's exit code and that its stderr has no sanitizer report.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fake_bluez  # noqa: E402
from fake_bluez import FakeBluez, MIBEACON_UUID  # noqa: E402

REPO_DIR = Path(__file__).resolve().parents[2]

# docs/ble.md §3.2 vector V16: a real encrypted MiBeacon v5 frame of a LYWSD03MMC A4:C1:38:02:83:F4.
FRAME = bytes.fromhex("58585b0550f48302 38c1a495ef58763c 26000097e2abb5".replace(" ", ""))
MAC = "A4:C1:38:02:83:F4"
OTHER_MAC = "E4:AA:EC:81:21:AE"


def tool_path():
    candidates = []
    if os.environ.get("CLOUDLESS_TOOLS_DIR"):
        candidates.append(Path(os.environ["CLOUDLESS_TOOLS_DIR"]))
    candidates += [REPO_DIR / "build" / "tests", Path("/tmp/h5-build/tests")]
    for directory in candidates:
        path = directory / "bluez_scan_tool"
        if path.exists() and os.access(path, os.X_OK):
            return path
    return None


def _problem():
    if tool_path() is None:
        return "bluez_scan_tool not built (set CLOUDLESS_TOOLS_DIR)"
    if subprocess.run(["sh", "-c", "command -v dbus-daemon"], capture_output=True).returncode != 0:
        return "dbus-daemon not installed"
    try:
        import dbusmock  # noqa: F401
    except ImportError:
        return "python3-dbusmock not installed (run with /usr/bin/python3)"
    return None


pytestmark = pytest.mark.skipif(_problem() is not None, reason=str(_problem()))


class ScanTool:
    """bluez_scan_tool as a subprocess; its JSON lines collected by a reader thread."""

    def __init__(self, env, workdir, *args, seconds=60):
        self.stderr_path = Path(workdir) / "bluez_scan_tool.stderr"
        self._stderr = open(self.stderr_path, "wb")
        cmd = [str(tool_path()), "--seconds", str(seconds)] + [str(a) for a in args]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=self._stderr,
                                     stdin=subprocess.DEVNULL)
        self.lines = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            try:
                line = json.loads(raw)
            except ValueError:
                line = {"event": "garbage", "raw": raw.decode(errors="replace")}
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()

    def mark(self):
        with self._cond:
            return len(self.lines)

    def wait_for(self, predicate, timeout=10.0, since=0, what="a line"):
        """The first line at index >= `since` satisfying `predicate`; AssertionError after `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines[since:]:
                    if predicate(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out after %.1f s waiting for %s; got:\n%s" % (
                        timeout, what, "\n".join(json.dumps(l) for l in self.lines[since:])))
                self._cond.wait(left)

    def wait_state(self, state, timeout=10.0, since=0, text=None):
        return self.wait_for(lambda l: l.get("event") == "status" and l["state"] == state
                             and (text is None or text in l["text"]),
                             timeout, since, "state %s%s" % (state, " (%s)" % text if text else ""))

    def wait_advert(self, mac, timeout=10.0, since=0, source=None, service_hex=None):
        def match(l):
            if l.get("event") != "advert" or l["mac"] != mac:
                return False
            if source is not None and l["source"] != source:
                return False
            return service_hex is None or l["service_data"].get(MIBEACON_UUID) == service_hex
        return self.wait_for(match, timeout, since, "advert from %s" % mac)

    def snapshot(self, since=0):
        with self._cond:
            return list(self.lines[since:])

    def events(self, kind, since=0):
        return [l for l in self.snapshot(since) if l.get("event") == kind]

    def stop(self, timeout=10.0):
        """SIGTERM, then the exit code; the tool must leave by itself (a clean stop())."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            raise AssertionError("bluez_scan_tool did not exit within %.0f s of SIGTERM" % timeout)
        finally:
            self._reader.join(timeout=5)
            self._stderr.close()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self._reader.join(timeout=5)
        if not self._stderr.closed:
            self._stderr.close()

    def stderr(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def assert_clean_exit(self):
        rc = self.stop()
        err = self.stderr()
        assert "Sanitizer" not in err and "runtime error" not in err, err
        assert rc == 0, "exit code %s, stderr:\n%s" % (rc, err)
        counters = self.events("counters")
        assert len(counters) == 1, self.snapshot()
        return counters[0]


@pytest.fixture
def fake(request, tmp_path):
    bluez = FakeBluez(tmp_path / "bus")
    request.addfinalizer(bluez.stop)
    bluez.start()
    return bluez


@pytest.fixture
def scan_tool(request, tmp_path):
    tools = []

    def start(env, *args, **kwargs):
        tool = ScanTool(env, tmp_path, *args, **kwargs)
        tools.append(tool)
        return tool

    def stop_all():
        for tool in tools:
            tool.kill()

    request.addfinalizer(stop_all)
    return start


def adverts_of(lines, mac):
    return [l for l in lines if l.get("event") == "advert" and l["mac"] == mac]


# ------------------------------------------------------------------------------------------------


def test_reports_cached_added_and_changed_adverts_with_the_filter(fake, scan_tool):
    fake.add_adapter("hci0")
    fake.add_adapter("hci1")
    fake.add_device(MAC, name="LYWSD03MMC")
    fake.advertise(MAC, FRAME, rssi=-60)            # before start: BlueZ' cached value
    fake.add_device(OTHER_MAC, name="other", adapter="hci1")

    tool = scan_tool(fake.env(), "--watchdog-ms", 60000)
    tool.wait_state("discovering")
    cached = tool.wait_advert(MAC, source="cached")
    assert cached["service_data"] == {MIBEACON_UUID: FRAME.hex()}
    assert cached["rssi"] == -60 and cached["name"] == "LYWSD03MMC" and cached["address_type"] == "public"
    assert cached["path"] == "/org/bluez/hci0/dev_A4_C1_38_02_83_F4"

    # The filter of issue #5: LE only, every advert reported, MiBeacon service data.
    filt = fake.adapter_property("hci0", "DiscoveryFilter")
    assert str(filt["Transport"]) == "le"
    assert bool(filt["DuplicateData"]) is True
    assert [str(u) for u in filt["UUIDs"]] == [MIBEACON_UUID]

    # A live advert: ServiceData and RSSI in one PropertiesChanged.
    mark = tool.mark()
    fake.advertise(MAC, FRAME, rssi=-55)
    live = tool.wait_advert(MAC, source="changed", since=mark)
    assert live["service_data"] == {MIBEACON_UUID: FRAME.hex()} and live["rssi"] == -55

    # Service data only (BlueZ sends RSSI only when it moved): the latest RSSI is kept.
    mark = tool.mark()
    fake.advertise(MAC, {MIBEACON_UUID: b"\x30\x58", "0000181a-0000-1000-8000-00805f9b34fb": b"\x01\x02"})
    two = tool.wait_advert(MAC, since=mark)
    assert two["service_data"] == {MIBEACON_UUID: "3058", "0000181a-0000-1000-8000-00805f9b34fb": "0102"}
    assert two["rssi"] == -55

    # A device seen for the first time: InterfacesAdded (the mock's ServiceData has a wrong type).
    mark = tool.mark()
    fake.add_device("11:22:33:44:55:66", name="new")
    added = tool.wait_advert("11:22:33:44:55:66", source="added", since=mark)
    assert added["rssi"] == -79 and added["service_data"] == {}

    # hci1 is not ours: its adverts are ignored. The hci0 advert sent after it is the sentinel
    # (signals from one sender arrive in order).
    mark = tool.mark()
    fake.advertise(OTHER_MAC, FRAME, rssi=-40, adapter="hci1")
    fake.advertise(MAC, b"\x01", rssi=-50)
    tool.wait_advert(MAC, since=mark, service_hex="01")
    assert adverts_of(tool.snapshot(mark), OTHER_MAC) == []
    assert fake.adapter_calls("hci1") == []

    counters = tool.assert_clean_exit()
    assert counters["adverts"] == len(tool.events("advert")) == 5
    assert counters["errors"] == 0 and counters["restarts"] == 0 and counters["filter_applied"] is True
    # Good neighbour: only its own filter and session; stop() ended that session; nothing else.
    assert fake.adapter_calls("hci0") == ["SetDiscoveryFilter", "StartDiscovery", "StopDiscovery"]
    assert bool(fake.adapter_property("hci0", "Powered")) is True
    assert fake.calls(fake_bluez.device_path("hci0", MAC)) == []


def test_adapter_off_is_waited_for_never_powered_on(fake, scan_tool):
    fake.add_adapter("hci0", powered=False)
    tool = scan_tool(fake.env(), "--watchdog-ms", 60000)
    off = tool.wait_state("adapter_off")
    assert "powered off" in off["text"]
    time.sleep(0.5)
    assert fake.adapter_calls() == []
    assert bool(fake.adapter_property("hci0", "Powered")) is False

    mark = tool.mark()
    fake.set_powered("hci0", True)
    tool.wait_state("discovering", since=mark)
    assert fake.adapter_calls() == ["SetDiscoveryFilter", "StartDiscovery"]

    mark = tool.mark()
    fake.set_powered("hci0", False)
    tool.wait_state("adapter_off", since=mark)
    mark = tool.mark()
    fake.set_powered("hci0", True)
    tool.wait_state("discovering", since=mark)

    counters = tool.assert_clean_exit()
    assert counters["restarts"] == 0 and counters["errors"] == 0
    assert fake.adapter_calls().count("StartDiscovery") == 2


def test_refused_filter_scans_unfiltered(fake, scan_tool):
    fake.add_adapter("hci0")
    fake.add_device(MAC)
    fake.fail_method("hci0", "SetDiscoveryFilter", "org.bluez.Error.NotSupported")
    tool = scan_tool(fake.env(), "--watchdog-ms", 60000)
    state = tool.wait_state("discovering")
    assert "refused the discovery filter" in state["text"] and "org.bluez.Error.NotSupported" in state["text"]
    mark = tool.mark()
    fake.advertise(MAC, FRAME, rssi=-70)
    tool.wait_advert(MAC, since=mark, service_hex=FRAME.hex())
    counters = tool.assert_clean_exit()
    assert counters["filter_applied"] is False
    assert fake.adapter_calls() == ["SetDiscoveryFilter", "StartDiscovery", "StopDiscovery"]


def test_survives_bluetoothd_restart(fake, scan_tool):
    fake.add_adapter("hci0")
    fake.add_device(MAC, name="LYWSD03MMC")
    tool = scan_tool(fake.env(), "--watchdog-ms", 60000)
    tool.wait_state("discovering")

    # bluetoothd restarts and finds its adapter again.
    mark = tool.mark()
    fake.restart()
    gone = tool.wait_state("bluez_gone", since=mark)
    assert "left the system bus" in gone["text"]
    tool.wait_state("discovering", since=mark)
    mark = tool.mark()
    fake.advertise(MAC, FRAME, rssi=-58)
    tool.wait_advert(MAC, since=mark, service_hex=FRAME.hex())

    # bluetoothd restarts without the adapter (controller not up yet), which appears later.
    mark = tool.mark()
    fake.restart(readd=False)
    tool.wait_state("bluez_gone", since=mark)
    tool.wait_state("no_adapter", since=mark)
    fake.add_adapter("hci0")
    fake.add_device(MAC)
    tool.wait_state("discovering", since=mark)
    mark = tool.mark()
    fake.advertise(MAC, b"\x42", rssi=-61)
    tool.wait_advert(MAC, since=mark, service_hex="42")

    counters = tool.assert_clean_exit()
    assert counters["bluez_appeared"] == 3
    assert counters["errors"] == 0


def test_adapter_removed_and_back(fake, scan_tool):
    fake.add_adapter("hci0")
    fake.add_device(MAC)
    tool = scan_tool(fake.env(), "--watchdog-ms", 60000)
    tool.wait_state("discovering")
    mark = tool.mark()
    fake.remove_adapter("hci0")
    removed = tool.wait_state("no_adapter", since=mark)
    assert "removed" in removed["text"]
    fake.add_adapter("hci0")
    fake.add_device(MAC)
    tool.wait_state("discovering", since=mark)
    mark = tool.mark()
    fake.advertise(MAC, FRAME, rssi=-66)
    tool.wait_advert(MAC, since=mark, service_hex=FRAME.hex())
    counters = tool.assert_clean_exit()
    assert counters["adapter_appeared"] == 2 and counters["errors"] == 0
    # The new adapter object got a full setup: filter + discovery, then our stop.
    assert fake.adapter_calls() == ["SetDiscoveryFilter", "StartDiscovery", "StopDiscovery"]


def test_watchdog_restarts_discovery_when_adverts_stop(fake, scan_tool):
    fake.add_adapter("hci0")
    fake.add_device(MAC)
    tool = scan_tool(fake.env(), "--watchdog-ms", 2000)
    tool.wait_state("discovering")

    # Adverts every 0.4 s for 3 s: more than the watchdog period, no restart.
    mark = tool.mark()
    for i in range(8):
        fake.advertise(MAC, bytes([i]), rssi=-60)
        time.sleep(0.4)
    assert not [l for l in tool.events("status", mark) if "watchdog" in l["text"]], tool.snapshot(mark)

    # Silence: the watchdog restarts discovery (stop, filter, start), and again after another period.
    fake_calls_before = len(fake.adapter_calls())
    mark = tool.mark()
    restarting = tool.wait_state("starting", timeout=6, since=mark, text="watchdog")
    assert "no advert for 2 s" in restarting["text"]
    tool.wait_state("discovering", since=mark)
    assert fake.adapter_calls()[fake_calls_before:fake_calls_before + 3] == [
        "StopDiscovery", "SetDiscoveryFilter", "StartDiscovery"]

    # An advert after the restart is still received.
    mark = tool.mark()
    fake.advertise(MAC, FRAME, rssi=-60)
    tool.wait_advert(MAC, since=mark, service_hex=FRAME.hex())
    counters = tool.assert_clean_exit()
    assert counters["watchdog_restarts"] >= 1 and counters["restarts"] == counters["watchdog_restarts"]


def test_discovery_stopped_behind_our_back_is_restarted(fake, scan_tool):
    fake.add_adapter("hci0")
    tool = scan_tool(fake.env(), "--watchdog-ms", 60000, "--rediscover-ms", 300)
    tool.wait_state("discovering")
    mark = tool.mark()
    fake.set_discovering("hci0", False)
    restarting = tool.wait_state("starting", since=mark)
    assert "stopped discovering" in restarting["text"]
    tool.wait_state("discovering", since=mark)
    assert bool(fake.adapter_property("hci0", "Discovering")) is True
    counters = tool.assert_clean_exit()
    assert counters["restarts"] == 1 and counters["watchdog_restarts"] == 0


def test_waits_for_bluetoothd_to_appear(tmp_path, scan_tool):
    fake = FakeBluez(tmp_path / "bus")
    try:
        fake.start(with_bluez=False)
        tool = scan_tool(fake.env(), "--watchdog-ms", 60000)
        gone = tool.wait_state("bluez_gone")
        assert "not running" in gone["text"]
        fake.start_bluez()
        tool.wait_state("no_adapter")
        fake.add_adapter("hci0")
        tool.wait_state("discovering")
        counters = tool.assert_clean_exit()
        assert counters["errors"] == 0 and counters["bluez_appeared"] == 1
    finally:
        fake.stop()


def test_no_bus_is_reported_and_retried(tmp_path, scan_tool):
    env = dict(os.environ)
    env[fake_bluez.ENV_VAR] = "unix:path=%s" % (tmp_path / "no-such-socket")
    tool = scan_tool(env, "--retry-ms", 300)
    state = tool.wait_state("bus_unavailable")
    assert "cannot connect to the system bus" in state["text"]
    time.sleep(1.2)
    counters = tool.assert_clean_exit()
    assert counters["errors"] >= 3  # the first attempt and retries every 0.3 s


def test_survives_the_bus_restarting(fake, scan_tool):
    fake.add_adapter("hci0")
    fake.add_device(MAC)
    tool = scan_tool(fake.env(), "--watchdog-ms", 60000, "--retry-ms", 300)
    tool.wait_state("discovering")
    mark = tool.mark()
    fake.restart_bus()
    lost = tool.wait_state("bus_unavailable", since=mark)
    assert "lost" in lost["text"]
    tool.wait_state("discovering", timeout=15, since=mark)
    mark = tool.mark()
    fake.advertise(MAC, FRAME, rssi=-52)
    tool.wait_advert(MAC, since=mark, service_hex=FRAME.hex())
    counters = tool.assert_clean_exit()
    assert counters["bluez_appeared"] == 2


def test_many_devices_one_subscription(fake, scan_tool):
    """200 advertisers: every advert arrives, and the scanner makes no per-device D-Bus call."""
    fake.add_adapter("hci0")
    macs = ["A4:C1:38:00:%02X:%02X" % (i // 256, i % 256) for i in range(200)]
    for mac in macs:
        fake.add_device(mac)
    tool = scan_tool(fake.env(), "--watchdog-ms", 60000)
    tool.wait_state("discovering")
    mark = tool.mark()
    for i, mac in enumerate(macs):
        fake.advertise(mac, bytes([0x58, 0x58, i % 256]), rssi=-70)
    last = macs[-1]
    tool.wait_advert(last, since=mark, service_hex="5858%02x" % ((len(macs) - 1) % 256))
    seen = {l["mac"] for l in tool.events("advert", mark)}
    assert seen == set(macs)
    counters = tool.assert_clean_exit()
    assert counters["errors"] == 0
    for mac in macs[:5]:
        assert fake.calls(fake_bluez.device_path("hci0", mac)) == []
