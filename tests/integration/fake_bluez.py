"""A fake bluetoothd for tests: a private dbus-daemon used as the *system* bus, with python-dbusmock's
`bluez5` template owning org.bluez on it (research ble.md §7). Reusable by every BLE test.

    fake = FakeBluez(tmp_path / "bluez")
    fake.start()                                   # dbus-daemon + mock; fake.env() has the bus address
    fake.add_adapter("hci0")
    fake.add_device("A4:C1:38:02:83:F4", name="LYWSD03MMC")
    ... start the program under test with env=fake.env() (DBUS_SYSTEM_BUS_ADDRESS) ...
    fake.advertise("A4:C1:38:02:83:F4", bytes.fromhex("5858..."), rssi=-60)   # one PropertiesChanged
    fake.restart()                                 # bluetoothd restart: owner gone, back, objects again
    fake.remove_adapter("hci0"); fake.add_adapter("hci0")
    fake.stop()                                    # always (a pytest finalizer): stops both processes

What the template lacks or gets wrong, and what this helper does about it (research §7.2):
  * no advert generation: `advertise()` sets Device1 ServiceData/RSSI and emits ONE PropertiesChanged
    carrying both, with the real types (a{sv} of ay, n), as BlueZ does for each received advert. It
    uses a method added at run time on the mock's "/" (org.cloudless.FakeBluez.Advertise), because
    the generic Mock.UpdateProperties crashes on dict values (Bug 2) and Properties.Set emits one
    signal per property.
  * StartDiscovery raises KeyError('DiscoveryFilter') unless SetDiscoveryFilter came first (Bug 3):
    `add_adapter()` gives the adapter an empty DiscoveryFilter property, as real BlueZ needs none.
  * AddDevice's initial ServiceData/ManufacturerData have wrong types (aa{sv}, aa{qv}) (Bug 1): left
    as they are on purpose, clients must survive them.
  * Properties.Set is accepted even for read-only properties (Powered, Discovering): `set_powered()`
    and `set_discovering()` use it to play "adapter switched off" and "scan stopped by itself".
  * the mock keeps one discovery state per adapter, not one session per client.

Rules: the bus is only a unix socket in the workdir; every wait is bounded; every process started
here is stopped by stop() (SIGTERM, then SIGKILL). Interpreter: Debian's /usr/bin/python3 with
python3-dbusmock (which pulls python3-dbus).
"""

import os
import selectors
import shutil
import signal
import subprocess
import time
from pathlib import Path

import dbus

PY = "/usr/bin/python3"
ENV_VAR = "DBUS_SYSTEM_BUS_ADDRESS"
MIBEACON_UUID = "0000fe95-0000-1000-8000-00805f9b34fb"

BLUEZ = "org.bluez"
ADAPTER_IFACE = "org.bluez.Adapter1"
DEVICE_IFACE = "org.bluez.Device1"
MOCK_IFACE = "org.freedesktop.DBus.Mock"
BLUEZ_MOCK_IFACE = "org.bluez.Mock"
PROPS_IFACE = "org.freedesktop.DBus.Properties"
HELPER_IFACE = "org.cloudless.FakeBluez"

CALL_TIMEOUT = 5.0  # seconds, every D-Bus call made here

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

# Runs inside the mock (AddMethod code: `args`, `self`, `objects` and `dbus` are in scope).
# args: device path, {uuid: bytes}, has_rssi, rssi
_ADVERTISE_CODE = """
dev = objects[args[0]]
props = dev.props['org.bluez.Device1']
changed = {}
if len(args[1]) > 0:
    sd = dbus.Dictionary({k: dbus.Array([dbus.Byte(b) for b in v], signature='y', variant_level=1)
                          for k, v in args[1].items()}, signature='sv', variant_level=1)
    props['ServiceData'] = sd
    changed['ServiceData'] = sd
if args[2]:
    props['RSSI'] = dbus.Int16(args[3], variant_level=1)
    changed['RSSI'] = props['RSSI']
dev.EmitSignal('org.freedesktop.DBus.Properties', 'PropertiesChanged', 'sa{sv}as',
               ['org.bluez.Device1', dbus.Dictionary(changed, signature='sv'), dbus.Array([], signature='s')])
"""


def device_path(adapter, mac):
    return "/org/bluez/%s/dev_%s" % (adapter, mac.upper().replace(":", "_"))


def _stop(proc, timeout=5.0):
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


class FakeBluez:
    """A private bus with a fake bluetoothd. Attributes: `address` (the bus address), `workdir`.

    State that survives restart(): the adapters (name → powered) and devices (mac → adapter, name)
    added through this object, re-created after the mock comes back, like a real bluetoothd finding
    its controller and reloading known devices (without their ServiceData).
    """

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.socket_path = self.workdir / "system_bus_socket"
        self.address = None
        self.bus_proc = None
        self.mock_proc = None
        self.mock_starts = 0
        self._conn = None
        self._adapters = {}  # name -> powered
        self._devices = {}  # MAC -> (adapter, name)

    # -- processes --------------------------------------------------------------------------------

    def env(self, base=None):
        """A copy of `base` (default os.environ) with the fake bus as the system bus."""
        env = dict(os.environ if base is None else base)
        env[ENV_VAR] = self.address
        return env

    def start(self, with_bluez=True, timeout=10.0):
        for tool in ("dbus-daemon",):
            if shutil.which(tool) is None:
                raise RuntimeError("%s not installed" % tool)
        if len(str(self.socket_path)) > 100:  # sun_path limit is 108 bytes
            raise RuntimeError("workdir path too long for a unix socket: %s" % self.socket_path)
        conf = self.workdir / "bus.conf"
        conf.write_text(_BUS_CONFIG.format(socket=self.socket_path))
        self.bus_log = open(self.workdir / "dbus-daemon.log", "wb")
        self.bus_proc = subprocess.Popen(
            ["dbus-daemon", "--config-file=%s" % conf, "--nofork", "--nopidfile", "--print-address=1"],
            stdout=subprocess.PIPE, stderr=self.bus_log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        line = b""
        # --print-address writes one line as soon as the bus listens; read it with a bound.
        with selectors.DefaultSelector() as sel:
            sel.register(self.bus_proc.stdout, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or self.bus_proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("dbus-daemon did not start (see %s)" % (self.workdir / "dbus-daemon.log"))
                if sel.select(timeout=left):
                    chunk = os.read(self.bus_proc.stdout.fileno(), 4096)
                    if not chunk:
                        continue
                    line += chunk
        # Without the printed ",guid=...": a client given this address can reconnect to a restarted bus.
        self.address = "unix:path=%s" % self.socket_path
        self._conn = dbus.bus.BusConnection(self.address)
        if with_bluez:
            self.start_bluez(timeout=timeout)
        return self

    def start_bluez(self, timeout=10.0):
        """Starts the mock bluetoothd (owner of org.bluez) and waits until its objects answer."""
        if self.mock_proc is not None and self.mock_proc.poll() is None:
            return
        self.mock_starts += 1
        env = self.env()
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        self.mock_log_path = self.workdir / ("bluez-mock-%d.log" % self.mock_starts)
        self._mock_out = open(self.workdir / ("bluez-mock-%d.out" % self.mock_starts), "wb")
        self.mock_proc = subprocess.Popen(
            [PY, "-m", "dbusmock", "--template", "bluez5", "-l", str(self.mock_log_path)],
            env=env, stdout=self._mock_out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            # The bus name is taken before the template's load() runs: wait for /org/bluez too.
            try:
                objects = self._call("/", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", "", [])
                if "/org/bluez" in objects:
                    break
            except dbus.exceptions.DBusException:
                pass
            if self.mock_proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("bluez5 mock did not come up (see %s)" % self._mock_out.name)
            time.sleep(0.05)
        self._call("/", MOCK_IFACE, "AddMethod", "sssss",
                   [HELPER_IFACE, "Advertise", "oa{say}bn", "", _ADVERTISE_CODE])

    def stop_bluez(self, timeout=5.0):
        """bluetoothd exits: org.bluez loses its owner (NameOwnerChanged), every object disappears."""
        _stop(self.mock_proc, timeout)
        self.mock_proc = None
        if self._conn is not None:
            deadline = time.monotonic() + timeout
            while self.bluez_running() and time.monotonic() < deadline:
                time.sleep(0.02)

    def restart(self, readd=True, pause=0.2):
        """bluetoothd restart: stop, `pause` s with no owner, start, re-create adapters and devices."""
        self.stop_bluez()
        time.sleep(pause)
        self.start_bluez()
        if readd:
            for name, powered in list(self._adapters.items()):
                self._create_adapter(name, powered)
            for mac, (adapter, name) in list(self._devices.items()):
                if adapter in self._adapters:
                    self._create_device(adapter, mac, name)

    def restart_bus(self, pause=0.2):
        """The system bus itself restarts (clients lose their connection): same socket path, new
        daemon, bluetoothd and its adapters/devices back as restart() brings them."""
        self.stop()
        time.sleep(pause)
        self.start(with_bluez=False)
        self.restart(readd=True, pause=0)

    def stop(self):
        _stop(self.mock_proc)
        self.mock_proc = None
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None
        _stop(self.bus_proc)
        self.bus_proc = None
        for f in ("bus_log", "_mock_out"):
            handle = getattr(self, f, None)
            if handle is not None:
                handle.close()

    def bluez_running(self):
        return bool(self._conn.call_blocking("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                             "NameHasOwner", "s", [BLUEZ], timeout=CALL_TIMEOUT))

    def log_text(self):
        parts = []
        for path in sorted(self.workdir.glob("bluez-mock-*")):
            try:
                parts.append("== %s\n%s" % (path.name, path.read_text(errors="replace")[-20000:]))
            except OSError:
                pass
        return "\n".join(parts)

    # -- objects ----------------------------------------------------------------------------------

    def _call(self, path, iface, method, signature, args):
        return self._conn.call_blocking(BLUEZ, path, iface, method, signature, args, timeout=CALL_TIMEOUT)

    def _create_adapter(self, name, powered):
        path = str(self._call("/", BLUEZ_MOCK_IFACE, "AddAdapter", "ss", [name, "cloudless-test"]))
        # Bug 3: StartDiscovery needs a DiscoveryFilter property; real BlueZ needs no filter. A client
        # watching InterfacesAdded may have set its filter already: then the property exists.
        try:
            self._call(path, MOCK_IFACE, "AddProperty", "ssv",
                       [ADAPTER_IFACE, "DiscoveryFilter", dbus.Dictionary({}, signature="sv")])
        except dbus.exceptions.DBusException as e:
            if not (e.get_dbus_name() or "").endswith("PropertyExists"):
                raise
        if not powered:
            self.set_powered(name, False)
        return path

    def _create_device(self, adapter, mac, name):
        return str(self._call("/", BLUEZ_MOCK_IFACE, "AddDevice", "sss", [adapter, mac.upper(), name]))

    def add_adapter(self, name="hci0", powered=True):
        """Adds /org/bluez/<name> (InterfacesAdded). Returns its path."""
        self._adapters[name] = powered
        return self._create_adapter(name, powered)

    def remove_adapter(self, name="hci0", with_devices=True):
        """The controller disappears (USB unplugged, hciconfig down): InterfacesRemoved of Adapter1."""
        self._adapters.pop(name, None)
        for mac in [m for m, (a, _) in self._devices.items() if a == name]:
            del self._devices[mac]
        method = "RemoveAdapterWithDevices" if with_devices else "RemoveAdapter"
        self._call("/", BLUEZ_MOCK_IFACE, method, "s", [name])

    def add_device(self, mac, name="", adapter="hci0"):
        """A device BlueZ has just seen (InterfacesAdded; the mock gives RSSI -79). Returns its path."""
        self._devices[mac.upper()] = (adapter, name)
        return self._create_device(adapter, mac, name)

    def advertise(self, mac, service_data=None, rssi=None, adapter="hci0", uuid=MIBEACON_UUID):
        """One received advert: Device1 ServiceData (bytes for `uuid`, or a {uuid: bytes} dict) and/or
        RSSI set and announced in a single PropertiesChanged. The device must exist (add_device)."""
        if isinstance(service_data, (bytes, bytearray)):
            service_data = {uuid: bytes(service_data)}
        data = dbus.Dictionary({k: dbus.ByteArray(bytes(v)) for k, v in (service_data or {}).items()},
                               signature="say")
        self._call("/", HELPER_IFACE, "Advertise", "oa{say}bn",
                   [dbus.ObjectPath(device_path(adapter, mac)), data, rssi is not None, rssi or 0])

    def set_powered(self, adapter, powered):
        """The adapter is switched off/on by someone else (PropertiesChanged Powered)."""
        if adapter in self._adapters:
            self._adapters[adapter] = powered
        self._set(adapter, "Powered", dbus.Boolean(powered))

    def set_discovering(self, adapter, discovering):
        """The adapter's Discovering flips without any client asking (controller stopped scanning)."""
        self._set(adapter, "Discovering", dbus.Boolean(discovering))

    def _set(self, adapter, prop, value):
        self._call("/org/bluez/" + adapter, PROPS_IFACE, "Set", "ssv", [ADAPTER_IFACE, prop, value])

    def adapter_property(self, adapter, prop):
        return self._call("/org/bluez/" + adapter, PROPS_IFACE, "Get", "ss", [ADAPTER_IFACE, prop])

    def fail_method(self, adapter, method, error_name="org.bluez.Error.NotSupported", message="refused by test"):
        """Replaces Adapter1.<method> (e.g. SetDiscoveryFilter) with one that always fails."""
        signature = {"SetDiscoveryFilter": "a{sv}"}.get(method, "")
        code = "raise dbus.exceptions.DBusException(%r, name=%r)" % (message, error_name)
        self._call("/org/bluez/" + adapter, MOCK_IFACE, "AddMethod", "sssss",
                   [ADAPTER_IFACE, method, signature, "", code])

    def calls(self, path):
        """[(method, args)] the mock logged for the object at `path` (dbusmock GetCalls)."""
        return [(str(name), list(args)) for _, name, args in self._call(path, MOCK_IFACE, "GetCalls", "", [])]

    def adapter_calls(self, adapter="hci0"):
        return [name for name, _ in self.calls("/org/bluez/" + adapter)]
