"""Scripted BLE GATT devices for the fake bluetoothd (bluez_gatt_template.py): a Mi kettle (legacy RC4
"Mi auth") and a Mi standard-auth sensor (ECDH register/login over the AVDTP framed channel), with
BlueZ's client-side GATT D-Bus API on top (docs/ble.md §4, §6.3, §7, §10).

Runs INSIDE the python-dbusmock process, on its GLib main loop: nothing here may block; every delay is
a one-shot GLib.timeout_add. The test process drives it through one D-Bus method on "/",
org.cloudless.FakeBluez.Gatt.Control(command, json) -> json (see `control()` at the end), which
FakeBluez (fake_bluez.py) wraps as Python methods.

The device side is computed independently from docs/ble.md with python3-cryptography (RC4,
ECDH P-256, HKDF-SHA256, AES-CCM, HMAC-SHA256); it never looks at the project's C++, so the C++ client
and this fake cross-check each other.

What BlueZ does and this fake copies (docs/ble.md §6.3):
  * Device1.Connect(): ~50 ms later Connected=true (PropertiesChanged), the GATT objects
    dev_XX/serviceNNNN (GattService1) and .../charMMMM (GattCharacteristic1) appear with one
    InterfacesAdded each on "/", then ServicesResolved=true; the Connect reply comes last (BlueZ
    answers an LE Connect once the services are resolved). A second Connect while connecting fails
    with org.bluez.Error.InProgress; Connect on a connected device returns at once.
  * Disconnect / out of range: InterfacesRemoved for every GATT object, ServicesResolved=false,
    Connected=false (PropertiesChanged each).
  * ReadValue(a{sv}) -> ay, WriteValue(ay, a{sv}) with "type" "request" | "command", StartNotify /
    StopNotify (Notifying + PropertiesChanged); a notification is PropertiesChanged
    (GattCharacteristic1, {Value: ay}) on the characteristic, only while Notifying.
  * An object of a disconnected device (a client may still hold its path; BlueZ keeps cached
    attributes) answers every method with org.bluez.Error.Failed "Not connected": the objects stay
    registered on the connection after InterfacesRemoved, out of GetManagedObjects.
  * Adapter1.RemoveDevice of a scripted device disconnects it first; a device without a Device1
    object (added with visible=False, or removed) gets one ~300 ms after StartDiscovery on its
    adapter, or at once when a test makes it advertise.
  * ATT errors map as BlueZ's gatt-client maps them: insufficient authorization ->
    org.bluez.Error.NotAuthorized; write type "command" on a characteristic without
    write-without-response -> org.bluez.Error.NotSupported; a read of a non-readable one ->
    org.bluez.Error.NotPermitted.

Choices where the devices' real behaviour is unknown (documented for the tests):
  * Legacy login with a wrong response: the kettle sends NO confirmation and stays unauthenticated
    (the client times out); it does not drop the link.
  * Legacy register whose confirmation write is wrong: no answer, unauthenticated.
  * Kettle writes: a wrong length -> org.bluez.Error.InvalidValueLength; a value out of range
    (aa01 type not 0/1 or temperature outside 40..95, aa04 > 24, aa05 not 0/1) ->
    org.bluez.Error.Failed "Operation failed with ATT error: 0x13" (Value Not Allowed), state unchanged.
  * Kettle reads of 0x0004/0x0014/aa04/aa05 and writes of aa01/aa04/aa05 before authentication ->
    org.bluez.Error.NotAuthorized. 0x2a28 (MCU firmware) is readable without auth.
  * Standard LOGIN on a sensor that was never registered: UPNP 23000000 (login failed) at once.
  * A write type "request" on a write-without-response-only characteristic (0x0019) is accepted (BlueZ
    sends a write request; Telink firmware answers it); the type is recorded in gatt_calls.
"""

import json
import os
import struct
import warnings

import dbus
import dbus.service
from dbusmock import mockobject
from gi.repository import GLib

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

try:  # cryptography 38 marks ARC4 deprecated; the Mi legacy auth needs it
    from cryptography.utils import CryptographyDeprecationWarning
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)
except ImportError:  # pragma: no cover
    pass

DEVICE_IFACE = "org.bluez.Device1"
ADAPTER_IFACE = "org.bluez.Adapter1"
SERVICE_IFACE = "org.bluez.GattService1"
CHAR_IFACE = "org.bluez.GattCharacteristic1"
PROPS_IFACE = "org.freedesktop.DBus.Properties"
OM_IFACE = "org.freedesktop.DBus.ObjectManager"
CONTROL_IFACE = "org.cloudless.FakeBluez.Gatt"
CONTROL_ERROR = "org.cloudless.FakeBluez.Error"

FAULTS = ("none", "out_of_range", "connect_in_progress_once", "no_notification", "wrong_confirmation",
          "disconnect_mid_handshake", "error_code", "malformed", "malformed_index")


def uuid16(short):
    """A 16-bit UUID in the Bluetooth base (docs/ble.md §10: kettle chars too, not the kettle base)."""
    return "%08x-0000-1000-8000-00805f9b34fb" % short


MI_SERVICE = uuid16(0xFE95)
KETTLE_SERVICE = "01344736-0000-1000-8000-262837236156"
CHAR_TOKEN = uuid16(0x0001)
CHAR_VERSION = uuid16(0x0004)
CHAR_UPNP = uuid16(0x0010)  # "Authentication" / event characteristic
CHAR_BEACON_KEY = uuid16(0x0014)
CHAR_AVDTP = uuid16(0x0019)
CHAR_KW_SETUP = uuid16(0xAA01)
CHAR_STATUS = uuid16(0xAA02)
CHAR_TIME_LIMIT = uuid16(0xAA04)
CHAR_BOIL_MODE = uuid16(0xAA05)
CHAR_MCU_VERSION = uuid16(0x2A28)


# -- crypto (python3-cryptography only) ------------------------------------------------------------

# cryptography's ARC4 accepts only 40/56/64/80/128/160/192/256-bit keys; Mi keys are 4, 8 or 12 bytes.
# RC4's key schedule reads key[i % len] for i < 256, so repeating a key to a multiple of its length is
# the same key schedule: 12 -> 24 bytes, 4 -> 8, 3 -> 24.
_ARC4_LENGTHS = (5, 7, 8, 10, 16, 20, 24, 32)


def rc4(key, data):
    key = bytes(key)
    if len(key) not in _ARC4_LENGTHS:
        for n in _ARC4_LENGTHS:
            if n % len(key) == 0:
                key = key * (n // len(key))
                break
        else:
            raise ValueError("no ARC4 key length is a multiple of %d" % len(key))
    enc = Cipher(algorithms.ARC4(key), mode=None).encryptor()
    return enc.update(bytes(data)) + enc.finalize()


def _rmac(mac):
    return bytes.fromhex(mac.replace(":", ""))[::-1]


def mix_a(mac, pid):
    """docs/ble.md §4.2: [r0, r2, r5, pid lo, pid lo, r4, r5, r1] of the byte-reversed MAC."""
    r = _rmac(mac)
    return bytes([r[0], r[2], r[5], pid & 0xFF, pid & 0xFF, r[4], r[5], r[1]])


def mix_b(mac, pid):
    """docs/ble.md §4.2: [r0, r2, r5, pid hi, r4, r0, r5, pid lo]."""
    r = _rmac(mac)
    return bytes([r[0], r[2], r[5], (pid >> 8) & 0xFF, r[4], r[0], r[5], pid & 0xFF])


def legacy_register_reply(mac, pid, token):
    """The genuine device's answer to a register write: the client checks
    rc4(mixB, rc4(mixA, reply)) == token, so reply = rc4(mixA, rc4(mixB, token))."""
    return rc4(mix_a(mac, pid), rc4(mix_b(mac, pid), token))


# Legacy login constants (docs/ble.md §S2; §10: 32-bit values, the byte
# order on air is a variant). Register constants are always §4.2's order.
REGISTER_START = bytes.fromhex("90ca85de")
REGISTER_END = bytes.fromhex("92ab54fa")
_LOGIN_WORDS = {"start": 0xCD43BC00, "end": 0x93BFAC09, "confirm": 0x369A58C9}


def login_constant(name, byte_order="le"):
    return _LOGIN_WORDS[name].to_bytes(4, "little" if byte_order == "le" else "big")


def login_key(token, challenge, key_length=12):
    """tick = rc4(token, challenge); the 12-byte variant XORs tick[0:4] into token[0:4] and keeps the
    rest (Mi Home's library), the 4-byte variant is token[0:4] ^ tick[0:4] (docs/ble.md §S2)."""
    tick = rc4(token, challenge)
    head = bytes(a ^ b for a, b in zip(token[:4], tick[:4]))
    return head + bytes(token[4:12]) if key_length == 12 else head


def hkdf(ikm, salt, info, length=64):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(bytes(ikm))


def hmac_sha256(key, data):
    h = hmac.HMAC(bytes(key), hashes.SHA256())
    h.update(bytes(data))
    return h.finalize()


DID_NONCE = bytes(range(0x10, 0x1C))


def mibeacon_v5_frame(mac, product_id, counter, objects, bindkey):
    """An encrypted MiBeacon v5 service-data frame (docs/ble.md §1.2, §2.1): FC 0x5858 (encrypted, MAC,
    object, standard auth, v5) | pid LE16 | frame counter = counter & 0xFF | MAC reversed |
    AES-CCM(objects) | ext counter = counter >> 8 (3 bytes LE) | MIC (4). Nonce = MAC reversed ‖ pid ‖
    frame counter ‖ ext counter; AAD 0x11."""
    rmac = _rmac(mac)
    head = struct.pack("<HHB", 0x5858, product_id, counter & 0xFF) + rmac
    ext = ((counter >> 8) & 0xFFFFFF).to_bytes(3, "little")
    nonce = rmac + head[2:5] + ext
    sealed = AESCCM(bytes(bindkey), tag_length=4).encrypt(nonce, bytes(objects), b"\x11")
    return head + sealed[:-4] + ext + sealed[-4:]


# -- D-Bus helpers ----------------------------------------------------------------------------------

def _bytes_value(data):
    return dbus.Array([dbus.Byte(b) for b in bytes(data)], signature="y", variant_level=1)


def _error(name, message):
    return dbus.exceptions.DBusException(message, name="org.bluez.Error." + name)


def _plain(value):
    """D-Bus values -> JSON-able Python values (for gatt_calls options)."""
    if isinstance(value, (dbus.Boolean, bool)):
        return bool(value)
    if isinstance(value, (int, dbus.Byte)):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return repr(value)


def _later(ms, fn, *args):
    """One-shot GLib timer (never repeats, so every scheduled action ends)."""
    def fire():
        try:
            fn(*args)
        except Exception as exc:  # a broken callback must not kill the mock's main loop
            _log("callback %r raised %r" % (fn, exc))
        return False
    GLib.timeout_add(max(0, int(ms)), fire)


def _root():
    return mockobject.objects["/"]


def _log(msg):
    try:
        _root().log("[gatt] " + msg)
    except Exception:
        pass


def _install(obj, iface, name, fn):
    """Puts a dbus-python method (decorated below) on one mock object only: dbusmock looks methods up
    in obj.methods[iface][name] before the class table."""
    obj.methods.setdefault(iface, {})[name] = (fn._dbus_in_signature, fn._dbus_out_signature, "", fn)


# Every path a GATT object was ever registered at (exported or not): a device added again at the same
# path must unregister the old object first.
_REGISTERED = {}


def _new_object(path, iface, props):
    old = _REGISTERED.pop(path, None)
    if old is not None:
        try:
            old.remove_from_connection()
        except LookupError:
            pass
    root = _root()
    obj = mockobject.DBusMockObject(root.bus_name, path, iface, props)
    obj.logfile = root.logfile
    obj.is_logfile_owner = False
    obj.object_manager = root.object_manager
    _REGISTERED[path] = obj
    return obj


@dbus.service.method(DEVICE_IFACE, in_signature="", out_signature="", async_callbacks=("reply", "error"))
def _dbus_connect(obj, reply, error):
    obj.fake_device.on_connect_call(reply, error)


@dbus.service.method(DEVICE_IFACE, in_signature="", out_signature="")
def _dbus_disconnect(obj):
    obj.fake_device.on_disconnect_call()


@dbus.service.method(CHAR_IFACE, in_signature="a{sv}", out_signature="ay")
def _dbus_read(obj, options):
    return _bytes_value(obj.fake_char.device.on_read_call(obj.fake_char, options))


@dbus.service.method(CHAR_IFACE, in_signature="aya{sv}", out_signature="", byte_arrays=True)
def _dbus_write(obj, value, options):
    obj.fake_char.device.on_write_call(obj.fake_char, bytes(value), options)


@dbus.service.method(CHAR_IFACE, in_signature="", out_signature="")
def _dbus_start_notify(obj):
    obj.fake_char.device.on_notify_call(obj.fake_char, True)


@dbus.service.method(CHAR_IFACE, in_signature="", out_signature="")
def _dbus_stop_notify(obj):
    obj.fake_char.device.on_notify_call(obj.fake_char, False)


# -- the generic device -----------------------------------------------------------------------------

class Char:
    def __init__(self, device, service, handle, uuid, flags):
        self.device = device
        self.service = service
        self.handle = handle
        self.uuid = uuid
        self.flags = list(flags)
        self.path = "%s/char%04x" % (service.path, handle)
        self.notifying = False
        self.value = b""
        self.obj = None

    def props(self):
        return {
            "UUID": dbus.String(self.uuid, variant_level=1),
            "Service": dbus.ObjectPath(self.service.path, variant_level=1),
            "Value": _bytes_value(self.value),
            "Notifying": dbus.Boolean(self.notifying, variant_level=1),
            "Flags": dbus.Array(self.flags, signature="s", variant_level=1),
        }


class Service:
    def __init__(self, device, handle, uuid):
        self.device = device
        self.handle = handle
        self.uuid = uuid
        self.path = "%s/service%04x" % (device.path, handle)
        self.chars = []
        self.obj = None

    def props(self):
        return {
            "UUID": dbus.String(self.uuid, variant_level=1),
            "Device": dbus.ObjectPath(self.device.path, variant_level=1),
            "Primary": dbus.Boolean(True, variant_level=1),
        }


class FakeGattDevice:
    """One BLE peripheral: its Device1 object (created through the bluez5 template's AddDevice, then
    given our Connect/Disconnect), its GATT table, connection state and faults."""

    kind = "generic"
    auth_uuids = ()
    connect_delay_ms = 50
    fail_delay_ms = 100
    answer_delay_ms = 10  # device answers go out after the write's reply, as on air
    reveal_delay_ms = 300

    def __init__(self, adapter, mac, name, product_id, visible=True):
        self.adapter = adapter
        self.mac = mac.upper()
        self.name = name
        self.product_id = product_id
        self.path = "/org/bluez/%s/dev_%s" % (adapter, self.mac.replace(":", "_"))
        self.adapter_path = "/org/bluez/" + adapter
        self.services = []
        self.connected = False
        self.connecting = None  # (reply, error) of the pending Connect
        self.session = 0  # bumped at every connect and drop: stale timers see a different number
        self.in_range = True
        self.fault = "none"
        self.calls = []
        self.connects = 0
        self.auth_writes = 0  # auth writes in this connection (disconnect_mid_handshake)
        self.advert_counter = 0
        self.removed = False
        self.build_gatt()
        if visible:
            self.create_device_object()

    # -- table ----------------------------------------------------------------------------------

    def add_service(self, handle, uuid, chars):
        service = Service(self, handle, uuid)
        for char_handle, char_uuid, flags in chars:
            service.chars.append(Char(self, service, char_handle, char_uuid, flags))
        self.services.append(service)
        return service

    def char(self, uuid):
        for service in self.services:
            for c in service.chars:
                if c.uuid == uuid:
                    return c
        raise KeyError(uuid)

    def build_gatt(self):
        raise NotImplementedError

    # -- Device1 --------------------------------------------------------------------------------

    @property
    def visible(self):
        return self.path in mockobject.objects

    def create_device_object(self):
        if self.visible or self.removed:
            return
        if self.adapter_path not in mockobject.objects:
            raise dbus.exceptions.DBusException("adapter %s does not exist" % self.adapter, name=CONTROL_ERROR)
        from dbusmock.templates import bluez5
        bluez5.AddDevice(_root(), self.adapter, self.mac, self.name)
        obj = mockobject.objects[self.path]
        obj.fake_device = self
        _install(obj, DEVICE_IFACE, "Connect", _dbus_connect)
        _install(obj, DEVICE_IFACE, "Disconnect", _dbus_disconnect)
        _log("%s: Device1 object created" % self.mac)

    def device_obj(self):
        return mockobject.objects.get(self.path)

    def _set_device_props(self, changed):
        obj = self.device_obj()
        if obj is None:
            return
        for k, v in changed.items():
            obj.props[DEVICE_IFACE][k] = v
        obj.EmitSignal(PROPS_IFACE, "PropertiesChanged", "sa{sv}as",
                       [DEVICE_IFACE, dbus.Dictionary(changed, signature="sv"), dbus.Array([], signature="s")])

    def _log_call(self, obj, method, args):
        # Keeps dbusmock's GetCalls working for our own methods (FakeBluez.calls()).
        obj.call_log.append((int(GLib.get_real_time() // 1000000), method, args))

    def on_connect_call(self, reply, error):
        obj = self.device_obj()
        if obj is not None:
            self._log_call(obj, "Connect", [])
        if self.fault == "connect_in_progress_once":
            self.fault = "none"
            error(_error("InProgress", "In Progress"))
            return
        if not self.in_range or self.fault == "out_of_range":
            _later(self.fail_delay_ms, error, _error("Failed", "le-connection-abort-by-local"))
            return
        if self.connected:
            reply()
            return
        if self.connecting is not None:
            error(_error("InProgress", "In Progress"))
            return
        self.connecting = (reply, error)
        session = self.session
        _later(self.connect_delay_ms, self._complete_connect, session)

    def _complete_connect(self, session):
        if self.connecting is None or session != self.session:
            return
        reply, _ = self.connecting
        self.connecting = None
        self.session += 1
        self.connected = True
        self.connects += 1
        self.auth_writes = 0
        self.reset_session()
        self._set_device_props({"Connected": dbus.Boolean(True, variant_level=1)})
        for service in self.services:
            self._export(service, SERVICE_IFACE, service.props())
            for c in service.chars:
                c.notifying = False
                self._export(c, CHAR_IFACE, c.props())
        self._set_device_props({"UUIDs": dbus.Array([s.uuid for s in self.services], signature="s",
                                                    variant_level=1)})
        self._set_device_props({"ServicesResolved": dbus.Boolean(True, variant_level=1)})
        _log("%s: connected, services resolved" % self.mac)
        reply()
        GLib.timeout_add(2000, self._tick, self.session)
        self.on_connected()

    def _export(self, item, iface, props):
        if item.obj is None:
            item.obj = _new_object(item.path, iface, props)
            item.obj.fake_char = item if isinstance(item, Char) else None
            if isinstance(item, Char):
                for name, fn in (("ReadValue", _dbus_read), ("WriteValue", _dbus_write),
                                 ("StartNotify", _dbus_start_notify), ("StopNotify", _dbus_stop_notify)):
                    _install(item.obj, CHAR_IFACE, name, fn)
        else:
            item.obj.props[iface] = props
        mockobject.objects[item.path] = item.obj
        _root().EmitSignal(OM_IFACE, "InterfacesAdded", "oa{sa{sv}}",
                           [dbus.ObjectPath(item.path), dbus.Dictionary({iface: props}, signature="sa{sv}")])

    def on_disconnect_call(self):
        obj = self.device_obj()
        if obj is not None:
            self._log_call(obj, "Disconnect", [])
        self.drop("disconnect requested")

    def drop(self, why):
        """The link goes (Disconnect, out of range, the device hangs up): GATT objects removed,
        ServicesResolved=false, Connected=false; a pending Connect fails."""
        if self.connecting is not None:
            _, error = self.connecting
            self.connecting = None
            error(_error("Failed", "le-connection-abort-by-local"))
        self.session += 1
        if not self.connected:
            return
        self.connected = False
        root = _root()
        for service in reversed(self.services):
            for c in reversed(service.chars):
                self._unexport(root, c, CHAR_IFACE)
            self._unexport(root, service, SERVICE_IFACE)
        self._set_device_props({"ServicesResolved": dbus.Boolean(False, variant_level=1)})
        self._set_device_props({"Connected": dbus.Boolean(False, variant_level=1)})
        self.reset_session()
        _log("%s: disconnected (%s)" % (self.mac, why))

    def _unexport(self, root, item, iface):
        if isinstance(item, Char):
            item.notifying = False
        if mockobject.objects.get(item.path) is item.obj and item.obj is not None:
            del mockobject.objects[item.path]
            root.EmitSignal(OM_IFACE, "InterfacesRemoved", "oas",
                            [dbus.ObjectPath(item.path), dbus.Array([iface], signature="s")])

    def _tick(self, session):
        if session != self.session or not self.connected:
            return False
        if not self.visible:  # the Device1 object was removed under us: the link cannot stay
            self.drop("device object removed")
            return False
        self.on_tick()
        return True

    def forget(self):
        self.removed = True
        self.session += 1
        self.connected = False
        self.connecting = None

    # -- characteristics ------------------------------------------------------------------------

    def _record(self, char, method, value, options):
        self.calls.append([char.uuid, method, None if value is None else bytes(value).hex(), _plain(options or {})])
        args = [] if value is None else [_bytes_value(value)]
        self._log_call(char.obj, method, args + ([options] if options is not None else []))

    def _check_connected(self):
        if not self.connected:
            raise _error("Failed", "Not connected")

    def on_read_call(self, char, options):
        self._record(char, "ReadValue", None, options)
        self._check_connected()
        if "read" not in char.flags:
            raise _error("NotPermitted", "Read not permitted")
        value = bytes(self.on_read(char))
        offset = int(options.get("offset", 0)) if options else 0
        value = value[offset:]
        char.value = value
        char.obj.props[CHAR_IFACE]["Value"] = _bytes_value(value)
        return value

    def on_write_call(self, char, value, options):
        self._record(char, "WriteValue", value, options)
        self._check_connected()
        kind = str(options.get("type", "")) if options else ""
        if kind == "command" and "write-without-response" not in char.flags:
            raise _error("NotSupported", "Operation is not supported")
        if "write" not in char.flags and "write-without-response" not in char.flags:
            raise _error("NotPermitted", "Write not permitted")
        if kind not in ("", "request", "command", "reliable"):
            raise _error("InvalidArguments", "Invalid arguments in method call")
        if char.uuid in self.auth_uuids:
            self.auth_writes += 1
            if self.fault == "disconnect_mid_handshake" and self.auth_writes == 1:
                session = self.session
                _later(5, lambda: session == self.session and self.drop("fault disconnect_mid_handshake"))
                return
        self.on_write(char, value)

    def on_notify_call(self, char, start):
        self._record(char, "StartNotify" if start else "StopNotify", None, None)
        self._check_connected()
        if start and "notify" not in char.flags and "indicate" not in char.flags:
            raise _error("NotSupported", "Operation is not supported")
        if not start and not char.notifying:
            raise _error("Failed", "No notify session started")
        if char.notifying != start:
            char.notifying = start
            char.obj.props[CHAR_IFACE]["Notifying"] = dbus.Boolean(start, variant_level=1)
            char.obj.EmitSignal(PROPS_IFACE, "PropertiesChanged", "sa{sv}as",
                                [CHAR_IFACE, dbus.Dictionary({"Notifying": dbus.Boolean(start, variant_level=1)},
                                                             signature="sv"), dbus.Array([], signature="s")])
        if start:
            self.on_notify_started(char)

    def notify(self, char, value, auth=True):
        """A notification from the device: only while Notifying (else lost, as on air); auth
        notifications are swallowed by the no_notification fault."""
        if not self.connected or char.obj is None:
            return
        if auth and self.fault == "no_notification":
            _log("%s: notification on %s swallowed (no_notification)" % (self.mac, char.uuid[4:8]))
            return
        if not char.notifying:
            _log("%s: notification on %s lost: not notifying" % (self.mac, char.uuid[4:8]))
            return
        char.value = bytes(value)
        v = _bytes_value(value)
        char.obj.props[CHAR_IFACE]["Value"] = v
        char.obj.EmitSignal(PROPS_IFACE, "PropertiesChanged", "sa{sv}as",
                            [CHAR_IFACE, dbus.Dictionary({"Value": v}, signature="sv"), dbus.Array([], signature="s")])

    def notify_later(self, char, value, auth=True, delay=None):
        session = self.session
        _later(self.answer_delay_ms if delay is None else delay,
               lambda: session == self.session and self.notify(char, value, auth))

    def later(self, fn, delay=None):
        """Runs fn after the answer delay if the same connection is still up."""
        session = self.session
        _later(self.answer_delay_ms if delay is None else delay,
               lambda: session == self.session and self.connected and fn())

    # -- faults and range -----------------------------------------------------------------------

    def set_fault(self, name):
        if name not in FAULTS:
            raise dbus.exceptions.DBusException("unknown fault %r (known: %s)" % (name, ", ".join(FAULTS)),
                                                name=CONTROL_ERROR)
        self.fault = name
        if name == "out_of_range" and (self.connected or self.connecting):
            self.drop("fault out_of_range")

    def set_in_range(self, in_range):
        self.in_range = bool(in_range)
        if not self.in_range:
            self.drop("out of range")

    # -- hooks ----------------------------------------------------------------------------------

    def reset_session(self):
        pass

    def on_connected(self):
        pass

    def on_tick(self):
        pass

    def on_read(self, char):
        raise _error("NotPermitted", "Read not permitted")

    def on_write(self, char, value):
        pass

    def on_notify_started(self, char):
        pass

    def base_state(self):
        return {
            "mac": self.mac, "kind": self.kind, "name": self.name, "adapter": self.adapter,
            "product_id": self.product_id, "visible": self.visible, "connected": self.connected,
            "connecting": self.connecting is not None, "in_range": self.in_range, "fault": self.fault,
            "connects": self.connects,
            "notifying": {c.uuid: c.notifying for s in self.services for c in s.chars},
        }


# -- the Mi kettle ----------------------------------------------------------------------------------

ACTIONS = {"idle": 0, "heating": 1, "cooling": 2, "keeping_warm": 3}
MODES = {"none": 0xFF, "boil": 1, "keep_warm": 2}
KW_TYPES = {"boil_then_cool": 0, "heat_to": 1}


class Kettle(FakeGattDevice):
    """YM-K1501 (pid 131) / YM-K1501EU (275), docs/ble.md §4.2 + §4.3.

    Legacy register: 0x0010 <- 90ca85de; 0x0001 <- rc4(mixA, token) -> notify rc4(mixA, rc4(mixB,
    token)); 0x0001 <- rc4(token, 92ab54fa) -> authenticated. Any token is accepted (the last one is
    kept), as real kettles do. Legacy login (seed): 0x0010 <- start; notify a 4-byte challenge;
    0x0001 <- rc4(key, end) -> notify rc4(key, confirm) -> authenticated.
    """

    kind = "kettle"
    auth_uuids = (CHAR_TOKEN, CHAR_UPNP)

    def __init__(self, adapter, mac, name="MiKettle", product_id=131, login_variant="le12", visible=True,
                 token=None, beacon_key="0a1b2c3d4e5f60718293a4b5", version="1.0.0_0001", mcu_version="0.1.5",
                 restore=None):
        variant = str(login_variant).lower()
        if variant not in ("le12", "le4", "be12", "be4"):
            raise dbus.exceptions.DBusException("login_variant must be le12, le4, be12 or be4", name=CONTROL_ERROR)
        self.byte_order = variant[:2]
        self.key_length = int(variant[2:])
        self.login_variant = variant
        self.token = bytes.fromhex(token) if token else None
        self.beacon_key = bytes.fromhex(beacon_key)
        self.version = version.encode()
        self.mcu_version = mcu_version.encode()
        # Status as the kettle reports it (docs/ble.md §4.3).
        self.action = 0
        self.mode = 0xFF
        self.keep_warm_temperature = 80
        self.current_temperature = 32
        self.keep_warm_type = 0
        self.keep_warm_minutes = 0
        self.time_limit_x2 = 24
        self.boil_mode = 0
        self.registers = 0
        self.logins = 0
        self.status_sent = 0
        super().__init__(adapter, mac, name, product_id, visible)
        self.reset_session()
        if restore:
            self.restore(restore)

    def build_gatt(self):
        self.add_service(0x0022, MI_SERVICE, [
            (0x0023, CHAR_TOKEN, ("write", "notify")),
            (0x0026, CHAR_VERSION, ("read",)),
            (0x002B, CHAR_UPNP, ("write",)),
            (0x002D, CHAR_BEACON_KEY, ("read",)),
        ])
        self.add_service(0x0039, KETTLE_SERVICE, [
            (0x003A, CHAR_KW_SETUP, ("write",)),
            (0x003C, CHAR_STATUS, ("notify",)),
            (0x003F, CHAR_TIME_LIMIT, ("read", "write")),
            (0x0041, CHAR_BOIL_MODE, ("read", "write")),
            (0x0043, CHAR_MCU_VERSION, ("read",)),
        ])

    def reset_session(self):
        self.authenticated = False
        self.stage = None
        self.pending_token = None
        self.challenge = None

    # -- auth -----------------------------------------------------------------------------------

    def on_write(self, char, value):
        if char.uuid == CHAR_UPNP:
            self._on_event(value)
        elif char.uuid == CHAR_TOKEN:
            self._on_token(value)
        elif char.uuid in (CHAR_KW_SETUP, CHAR_TIME_LIMIT, CHAR_BOIL_MODE):
            self._on_setting(char, value)

    def _on_event(self, value):
        if value == REGISTER_START:
            self.authenticated = False
            self.stage = "register_token"
            return
        if value == login_constant("start", self.byte_order):
            self.authenticated = False
            self.stage = "login_response"
            self.challenge = os.urandom(4)
            self.notify_later(self.char(CHAR_TOKEN), self.challenge)
            return
        self.stage = None  # anything else on the event characteristic ends a handshake

    def _on_token(self, value):
        token_char = self.char(CHAR_TOKEN)
        if self.stage == "register_token":
            if len(value) != 12:
                self.stage = None
                return
            mixed_a = mix_a(self.mac, self.product_id)
            token = rc4(mixed_a, value)
            reply = legacy_register_reply(self.mac, self.product_id, token)
            if self.fault == "wrong_confirmation":
                reply = bytes([reply[0] ^ 0xFF]) + reply[1:]
            elif self.fault == "malformed":
                reply = reply[:5]
            self.pending_token = token
            self.stage = "register_confirm"
            self.notify_later(token_char, reply)
            return
        if self.stage == "register_confirm":
            token, self.pending_token = self.pending_token, None
            self.stage = None
            if self.fault in ("wrong_confirmation", "malformed"):
                return  # the device answered as another identity: the link stays unauthenticated
            if value != rc4(token, REGISTER_END):
                return
            self.token = token
            self.registers += 1
            self._authenticated()
            return
        if self.stage == "login_response":
            self.stage = None
            if self.token is None or self.challenge is None:
                return
            key = login_key(self.token, self.challenge, self.key_length)
            if value != rc4(key, login_constant("end", self.byte_order)):
                return  # wrong response: no confirmation (documented choice)
            confirmation = rc4(key, login_constant("confirm", self.byte_order))
            if self.fault == "wrong_confirmation":
                self.notify_later(token_char, bytes([confirmation[0] ^ 0xFF]) + confirmation[1:])
                return
            self.logins += 1
            self.notify_later(token_char, confirmation)
            self._authenticated()

    def _authenticated(self):
        self.authenticated = True
        status = self.char(CHAR_STATUS)
        if status.notifying:
            self.later(self.send_status, delay=self.answer_delay_ms + 5)

    # -- reads, settings, status ----------------------------------------------------------------

    def _need_auth(self):
        if not self.authenticated:
            raise _error("NotAuthorized", "Not Authorized")

    def on_read(self, char):
        if char.uuid == CHAR_MCU_VERSION:
            return self.mcu_version
        self._need_auth()
        if char.uuid == CHAR_VERSION:
            return rc4(self.token, self.version)
        if char.uuid == CHAR_BEACON_KEY:
            return rc4(self.token, self.beacon_key)
        if char.uuid == CHAR_TIME_LIMIT:
            return bytes([self.time_limit_x2])
        if char.uuid == CHAR_BOIL_MODE:
            return bytes([self.boil_mode])
        raise _error("NotPermitted", "Read not permitted")

    def _on_setting(self, char, value):
        self._need_auth()
        rejected = _error("Failed", "Operation failed with ATT error: 0x13")
        if char.uuid == CHAR_KW_SETUP:
            if len(value) != 2:
                raise _error("InvalidValueLength", "Invalid Length")
            if value[0] not in (0, 1) or not 40 <= value[1] <= 95:
                raise rejected
            self.keep_warm_type, self.keep_warm_temperature = value[0], value[1]
        elif char.uuid == CHAR_TIME_LIMIT:
            if len(value) != 1:
                raise _error("InvalidValueLength", "Invalid Length")
            if value[0] > 24:
                raise rejected
            self.time_limit_x2 = value[0]
        elif char.uuid == CHAR_BOIL_MODE:
            if len(value) != 1:
                raise _error("InvalidValueLength", "Invalid Length")
            if value[0] not in (0, 1):
                raise rejected
            self.boil_mode = value[0]
        self.later(self.send_status)

    def status_bytes(self):
        """12 bytes (docs/ble.md §4.3; the real sample 00ff00005020000000010200 is the default state):
        action, mode, 0, 0, keep-warm set °C, current °C, keep-warm type, minutes LE16, 01 02 00 (the
        sample's unexplained tail, sent as captured)."""
        return bytes([self.action, self.mode, 0, 0, self.keep_warm_temperature, self.current_temperature,
                      self.keep_warm_type]) + struct.pack("<H", self.keep_warm_minutes) + b"\x01\x02\x00"

    def send_status(self):
        status = self.char(CHAR_STATUS)
        if self.connected and self.authenticated and status.notifying:
            self.status_sent += 1
            self.notify(status, self.status_bytes(), auth=False)

    def on_notify_started(self, char):
        if char.uuid == CHAR_STATUS and self.authenticated:
            self.later(self.send_status)

    def on_tick(self):
        self.send_status()

    def set(self, values):
        for key, value in values.items():
            if key == "action":
                self.action = ACTIONS[value] if isinstance(value, str) else int(value)
            elif key == "mode":
                self.mode = MODES[value] if isinstance(value, str) else int(value)
            elif key == "keep_warm_type":
                self.keep_warm_type = KW_TYPES[value] if isinstance(value, str) else int(value)
            elif key in ("current_temperature", "keep_warm_temperature", "keep_warm_minutes", "time_limit_x2",
                         "boil_mode"):
                setattr(self, key, int(value))
            elif key == "token":
                self.token = bytes.fromhex(value) if value else None
            else:
                raise dbus.exceptions.DBusException("kettle_set: unknown field %r" % key, name=CONTROL_ERROR)
        self.send_status()

    def restore(self, state):
        for key in ("action", "mode", "keep_warm_type", "current_temperature", "keep_warm_temperature",
                    "keep_warm_minutes", "time_limit_x2", "boil_mode"):
            if key in state:
                setattr(self, key, int(state[key]))
        if state.get("token"):
            self.token = bytes.fromhex(state["token"])
        if state.get("fault"):
            self.fault = state["fault"]
        if "in_range" in state:
            self.in_range = bool(state["in_range"])

    def advert(self):
        """Plain MiBeacon v3 presence frame (docs/ble.md §1.2/§1.3): FC 0x3010 (MAC included, no object),
        pid LE16, frame counter, MAC reversed."""
        self.advert_counter = (self.advert_counter + 1) & 0xFF
        return struct.pack("<HHB", 0x3010, self.product_id, self.advert_counter) + _rmac(self.mac)

    def state(self):
        s = self.base_state()
        s.update({
            "token": self.token.hex() if self.token else None, "authenticated": self.authenticated,
            "auth_stage": self.stage, "login_variant": self.login_variant, "beacon_key": self.beacon_key.hex(),
            "version": self.version.decode(), "action": self.action, "mode": self.mode,
            "keep_warm_temperature": self.keep_warm_temperature, "current_temperature": self.current_temperature,
            "keep_warm_type": self.keep_warm_type, "keep_warm_minutes": self.keep_warm_minutes,
            "time_limit_x2": self.time_limit_x2, "boil_mode": self.boil_mode, "registers": self.registers,
            "logins": self.logins, "status_sent": self.status_sent, "status_hex": self.status_bytes().hex(),
        })
        return s


# -- the standard-auth sensor -----------------------------------------------------------------------

CMD_GET_INFO = bytes.fromhex("a2000000")
CMD_SET_KEY = bytes.fromhex("15000000")
CMD_AUTH = bytes.fromhex("13000000")
CMD_LOGIN = bytes.fromhex("24000000")
RCV_RDY = bytes.fromhex("00000101")
RCV_OK = bytes.fromhex("00000100")
RCV_TIMEOUT = bytes.fromhex("000001050100")
RCV_ERR = bytes.fromhex("000001050300")
REGISTER_OK = bytes.fromhex("11000000")
REGISTER_FAILED = bytes.fromhex("12000000")
LOGIN_OK = bytes.fromhex("21000000")
LOGIN_FAILED = bytes.fromhex("23000000")
ERROR_E2 = bytes.fromhex("e2000000")
TYPE_REMOTE_INFO = 0x00
TYPE_DID = 0x00
TYPE_PUBKEY = 0x03
TYPE_APP_INFO = 0x0A
TYPE_APP_RANDOM = 0x0B
TYPE_DEV_INFO = 0x0C
TYPE_DEV_RANDOM = 0x0D
FRAME_PAYLOAD = 18
RX_TIMEOUT_MS = 3000


class StdSensor(FakeGattDevice):
    """A Mi "standard auth" device (LYWSD03MMC, docs/ble.md §4.4): UPNP commands on 0x0010, framed data on
    0x0019 (AVDTP): header 00 00 00 <type> <n LE16> -> RCV_RDY -> frames <index LE16 from 1><≤18 B> ->
    RCV_OK, in both directions."""

    kind = "std_sensor"
    auth_uuids = (CHAR_UPNP, CHAR_AVDTP)

    def __init__(self, adapter, mac, name="LYWSD03MMC", product_id=0x055B, did="blt.4.18n58266kgg00",
                 visible=True, version="2.1.1_0159", restore=None):
        did_bytes = did.encode()
        if len(did_bytes) != 19:
            raise dbus.exceptions.DBusException("did must be 19 ASCII characters", name=CONTROL_ERROR)
        self.did = did
        self.did20 = b"\x00" + did_bytes
        self.version = version.encode()
        self.token = None
        self.bindkey = None
        self.registers = 0
        self.logins = 0
        self.last_result = None
        super().__init__(adapter, mac, name, product_id, visible)
        self.reset_session()
        if restore:
            keys = restore.get("keys") or {}
            if keys.get("token") and keys.get("bindkey"):
                self.token = bytes.fromhex(keys["token"])
                self.bindkey = bytes.fromhex(keys["bindkey"])
            self.advert_counter = int(restore.get("advert_counter", 0))
            self.fault = restore.get("fault", "none")
            self.in_range = bool(restore.get("in_range", True))

    def build_gatt(self):
        self.add_service(0x0020, MI_SERVICE, [
            (0x0021, CHAR_VERSION, ("read",)),
            (0x0023, CHAR_UPNP, ("write", "notify")),
            (0x0026, CHAR_AVDTP, ("write-without-response", "notify")),
        ])

    def remote_info(self):
        """24 bytes: 01 00 00 00 ‖ DID (00 ‖ 19 ASCII chars) — docs/ble.md §4.4 vector."""
        return b"\x01\x00\x00\x00" + self.did20

    def reset_session(self):
        self.rx = None  # {"type", "n", "next", "data", "done", "tag"} of a transfer being received
        self.expect = None  # (type, done, tag) of the next transfer we accept
        self.tx = None  # {"type", "frames", "stage", "done"} of a transfer being sent
        self.dev_key = None
        self.shared_keys = None  # (token, bindkey, key A) from the current SET_KEY
        self.did_ok = False
        self.login = None
        self.logged_in = False
        self.stage = None

    # -- transfer engine (device side) ----------------------------------------------------------

    def _avdtp(self):
        return self.char(CHAR_AVDTP)

    def _upnp(self):
        return self.char(CHAR_UPNP)

    def send_transfer(self, kind, data, done):
        frames = [data[i:i + FRAME_PAYLOAD] for i in range(0, len(data), FRAME_PAYLOAD)]
        n = len(frames)
        if self.fault == "malformed":
            n, frames = 0, []  # a header announcing 0 frames, nothing follows
        self.tx = {"type": kind, "frames": frames, "stage": "header", "done": done}
        # A little after any RCV_OK queued in the same step, so the peer sees them in that order.
        self.notify_later(self._avdtp(), bytes([0, 0, 0, kind]) + struct.pack("<H", n),
                          delay=self.answer_delay_ms + 5)

    def expect_transfer(self, kind, done):
        tag = object()  # this wait, not a later one of the same type
        self.expect = (kind, done, tag)
        session = self.session
        _later(RX_TIMEOUT_MS, self._rx_timeout, session, tag)

    def _rx_timeout(self, session, tag):
        if session != self.session or not self.connected:
            return
        if (self.expect is not None and self.expect[2] is tag) or (self.rx is not None and self.rx["tag"] is tag):
            _log("%s: transfer timed out" % self.mac)
            self.expect = None
            self.rx = None
            self.notify(self._avdtp(), RCV_TIMEOUT)

    def _abort(self, why):
        _log("%s: transfer aborted: %s" % (self.mac, why))
        self.rx = None
        self.expect = None
        self.tx = None

    def _on_avdtp(self, v):
        avdtp = self._avdtp()
        if len(v) >= 4 and v[0] == 0 and v[1] == 0 and v[2] == 0 and len(v) == 6:
            kind, n = v[3], v[4] | (v[5] << 8)
            if self.expect is None or self.expect[0] != kind or n == 0:
                self._abort("unexpected header %s" % v.hex())
                self.notify_later(avdtp, RCV_ERR)
                return
            self.rx = {"type": kind, "n": n, "next": 1, "data": b"", "done": self.expect[1], "tag": self.expect[2]}
            self.expect = None
            self.notify_later(avdtp, RCV_RDY)
            return
        if len(v) >= 4 and v[0] == 0 and v[1] == 0 and v[2] == 1:
            code = v[3]
            if code == 0x01 and self.tx is not None and self.tx["stage"] == "header":
                self.tx["stage"] = "frames"
                first = 2 if self.fault == "malformed_index" else 1
                frames = [struct.pack("<H", i + first) + f for i, f in enumerate(self.tx["frames"])]
                self.later(lambda: [self.notify(avdtp, f) for f in frames])  # one timer: in order
                return
            if code == 0x00 and self.tx is not None and self.tx["stage"] == "frames":
                done = self.tx["done"]
                self.tx = None
                if done is not None:
                    done()  # at once: the peer may start its next transfer right after RCV_OK
                return
            if code == 0x05:
                self._abort("client reported %s" % v.hex())
            return
        if self.rx is None or len(v) < 3:
            return
        index = v[0] | (v[1] << 8)
        if index != self.rx["next"]:
            self._abort("frame index %d, expected %d" % (index, self.rx["next"]))
            self.notify_later(avdtp, RCV_ERR)
            return
        self.rx["data"] += v[2:]
        self.rx["next"] += 1
        if self.rx["next"] > self.rx["n"]:
            rx, self.rx = self.rx, None
            self.notify_later(avdtp, RCV_OK)  # queued before anything done() sends
            rx["done"](rx["data"])  # at once: the peer may send its next command right after RCV_OK

    # -- commands -------------------------------------------------------------------------------

    def on_write(self, char, value):
        if char.uuid == CHAR_AVDTP:
            self._on_avdtp(value)
        elif char.uuid == CHAR_UPNP:
            self._on_command(value)

    def _result(self, value):
        self.last_result = value.hex()
        self.notify_later(self._upnp(), value)

    def _on_command(self, value):
        if value == CMD_GET_INFO:
            self._abort("new command")
            self.stage = "get_info"
            self.send_transfer(TYPE_REMOTE_INFO, self.remote_info(), None)
        elif value == CMD_SET_KEY:
            self._abort("new command")
            self.did_ok = False
            self.shared_keys = None
            if self.fault == "error_code":
                self._result(ERROR_E2)
                return
            self.stage = "set_key"
            self.expect_transfer(TYPE_PUBKEY, self._on_app_public_key)
        elif value == CMD_AUTH:
            if self.did_ok and self.shared_keys is not None:
                self.token, self.bindkey, _ = self.shared_keys
                self.registers += 1
                self.stage = "registered"
                self._result(REGISTER_OK)
            else:
                self.stage = None
                self._result(REGISTER_FAILED)
        elif value == CMD_LOGIN:
            self._abort("new command")
            self.logged_in = False
            if self.token is None:
                self._result(LOGIN_FAILED)
                return
            self.stage = "login"
            self.expect_transfer(TYPE_APP_RANDOM, self._on_app_random)
        else:
            _log("%s: unknown UPNP command %s" % (self.mac, value.hex()))

    def _on_app_public_key(self, data):
        if len(data) != 64:
            self._abort("public key of %d bytes" % len(data))
            return
        try:
            app_pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + bytes(data))
        except ValueError:
            self._abort("public key not on P-256")
            self.notify(self._avdtp(), RCV_ERR)
            return
        self.dev_key = ec.generate_private_key(ec.SECP256R1())
        numbers = self.dev_key.public_key().public_numbers()
        dev_pub = numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")
        shared = self.dev_key.exchange(ec.ECDH(), app_pub)
        derived = hkdf(shared, None, b"mible-setup-info")
        self.shared_keys = (derived[0:12], derived[12:28], derived[28:44])
        # Our key goes out; the DID ciphertext (type 0x00) may follow once the client took it.
        self.send_transfer(TYPE_PUBKEY, dev_pub, lambda: self.expect_transfer(TYPE_DID, self._on_did))

    def _on_did(self, data):
        _, _, key_a = self.shared_keys
        try:
            plain = AESCCM(key_a, tag_length=4).decrypt(DID_NONCE, bytes(data), b"devID")
        except Exception:
            plain = None
        self.did_ok = plain == self.did20
        _log("%s: DID ciphertext %s" % (self.mac, "verified" if self.did_ok else "REJECTED"))

    def _on_app_random(self, data):
        if len(data) != 16:
            self._result(LOGIN_FAILED)
            return
        app_random = bytes(data)
        dev_random = os.urandom(16)
        keys = hkdf(self.token, app_random + dev_random, b"mible-login-info")
        self.login = {"ra": app_random, "rd": dev_random, "dev_key": keys[0:16], "app_key": keys[16:32]}
        dev_info = hmac_sha256(self.login["dev_key"], dev_random + app_random)
        if self.fault == "wrong_confirmation":
            dev_info = bytes([dev_info[0] ^ 0xFF]) + dev_info[1:]
        self.send_transfer(TYPE_DEV_RANDOM, dev_random,
                           lambda: self.send_transfer(TYPE_DEV_INFO, dev_info,
                                                      lambda: self.expect_transfer(TYPE_APP_INFO, self._on_app_info)))

    def _on_app_info(self, data):
        expected = hmac_sha256(self.login["app_key"], self.login["ra"] + self.login["rd"])
        if bytes(data) == expected:
            self.logged_in = True
            self.logins += 1
            self._result(LOGIN_OK)
        else:
            self._result(LOGIN_FAILED)

    def on_read(self, char):
        if char.uuid == CHAR_VERSION:
            return self.version
        raise _error("NotPermitted", "Read not permitted")

    # -- adverts --------------------------------------------------------------------------------

    def advert(self, temperature=None, humidity=None, battery=None, bindkey=None):
        key = bytes.fromhex(bindkey) if bindkey else self.bindkey
        if key is None:
            raise dbus.exceptions.DBusException("sensor %s has no bind key yet (register it first)" % self.mac,
                                                name=CONTROL_ERROR)
        objects = b""
        if temperature is not None:  # 0x1004: s16 LE, 0.1 °C
            objects += struct.pack("<HBh", 0x1004, 2, int(round(temperature * 10)))
        if humidity is not None:  # 0x1006: u16 LE, 0.1 %
            objects += struct.pack("<HBH", 0x1006, 2, int(round(humidity * 10)))
        if battery is not None:  # 0x100A: u8 %
            objects += struct.pack("<HBB", 0x100A, 1, int(battery))
        if not objects:
            raise dbus.exceptions.DBusException("an advert needs at least one value", name=CONTROL_ERROR)
        self.advert_counter += 1
        return mibeacon_v5_frame(self.mac, self.product_id, self.advert_counter, objects, key)

    def keys(self):
        if self.token is None:
            return None
        return {"token": self.token.hex(), "bindkey": self.bindkey.hex()}

    def state(self):
        s = self.base_state()
        s.update({
            "did": self.did, "keys": self.keys(), "registers": self.registers, "logins": self.logins,
            "logged_in": self.logged_in, "stage": self.stage, "last_result": self.last_result,
            "advert_counter": self.advert_counter,
        })
        return s


# -- registry and the control method ------------------------------------------------------------------

DEVICES = {}  # MAC (upper case) -> FakeGattDevice


def _device(mac, kind=None):
    dev = DEVICES.get(str(mac).upper())
    if dev is None or dev.removed:
        raise dbus.exceptions.DBusException("no scripted device %s" % mac, name=CONTROL_ERROR)
    if kind is not None and dev.kind != kind:
        raise dbus.exceptions.DBusException("%s is a %s, not a %s" % (mac, dev.kind, kind), name=CONTROL_ERROR)
    return dev


def _add(cls, args):
    mac = args.pop("mac").upper()
    adapter = args.pop("adapter", "hci0")
    old = DEVICES.get(mac)
    if old is not None:
        old.drop("replaced")
        old.forget()
    if "/org/bluez/" + adapter not in mockobject.objects:
        raise dbus.exceptions.DBusException("adapter %s does not exist" % adapter, name=CONTROL_ERROR)
    dev = cls(adapter, mac, **args)
    DEVICES[mac] = dev
    _hook_adapter(adapter)
    if not dev.visible:
        adapter_obj = mockobject.objects.get(dev.adapter_path)
        if adapter_obj is not None and bool(adapter_obj.props[ADAPTER_IFACE].get("Discovering", False)):
            _later(dev.reveal_delay_ms, dev.create_device_object)
    return dev.path


def _hook_adapter(adapter):
    """Wraps two Adapter1 methods of the bluez5 template, once per adapter object:
    StartDiscovery: scripted devices without a Device1 object (visible=False, or removed) appear
    ~300 ms later, as BlueZ finds a device it has not seen before;
    RemoveDevice: a scripted device is disconnected first (as BlueZ does), then its object goes."""
    obj = mockobject.objects.get("/org/bluez/" + adapter)
    if obj is None or getattr(obj, "gatt_hooked", False):
        return
    in_sig, out_sig, start_original, _ = obj.methods[ADAPTER_IFACE]["StartDiscovery"]

    def start_discovery(self):
        result = start_original(self) if callable(start_original) else None
        for dev in list(DEVICES.values()):
            if dev.adapter == adapter and not dev.visible and not dev.removed:
                _later(dev.reveal_delay_ms, dev.create_device_object)
        return result

    obj.AddMethod(ADAPTER_IFACE, "StartDiscovery", in_sig, out_sig, start_discovery)
    rm_in, rm_out, remove_original, _ = obj.methods[ADAPTER_IFACE]["RemoveDevice"]

    def remove_device(self, path):
        for dev in list(DEVICES.values()):
            if dev.path == str(path):
                dev.drop("RemoveDevice")
        return remove_original(self, path) if callable(remove_original) else None

    obj.AddMethod(ADAPTER_IFACE, "RemoveDevice", rm_in, rm_out, remove_device)
    obj.gatt_hooked = True


def _cmd_add_kettle(args):
    return {"path": _add(Kettle, args)}


def _cmd_add_std_sensor(args):
    return {"path": _add(StdSensor, args)}


def _cmd_set_fault(args):
    _device(args["mac"]).set_fault(args["fault"])
    return {}


def _cmd_set_in_range(args):
    _device(args["mac"]).set_in_range(args["in_range"])
    return {}


def _cmd_drop(args):
    _device(args["mac"]).drop(args.get("why", "dropped by test"))
    return {}


def _cmd_gatt_calls(args):
    return {"calls": _device(args["mac"]).calls}


def _cmd_clear_gatt_calls(args):
    _device(args["mac"]).calls = []
    return {}


def _cmd_state(args):
    return {"state": _device(args["mac"]).state()}


def _cmd_kettle_set(args):
    mac = args.pop("mac")
    _device(mac, "kettle").set(args)
    return {}


def _heard(dev):
    """An advert makes BlueZ create the Device1 object of a device it did not know (yet, or again)."""
    if not dev.visible:
        dev.create_device_object()
    return dev


def _cmd_kettle_advert(args):
    return {"frame": _heard(_device(args["mac"], "kettle")).advert().hex()}


def _cmd_sensor_advert(args):
    mac = args.pop("mac")
    return {"frame": _heard(_device(mac, "std_sensor")).advert(**args).hex()}


def _cmd_sensor_keys(args):
    return {"keys": _device(args["mac"], "std_sensor").keys()}


def _cmd_forget_adapter(args):
    for mac, dev in list(DEVICES.items()):
        if dev.adapter == args["adapter"]:
            dev.drop("adapter removed")
            dev.forget()
            del DEVICES[mac]
    return {}


def _cmd_export(args):
    return {"devices": {mac: dev.state() for mac, dev in DEVICES.items() if not dev.removed}}


COMMANDS = {
    "add_kettle": _cmd_add_kettle, "add_std_sensor": _cmd_add_std_sensor, "set_fault": _cmd_set_fault,
    "set_in_range": _cmd_set_in_range, "drop": _cmd_drop, "gatt_calls": _cmd_gatt_calls,
    "clear_gatt_calls": _cmd_clear_gatt_calls, "state": _cmd_state, "kettle_set": _cmd_kettle_set,
    "kettle_advert": _cmd_kettle_advert, "sensor_advert": _cmd_sensor_advert, "sensor_keys": _cmd_sensor_keys,
    "forget_adapter": _cmd_forget_adapter, "export": _cmd_export,
}


def control(command, args_json):
    """org.cloudless.FakeBluez.Gatt.Control: one JSON command in, one JSON object out."""
    fn = COMMANDS.get(command)
    if fn is None:
        raise dbus.exceptions.DBusException("unknown command %r" % command, name=CONTROL_ERROR)
    try:
        args = json.loads(args_json) if args_json else {}
        return json.dumps(fn(args))
    except dbus.exceptions.DBusException:
        raise
    except (KeyError, ValueError, TypeError) as exc:
        raise dbus.exceptions.DBusException("%s: %r" % (command, exc), name=CONTROL_ERROR)
