"""A fake bluetoothd for tests: a private dbus-daemon used as the *system* bus, with python-dbusmock's
`bluez5` template owning org.bluez on it (docs/ble.md §7). Reusable by every BLE test.

    fake = FakeBluez(tmp_path / "bluez")
    fake.start()                                   # dbus-daemon + mock; fake.env() has the bus address
    fake.add_adapter("hci0")
    fake.add_device("A4:C1:38:02:83:F4", name="LYWSD03MMC")
    ... start the program under test with env=fake.env() (DBUS_SYSTEM_BUS_ADDRESS) ...
    fake.advertise("A4:C1:38:02:83:F4", bytes.fromhex("5858..."), rssi=-60)   # one PropertiesChanged
    fake.restart()                                 # bluetoothd restart: owner gone, back, objects again
    fake.remove_adapter("hci0"); fake.add_adapter("hci0")
    fake.stop()                                    # always (a pytest finalizer): stops both processes

What the template lacks or gets wrong, and what this helper does about it (docs/ble.md §7.2):
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

GATT peripherals (issue #6): the mock runs bluez_gatt_template.py (the bluez5 template plus scripted
devices from fake_gatt_devices.py, driven through org.cloudless.FakeBluez.Gatt.Control on "/"):

    fake.add_kettle("AA:BB:CC:DD:EE:FF", product_id=131)      # Mi kettle, legacy RC4 auth (§4.2, §4.3)
    fake.add_std_sensor("A4:C1:38:02:83:F4")                  # Mi standard auth (§4.4)
    fake.kettle_state(mac), fake.kettle_set(mac, current_temperature=95), fake.kettle_token(mac)
    fake.sensor_keys(mac), fake.sensor_advertise(mac, temperature=22.4, humidity=48.2)
    fake.set_fault(mac, "wrong_confirmation"); fake.set_fault(mac, "none"); fake.set_in_range(mac, False)
    fake.gatt_calls(mac) -> [(char uuid, method, value hex or None, options)]

Faults (set_fault; "none" clears): out_of_range, connect_in_progress_once, no_notification,
wrong_confirmation, disconnect_mid_handshake, error_code, malformed, malformed_index — see
GATT_FAULTS below for what each does. restart() re-creates the scripted devices with what they
remember (kettle token and settings, sensor keys); connections do not survive it.

Rules: the bus is only a unix socket in the workdir; every wait is bounded; every process started
here is stopped by stop() (SIGTERM, then SIGKILL). Interpreter: Debian's /usr/bin/python3 with
python3-dbusmock (which pulls python3-dbus).
"""

import json
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
GATT_IFACE = "org.cloudless.FakeBluez.Gatt"
GATT_TEMPLATE = str(Path(__file__).resolve().parent / "bluez_gatt_template.py")


def uuid16(short):
    """A 16-bit UUID in the Bluetooth base: uuid16(0x0010) = "00000010-0000-1000-8000-00805f9b34fb"."""
    return "%08x-0000-1000-8000-00805f9b34fb" % short


MI_SERVICE_UUID = uuid16(0xFE95)
KETTLE_SERVICE_UUID = "01344736-0000-1000-8000-262837236156"

# What each fault does (set_fault(mac, name); "none" clears; a fault stays until cleared unless said).
GATT_FAULTS = {
    "out_of_range": "drops a connected device; Connect fails with org.bluez.Error.Failed "
                    "'le-connection-abort-by-local' after ~100 ms",
    "connect_in_progress_once": "the next Connect fails at once with org.bluez.Error.InProgress, then clears",
    "no_notification": "auth notifications (kettle 0x0001, sensor 0x0010/0x0019) are never sent",
    "wrong_confirmation": "legacy register: reply fails the mixB check (first byte inverted), no auth; "
                          "legacy login: confirmation with its first byte inverted, no auth; "
                          "standard login: device-info HMAC with its first byte inverted",
    "disconnect_mid_handshake": "the device drops ~5 ms after the first auth write of a connection "
                                "(that write succeeds and is not processed)",
    "error_code": "standard: UPNP e2000000 right after SET_KEY, nothing else; legacy: no effect",
    "malformed": "legacy register: a 5-byte reply; standard: every device transfer header announces "
                 "0 frames and no frame follows",
    "malformed_index": "standard: the device's data frames are numbered from 2 instead of 1",
}

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

    def __init__(self, workdir, template=GATT_TEMPLATE):
        self.template = template  # "bluez5" for the stock template only
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
        self._gatt = {}  # MAC -> (control command, its arguments) of the scripted GATT devices

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
            [PY, "-m", "dbusmock", "--template", self.template, "-l", str(self.mock_log_path)],
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
        remembered = self._gatt_snapshot()
        self.stop_bluez()
        time.sleep(pause)
        self.start_bluez()
        if readd:
            for name, powered in list(self._adapters.items()):
                self._create_adapter(name, powered)
            for mac, (adapter, name) in list(self._devices.items()):
                if adapter in self._adapters:
                    self._create_device(adapter, mac, name)
            for mac, (command, kwargs) in list(self._gatt.items()):
                if kwargs.get("adapter", "hci0") in self._adapters:
                    self._control(command, **dict(kwargs, restore=remembered.get(mac)))

    def restart_bus(self, pause=0.2):
        """The system bus itself restarts (clients lose their connection): same socket path, new
        daemon, bluetoothd and its adapters/devices back as restart() brings them."""
        remembered = self._gatt_snapshot()
        self.stop()
        time.sleep(pause)
        self.start(with_bluez=False)
        self._remembered = remembered
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
        for mac in [m for m, (_, kw) in self._gatt.items() if kw.get("adapter", "hci0") == name]:
            del self._gatt[mac]
        if self.template != "bluez5":
            self._control("forget_adapter", adapter=name)
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

    # -- scripted GATT devices (bluez_gatt_template.py) -------------------------------------------

    def _control(self, command, **kwargs):
        if self.template == "bluez5":
            raise RuntimeError("scripted GATT devices need FakeBluez(template=GATT_TEMPLATE)")
        out = self._call("/", GATT_IFACE, "Control", "ss", [command, json.dumps(kwargs)])
        return json.loads(str(out))

    def _gatt_snapshot(self):
        """What the scripted devices remember (kettle token and settings, sensor keys), read before
        bluetoothd goes away; the last snapshot if the mock is already gone."""
        if self._gatt and self.mock_proc is not None and self.mock_proc.poll() is None:
            try:
                self._remembered = self._control("export")["devices"]
            except dbus.exceptions.DBusException:
                pass
        return dict(getattr(self, "_remembered", {}) or {})

    def add_kettle(self, mac, product_id=131, name="MiKettle", adapter="hci0", login_variant="le12",
                   visible=True, token=None, beacon_key="0a1b2c3d4e5f60718293a4b5", version="1.0.0_0001",
                   mcu_version="0.1.5"):
        """A Mi kettle (YM-K1501, pid 131; the EU one is 275): Mi service fe95 with 0001 (write,
        notify), 0004 (read), 0010 (write), 0014 (read), and the kettle service with aa01 (write),
        aa02 (notify), aa04/aa05 (read, write), 2a28 (read). Legacy auth (docs/ble.md §4.2): register with
        any token (kept: kettle_token()), or the login of docs/ble.md §S2 with the registered token;
        `login_variant` "le12" (default: constants little-endian, 12-byte key), "le4", "be12", "be4".
        `token` (hex) plays a kettle already bound to Mi Home. visible=False: its Device1 object
        appears only ~300 ms after StartDiscovery on `adapter`. Returns the device path."""
        kwargs = dict(mac=mac.upper(), product_id=product_id, name=name, adapter=adapter,
                      login_variant=login_variant, visible=visible, token=token, beacon_key=beacon_key,
                      version=version, mcu_version=mcu_version)
        self._gatt[mac.upper()] = ("add_kettle", kwargs)
        return self._control("add_kettle", **kwargs)["path"]

    def add_std_sensor(self, mac, name="LYWSD03MMC", product_id=0x055B, did="blt.4.18n58266kgg00",
                       adapter="hci0", visible=True, version="2.1.1_0159"):
        """A Mi standard-auth sensor (docs/ble.md §4.4): Mi service fe95 with 0004 (read), 0010 (write,
        notify: UPNP), 0019 (write-without-response, notify: AVDTP). Register (GET_INFO, SET_KEY,
        DID, AUTH) and login (LOGIN) as the device; sensor_keys() has what registration made."""
        kwargs = dict(mac=mac.upper(), name=name, product_id=product_id, did=did, adapter=adapter,
                      visible=visible, version=version)
        self._gatt[mac.upper()] = ("add_std_sensor", kwargs)
        return self._control("add_std_sensor", **kwargs)["path"]

    def gatt_state(self, mac):
        """Everything the scripted device knows, as a dict (connected, fault, notifying, ...)."""
        return self._control("state", mac=mac)["state"]

    def kettle_state(self, mac):
        """token (hex or None), authenticated, auth_stage, keep_warm_type (0 boil then cool, 1 heat
        to), keep_warm_temperature, time_limit_x2, boil_mode, action, mode, current_temperature,
        keep_warm_minutes, connected, in_range, fault, notifying {uuid: bool}, registers, logins,
        connects, status_sent, status_hex, ..."""
        return self.gatt_state(mac)

    def kettle_token(self, mac):
        """The token of the last successful register (hex), None before."""
        return self.gatt_state(mac)["token"]

    def kettle_set(self, mac, **fields):
        """Changes the kettle's status and notifies aa02 (if authenticated and notifying). Fields:
        action ("idle"|"heating"|"cooling"|"keeping_warm" or 0-3), mode ("none"|"boil"|"keep_warm"
        or a byte), current_temperature, keep_warm_temperature, keep_warm_type ("boil_then_cool"|
        "heat_to" or 0/1), keep_warm_minutes, time_limit_x2, boil_mode, token (hex or None)."""
        self._control("kettle_set", mac=mac, **fields)

    def kettle_advertise(self, mac, rssi=-60, adapter="hci0"):
        """One plain MiBeacon v3 presence advert (no object) with the kettle's product id. Returns it."""
        frame = bytes.fromhex(self._control("kettle_advert", mac=mac)["frame"])
        self.advertise(mac, frame, rssi=rssi, adapter=adapter)
        return frame

    def sensor_keys(self, mac):
        """{"token": hex, "bindkey": hex} after a successful standard registration, else None."""
        return self._control("sensor_keys", mac=mac)["keys"]

    def sensor_advertise(self, mac, temperature=22.4, humidity=48.2, battery=None, rssi=-60, adapter="hci0",
                         bindkey=None):
        """One encrypted MiBeacon v5 advert (FC 0x5858, objects 0x1004/0x1006[/0x100A], AES-CCM with the
        registered bind key, or `bindkey`), its counter one more than the last. Returns the frame."""
        frame = bytes.fromhex(self._control("sensor_advert", mac=mac, temperature=temperature, humidity=humidity,
                                            battery=battery, bindkey=bindkey)["frame"])
        self.advertise(mac, frame, rssi=rssi, adapter=adapter)
        return frame

    def set_fault(self, mac, name):
        """One of GATT_FAULTS, or "none"."""
        self._control("set_fault", mac=mac, fault=name)

    def set_in_range(self, mac, in_range):
        """False: a connected device drops now (InterfacesRemoved, ServicesResolved and Connected
        false) and Connect fails after ~100 ms until set back to True."""
        self._control("set_in_range", mac=mac, in_range=bool(in_range))

    def drop_connection(self, mac, why="dropped by test"):
        """The device hangs up once (supervision timeout); it stays in range."""
        self._control("drop", mac=mac, why=why)

    def gatt_calls(self, mac):
        """[(char uuid, method, value hex or None, options dict)] in call order, every connection."""
        return [tuple(c) for c in self._control("gatt_calls", mac=mac)["calls"]]

    def clear_gatt_calls(self, mac):
        self._control("clear_gatt_calls", mac=mac)
