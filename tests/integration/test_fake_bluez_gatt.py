"""Self-test of the fake bluetoothd's GATT devices (fake_bluez.py + bluez_gatt_template.py +
fake_gatt_devices.py): a small dbus-python GATT client written here from the docs
(docs/ble.md §4.2 legacy Mi auth, §4.4 standard auth, §6.3 BlueZ GATT, §10) runs every handshake against
the scripted Mi kettle and standard-auth sensor, and every fault.

The client's crypto is written here again (not imported from the fake) so the two sides check each
other, and both are checked against the docs/ble.md vectors first.

Bounded: every wait has a deadline (a few seconds at most); each test starts its own private bus and
mock and stops both in a finalizer. Runs in well under 30 s.
"""

import shutil
import struct
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import helpers  # noqa: E402


def _problem():
    return helpers.fake_bluez_problem()


pytestmark = pytest.mark.skipif(_problem() is not None, reason=str(_problem()))

if _problem() is None:
    import dbus
    from dbus.mainloop.glib import DBusGMainLoop
    from gi.repository import GLib
    from cryptography.hazmat.primitives import hashes, hmac
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.utils import CryptographyDeprecationWarning

    from fake_bluez import FakeBluez, uuid16, KETTLE_SERVICE_UUID, MI_SERVICE_UUID, device_path

    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)

KETTLE_MAC = "AA:BB:CC:DD:EE:FF"  # docs/ble.md §4.2 vector MAC
SENSOR_MAC = "A4:C1:38:02:83:F4"
TOKEN = bytes.fromhex("015ccba8800abdc12eb8ed82")  # docs/ble.md §4.2 vector token (drndos' default)
TOKEN_C, VERSION_C, UPNP_C, BEACON_C, AVDTP_C = (uuid16(x) for x in (0x0001, 0x0004, 0x0010, 0x0014, 0x0019))
SETUP_C, STATUS_C, LIMIT_C, BOIL_C, MCU_C = (uuid16(x) for x in (0xAA01, 0xAA02, 0xAA04, 0xAA05, 0x2A28))


# -- the client's crypto, from docs/ble.md ---------------------------------------------------

def rc4(key, data):
    # python3-cryptography's ARC4 takes 5/7/8/10/16/20/24/32-byte keys only; RC4's key schedule reads
    # key[i % len], so the key repeated to an allowed multiple of its length is the same key.
    key = bytes(key)
    n = next(n for n in (5, 7, 8, 10, 16, 20, 24, 32) if n % len(key) == 0)
    enc = Cipher(algorithms.ARC4(key * (n // len(key))), mode=None).encryptor()
    return enc.update(bytes(data)) + enc.finalize()


def mixes(mac, pid):
    r = bytes.fromhex(mac.replace(":", ""))[::-1]
    return (bytes([r[0], r[2], r[5], pid & 0xFF, pid & 0xFF, r[4], r[5], r[1]]),
            bytes([r[0], r[2], r[5], (pid >> 8) & 0xFF, r[4], r[0], r[5], pid & 0xFF]))


def hkdf64(ikm, salt, info):
    return HKDF(algorithm=hashes.SHA256(), length=64, salt=salt, info=info).derive(ikm)


def hmac256(key, data):
    h = hmac.HMAC(key, hashes.SHA256())
    h.update(data)
    return h.finalize()


def login_words(order):
    fmt = "<I" if order == "le" else ">I"
    return tuple(struct.pack(fmt, w) for w in (0xCD43BC00, 0x93BFAC09, 0x369A58C9))


# -- a dbus-python GATT client ----------------------------------------------------------------------

class Client:
    """Calls with call_blocking; signals from org.bluez collected by a GLib main loop that pump() runs."""

    def __init__(self, address):
        self.bus = dbus.bus.BusConnection(address, mainloop=DBusGMainLoop())
        self.ctx = GLib.MainContext.default()
        self.signals = []  # (path, interface, member, args)
        self.bus.add_signal_receiver(self._on_signal, bus_name="org.bluez", path_keyword="path",
                                     interface_keyword="iface", member_keyword="member")
        self.path = None
        self.chars = {}
        self.seen = {}  # char path -> index into signals already consumed as notifications

    def _on_signal(self, *args, path=None, iface=None, member=None):
        self.signals.append((str(path), str(iface), str(member), args))

    def close(self):
        self.bus.close()

    def pump(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self.ctx.iteration(False):
                time.sleep(0.003)

    def mark(self):
        """Index of the next signal, after dispatching those already received (call_blocking queues
        the signals that came before its reply without dispatching them)."""
        for _ in range(1000):
            if not self.ctx.iteration(False):
                break
        return len(self.signals)

    def drain(self, uuid):
        """Forgets the notifications of `uuid` received so far."""
        self.mark()
        fresh = self._notifications(self.chars[uuid])
        if fresh:
            self.seen[self.chars[uuid]] = fresh[-1]

    def wait(self, predicate, timeout=3.0, what="a signal", since=0):
        deadline = time.monotonic() + timeout
        while True:
            for i, s in enumerate(self.signals[since:], since):
                if predicate(s):
                    return i, s
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for %s; signals: %r" % (what, self.signals[-10:]))
            if not self.ctx.iteration(False):
                time.sleep(0.003)

    def call(self, path, iface, method, sig="", args=(), timeout=5.0):
        return self.bus.call_blocking("org.bluez", path, iface, method, sig, list(args), timeout=timeout)

    def objects(self):
        return self.call("/", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")

    def connect(self, mac, adapter="hci0"):
        self.path = device_path(adapter, mac)
        self.call(self.path, "org.bluez.Device1", "Connect")
        self.chars = {}
        for path, ifaces in self.objects().items():
            if str(path).startswith(self.path + "/") and "org.bluez.GattCharacteristic1" in ifaces:
                self.chars[str(ifaces["org.bluez.GattCharacteristic1"]["UUID"])] = str(path)
        return self.path

    def disconnect(self):
        self.call(self.path, "org.bluez.Device1", "Disconnect")

    def read(self, uuid):
        return bytes(self.call(self.chars[uuid], "org.bluez.GattCharacteristic1", "ReadValue", "a{sv}", [{}]))

    def write(self, uuid, value, kind="request"):
        self.call(self.chars[uuid], "org.bluez.GattCharacteristic1", "WriteValue", "aya{sv}",
                  [dbus.ByteArray(bytes(value)), {"type": kind}])

    def start_notify(self, uuid):
        self.call(self.chars[uuid], "org.bluez.GattCharacteristic1", "StartNotify")

    def _notifications(self, path):
        return [i for i, s in enumerate(self.signals)
                if s[0] == path and s[2] == "PropertiesChanged" and s[3][0] == "org.bluez.GattCharacteristic1"
                and "Value" in s[3][1]]

    def notification(self, uuid, timeout=2.0):
        """The next Value notification of `uuid` not yet returned."""
        path = self.chars[uuid]
        deadline = time.monotonic() + timeout
        while True:
            fresh = [i for i in self._notifications(path) if i > self.seen.get(path, -1)]
            if fresh:
                self.seen[path] = fresh[0]
                return bytes(self.signals[fresh[0]][3][1]["Value"])
            if time.monotonic() > deadline:
                raise AssertionError("no notification on %s within %.1f s" % (uuid, timeout))
            if not self.ctx.iteration(False):
                time.sleep(0.003)

    def no_notification(self, uuid, seconds=0.4):
        path = self.chars[uuid]
        self.pump(seconds)
        return not [i for i in self._notifications(path) if i > self.seen.get(path, -1)]

    # -- docs/ble.md §4.2: legacy register / login ------------------------------------------------

    def legacy_register(self, mac, pid, token, timeout=2.0):
        mix_a, mix_b = mixes(mac, pid)
        self.start_notify(TOKEN_C)
        self.write(UPNP_C, bytes.fromhex("90ca85de"))
        self.write(TOKEN_C, rc4(mix_a, token))
        reply = self.notification(TOKEN_C, timeout)
        ok = len(reply) == 12 and rc4(mix_b, rc4(mix_a, reply)) == token
        if ok:
            self.write(TOKEN_C, rc4(token, bytes.fromhex("92ab54fa")))
        return ok, reply

    def legacy_login(self, token, order="le", key_length=12):
        start, end, confirm = login_words(order)
        self.start_notify(TOKEN_C)
        self.write(UPNP_C, start)
        challenge = self.notification(TOKEN_C)
        tick = rc4(token, challenge)
        head = bytes(a ^ b for a, b in zip(token[:4], tick[:4]))
        key = head + token[4:] if key_length == 12 else head
        self.write(TOKEN_C, rc4(key, end))
        confirmation = self.notification(TOKEN_C, timeout=0.6)
        return rc4(key, confirmation)[:4] == confirm

    # -- docs/ble.md §4.4: AVDTP transfers, register, login ---------------------------------------

    def send_transfer(self, kind, data, timeout=2.0):
        self.write(AVDTP_C, bytes([0, 0, 0, kind]) + struct.pack("<H", (len(data) + 17) // 18), "command")
        assert self.notification(AVDTP_C, timeout) == bytes.fromhex("00000101")  # RCV_RDY
        for i in range(0, len(data), 18):
            self.write(AVDTP_C, struct.pack("<H", i // 18 + 1) + data[i:i + 18], "command")
        assert self.notification(AVDTP_C, timeout) == bytes.fromhex("00000100")  # RCV_OK

    def receive_transfer(self, kind, timeout=2.0):
        header = self.notification(AVDTP_C, timeout)
        assert len(header) == 6 and header[:4] == bytes([0, 0, 0, kind]), header.hex()
        n = header[4] | header[5] << 8
        if n == 0:
            raise ValueError("header announces 0 frames")
        self.write(AVDTP_C, bytes.fromhex("00000101"), "command")
        data = b""
        for expected in range(1, n + 1):
            frame = self.notification(AVDTP_C, timeout)
            if frame[0] | frame[1] << 8 != expected:
                raise ValueError("frame index %d, expected %d" % (frame[0] | frame[1] << 8, expected))
            data += frame[2:]
        self.write(AVDTP_C, bytes.fromhex("00000100"), "command")
        return data

    def std_start(self):
        self.start_notify(UPNP_C)
        self.start_notify(AVDTP_C)

    def std_register(self, corrupt_did=False):
        self.std_start()
        self.write(UPNP_C, bytes.fromhex("a2000000"))
        remote_info = self.receive_transfer(0x00)
        self.write(UPNP_C, bytes.fromhex("15000000"))
        priv = ec.generate_private_key(ec.SECP256R1())
        nums = priv.public_key().public_numbers()
        self.send_transfer(0x03, nums.x.to_bytes(32, "big") + nums.y.to_bytes(32, "big"))
        dev_pub = self.receive_transfer(0x03)
        shared = priv.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(),
                                                                                         b"\x04" + dev_pub))
        derived = hkdf64(shared, None, b"mible-setup-info")
        token, bindkey, key_a = derived[:12], derived[12:28], derived[28:44]
        did = remote_info[4:]
        ct = AESCCM(key_a, tag_length=4).encrypt(bytes(range(0x10, 0x1C)), did, b"devID")
        if corrupt_did:
            ct = bytes([ct[0] ^ 1]) + ct[1:]
        self.send_transfer(0x00, ct)
        self.write(UPNP_C, bytes.fromhex("13000000"))
        result = self.notification(UPNP_C)
        return result, remote_info, token, bindkey

    def std_login(self, token):
        """Returns (device info verified, UPNP result)."""
        self.std_start()
        ra = bytes(range(16))
        self.write(UPNP_C, bytes.fromhex("24000000"))
        self.send_transfer(0x0B, ra)
        rd = self.receive_transfer(0x0D)
        keys = hkdf64(token, ra + rd, b"mible-login-info")
        dev_key, app_key = keys[:16], keys[16:32]
        dev_info = self.receive_transfer(0x0C)
        verified = dev_info == hmac256(dev_key, rd + ra)
        self.send_transfer(0x0A, hmac256(app_key, ra + rd))
        return verified, self.notification(UPNP_C)


def _bluez_error(excinfo):
    return excinfo.value.get_dbus_name(), excinfo.value.get_dbus_message()


@pytest.fixture
def fake(request):
    workdir = Path(tempfile.mkdtemp(prefix="cl-gatt-"))
    bluez = FakeBluez(workdir)

    def cleanup():
        bluez.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    request.addfinalizer(cleanup)
    bluez.start()
    bluez.add_adapter("hci0")
    return bluez


@pytest.fixture
def client(request, fake):
    c = Client(fake.address)
    request.addfinalizer(c.close)
    return c


# ------------------------------------------------------------------------------------------------

def test_docs_vectors_for_client_and_device():
    import fake_gatt_devices as dev

    # §4.2: RC4 against the standard Key/Plaintext vector; mixA/mixB, register write and genuine reply.
    assert rc4(b"Key", b"Plaintext").hex() == "bbf316e8d940af0ad3"
    assert dev.rc4(b"Key", b"Plaintext").hex() == "bbf316e8d940af0ad3"
    for pid, a, b, write, reply in (
            (131, "ffddaa8383bbaaee", "ffddaa00bbffaa83", "2c18ec5cd4af78ba9413b083", "4b084375b08944f4a117bb22"),
            (275, "ffddaa1313bbaaee", "ffddaa01bbffaa13", "98fba984896b999a9cdc3fd1", "b2b51f494a7a653833cfb317")):
        mix_a, mix_b = mixes(KETTLE_MAC, pid)
        assert (mix_a.hex(), mix_b.hex()) == (a, b)
        assert (dev.mix_a(KETTLE_MAC, pid).hex(), dev.mix_b(KETTLE_MAC, pid).hex()) == (a, b)
        assert rc4(mix_a, TOKEN).hex() == write
        assert dev.legacy_register_reply(KETTLE_MAC, pid, TOKEN).hex() == reply
        assert rc4(mix_b, rc4(mix_a, bytes.fromhex(reply))) == TOKEN
    assert rc4(TOKEN, bytes.fromhex("92ab54fa")).hex() == "ea0f7d48"
    assert dev.login_constant("start", "le") == bytes.fromhex("00bc43cd")
    assert dev.login_constant("start", "be") == bytes.fromhex("cd43bc00")

    # §4.4 register: ECDH, HKDF (token / bind key / A), DID ciphertext over remote_info[4:].
    priv = ec.derive_private_key(
        48461508383982493215332654270464913273532832436436077476553357014100094140803, ec.SECP256R1())
    dev_pub = bytes.fromhex("2afe2a8c1c56e5e70721665cd20d017273111ecaeceb1e4d641e7b7a122a9c30"
                            "41e5cbc962eefbdb155ffd95847a0d8762803291fc2866c5672ceee0e77d77fc")
    shared = priv.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + dev_pub))
    assert shared.hex() == "fac3a6fd591dcea21f9f4fefe297804f49291527ae818b285f4a75a6fab72af8"
    derived = hkdf64(shared, None, b"mible-setup-info")
    assert derived == dev.hkdf(shared, None, b"mible-setup-info")
    token, bindkey, key_a = derived[:12], derived[12:28], derived[28:44]
    assert (token.hex(), bindkey.hex(), key_a.hex()) == (
        "0cf5615003810d89c233a12a", "8fc5100e31299d80c4c290dc7d33f19e", "c42ea48a95c5544f105fe7ebb8b39233")
    remote_info = bytes.fromhex("0100000000626c742e342e31386e35383236366b67673030")
    assert remote_info == b"\x01\x00\x00\x00\x00" + b"blt.4.18n58266kgg00"
    assert AESCCM(key_a, tag_length=4).encrypt(dev.DID_NONCE, remote_info[4:], b"devID").hex() == \
        "646735cc7a96373aabbd93afa089bb6cd2d080302101007a"
    # §4.4 login.
    ra, rd = bytes.fromhex("a8699783c1f03c7b73a046cdb613a9bf"), bytes.fromhex("90fdec0ece05016d7f116b50fca4b4bf")
    keys = hkdf64(token, ra + rd, b"mible-login-info")
    assert keys[:16].hex() == "3c2fdae69f8746663a7d91029724b072"
    assert keys[16:32].hex() == "12a4122dbe3cf60f3bdcb37139c34611"
    assert hmac256(keys[16:32], ra + rd).hex() == "bbb99b6a6f1ae419e3b13db93514f3e12a1843033f276392eea99068affca753"
    assert dev.hmac_sha256(keys[:16], rd + ra).hex() == \
        "471467ea7ed6064f8dd72f416c079dcb3bb78e3c94a51e97b98ef7623a7798e5"

    # §3.2 V16 re-encoded by the fake's MiBeacon v5 encoder: counter 0x50 | ext 000026 << 8.
    frame = dev.mibeacon_v5_frame("A4:C1:38:02:83:F4", 0x055B, 0x00002650, bytes.fromhex("061002d301"),
                                  bytes.fromhex("e9ea895fac7cca6d30532432a516f3a8"))
    assert frame.hex() == "58585b0550f4830238c1a495ef58763c26000097e2abb5"
    # §3.2 V18 (CGDK2 58:2D:34:12:20:89, fcnt 7, ext 020000): object 1004 e200 (22.6 °C).
    frame = dev.mibeacon_v5_frame("58:2D:34:12:20:89", 0x066F, 0x000207, bytes.fromhex("041002e200"),
                                  bytes.fromhex("a3bfe9853dd85a620debe3620caaa351"))
    assert frame.hex() == "58586f0607892012342d585f176dd54f0200002fa453fa"


def test_connect_exports_gatt_objects_and_disconnect_removes_them(fake, client):
    path = fake.add_kettle(KETTLE_MAC)
    assert path == device_path("hci0", KETTLE_MAC)
    start = time.monotonic()
    client.connect(KETTLE_MAC)
    assert 0.03 <= time.monotonic() - start < 2.0  # ~50 ms, answered once services are resolved
    client.pump(0.05)
    order = [(s[2], s[0]) for s in client.signals]
    props = [s for s in client.signals if s[2] == "PropertiesChanged" and s[0] == path]
    assert [dict(s[3][1]) for s in props if "Connected" in s[3][1]] == [{"Connected": True}]
    added = [s[3][0] for s in client.signals if s[2] == "InterfacesAdded" and s[3][0].startswith(path + "/")]
    assert len(added) == 2 + 9  # two services, nine characteristics
    i_connected = next(i for i, s in enumerate(client.signals)
                       if s[2] == "PropertiesChanged" and "Connected" in s[3][1])
    i_resolved = next(i for i, s in enumerate(client.signals)
                      if s[2] == "PropertiesChanged" and "ServicesResolved" in s[3][1])
    i_added = [i for i, s in enumerate(client.signals) if s[2] == "InterfacesAdded" and s[3][0] != path]
    assert i_connected < min(i_added) and max(i_added) < i_resolved, order

    objects = client.objects()
    services = {str(v["org.bluez.GattService1"]["UUID"]): (str(k), v["org.bluez.GattService1"])
                for k, v in objects.items() if "org.bluez.GattService1" in v}
    assert set(services) == {MI_SERVICE_UUID, KETTLE_SERVICE_UUID}
    mi_path, mi = services[MI_SERVICE_UUID]
    assert mi["Device"] == path and bool(mi["Primary"]) and mi_path.startswith(path + "/service")
    chars = {str(v["org.bluez.GattCharacteristic1"]["UUID"]): v["org.bluez.GattCharacteristic1"]
             for k, v in objects.items() if "org.bluez.GattCharacteristic1" in v}
    assert sorted(chars[TOKEN_C]["Flags"]) == ["notify", "write"]
    assert list(chars[UPNP_C]["Flags"]) == ["write"] and list(chars[VERSION_C]["Flags"]) == ["read"]
    assert list(chars[STATUS_C]["Flags"]) == ["notify"]
    assert chars[STATUS_C]["Service"] == services[KETTLE_SERVICE_UUID][0]
    assert bool(chars[TOKEN_C]["Notifying"]) is False and list(chars[TOKEN_C]["Value"]) == []
    assert set(chars) == {TOKEN_C, VERSION_C, UPNP_C, BEACON_C, SETUP_C, STATUS_C, LIMIT_C, BOIL_C, MCU_C}
    dev_props = objects[dbus.ObjectPath(path)]["org.bluez.Device1"]
    assert bool(dev_props["Connected"]) and bool(dev_props["ServicesResolved"])

    # Connect on a connected device: at once. StartNotify -> Notifying=true + PropertiesChanged.
    start = time.monotonic()
    client.call(path, "org.bluez.Device1", "Connect")
    assert time.monotonic() - start < 0.04
    client.start_notify(TOKEN_C)
    client.wait(lambda s: s[0] == client.chars[TOKEN_C] and s[2] == "PropertiesChanged"
                and dict(s[3][1]) == {"Notifying": True}, what="Notifying true")
    assert client.read(MCU_C) == b"0.1.5"  # readable without auth

    # Disconnect: InterfacesRemoved for all eleven, then ServicesResolved=false, then Connected=false.
    mark = client.mark()
    client.disconnect()
    client.wait(lambda s: s[2] == "PropertiesChanged" and dict(s[3][1]) == {"Connected": False},
                what="Connected false", since=mark)
    tail = client.signals[mark:]
    removed = [i for i, s in enumerate(tail) if s[2] == "InterfacesRemoved"]
    i_unresolved = next(i for i, s in enumerate(tail) if s[2] == "PropertiesChanged" and "ServicesResolved" in s[3][1])
    i_disc = next(i for i, s in enumerate(tail) if s[2] == "PropertiesChanged" and "Connected" in s[3][1])
    assert len(removed) == 11 and max(removed) < i_unresolved < i_disc
    assert not [k for k in client.objects() if str(k).startswith(path + "/")]
    with pytest.raises(dbus.exceptions.DBusException) as err:
        client.read(MCU_C)
    assert _bluez_error(err) == ("org.bluez.Error.Failed", "Not connected")

    # Reconnect: the same paths again, notifications off.
    client.connect(KETTLE_MAC)
    assert set(client.chars) == set(chars)
    assert fake.kettle_state(KETTLE_MAC)["connects"] == 2
    calls = fake.gatt_calls(KETTLE_MAC)
    assert calls[0] == (TOKEN_C, "StartNotify", None, {})
    assert calls[1] == (MCU_C, "ReadValue", None, {})
    assert calls[2] == (MCU_C, "ReadValue", None, {})  # the failed one after the disconnect
    assert [c for c, *_ in fake.calls(path)] == ["Connect", "Connect", "Disconnect", "Connect"]


def test_kettle_register_reads_status_and_settings(fake, client):
    fake.add_kettle(KETTLE_MAC, product_id=131)
    client.connect(KETTLE_MAC)
    for uuid, kind in ((VERSION_C, "read"), (LIMIT_C, "read"), (SETUP_C, "write")):
        with pytest.raises(dbus.exceptions.DBusException) as err:
            client.read(uuid) if kind == "read" else client.write(uuid, b"\x00\x50")
        assert err.value.get_dbus_name() == "org.bluez.Error.NotAuthorized"
    assert fake.kettle_token(KETTLE_MAC) is None

    ok, reply = client.legacy_register(KETTLE_MAC, 131, TOKEN)
    assert reply.hex() == "4b084375b08944f4a117bb22" and ok  # §4.2's genuine reply
    writes = [(u, v) for u, m, v, _ in fake.gatt_calls(KETTLE_MAC) if m == "WriteValue"]
    assert writes[-3:] == [(UPNP_C, "90ca85de"), (TOKEN_C, "2c18ec5cd4af78ba9413b083"), (TOKEN_C, "ea0f7d48")]
    client.pump(0.05)
    state = fake.kettle_state(KETTLE_MAC)
    assert state["authenticated"] and state["token"] == TOKEN.hex() and state["registers"] == 1
    assert rc4(TOKEN, client.read(VERSION_C)) == b"1.0.0_0001"
    assert rc4(TOKEN, client.read(BEACON_C)).hex() == "0a1b2c3d4e5f60718293a4b5"

    # Status right after StartNotify of aa02: the real sample (idle, no mode, 80 °C set, 32 °C now).
    client.start_notify(STATUS_C)
    assert client.notification(STATUS_C).hex() == "00ff00005020000000010200"
    fake.kettle_set(KETTLE_MAC, action="heating", mode="boil", current_temperature=95)
    assert client.notification(STATUS_C).hex() == "01010000505f000000010200"
    # Settings: aa01 [type, temperature], aa04 [hours x 2], aa05 [0/1]; each change notifies.
    client.write(SETUP_C, bytes([1, 70]))
    assert client.notification(STATUS_C)[4:7] == bytes([70, 95, 1])
    client.write(LIMIT_C, bytes([12]))
    client.write(BOIL_C, bytes([1]))
    assert client.read(LIMIT_C) == b"\x0c" and client.read(BOIL_C) == b"\x01"
    state = fake.kettle_state(KETTLE_MAC)
    assert (state["keep_warm_type"], state["keep_warm_temperature"], state["time_limit_x2"], state["boil_mode"]) == \
        (1, 70, 12, 1)
    for uuid, value, error in ((SETUP_C, b"\x01", "org.bluez.Error.InvalidValueLength"),
                               (SETUP_C, b"\x01\x27", "org.bluez.Error.Failed"),  # 39 °C
                               (SETUP_C, b"\x02\x50", "org.bluez.Error.Failed"),
                               (LIMIT_C, b"\x19", "org.bluez.Error.Failed"),  # 12.5 h
                               (BOIL_C, b"\x02", "org.bluez.Error.Failed"),
                               (BOIL_C, b"\x01\x00", "org.bluez.Error.InvalidValueLength")):
        with pytest.raises(dbus.exceptions.DBusException) as err:
            client.write(uuid, value)
        assert err.value.get_dbus_name() == error, (uuid, value.hex())
    with pytest.raises(dbus.exceptions.DBusException) as err:
        client.write(LIMIT_C, b"\x01", kind="command")  # no write-without-response on aa04
    assert err.value.get_dbus_name() == "org.bluez.Error.NotSupported"
    assert fake.kettle_state(KETTLE_MAC)["keep_warm_temperature"] == 70  # nothing rejected was applied
    # Every 2 s while connected, even without a change.
    assert len(client.notification(STATUS_C, timeout=3.0)) == 12

    # A real kettle accepts any token in register: a second client with another token wins.
    client.disconnect()
    client.connect(KETTLE_MAC)
    other = bytes(range(12))
    ok, _ = client.legacy_register(KETTLE_MAC, 131, other)
    assert ok
    client.pump(0.05)
    assert fake.kettle_token(KETTLE_MAC) == other.hex()


def test_kettle_eu_product_id_and_advert(fake, client):
    fake.add_kettle(KETTLE_MAC, product_id=275)
    client.connect(KETTLE_MAC)
    ok, reply = client.legacy_register(KETTLE_MAC, 275, TOKEN)
    assert ok and reply.hex() == "b2b51f494a7a653833cfb317"
    # The advert: plain MiBeacon v3, MAC, no object; pid 275 = 0x0113; counter goes up.
    first = fake.kettle_advertise(KETTLE_MAC, rssi=-55)
    second = fake.kettle_advertise(KETTLE_MAC)
    assert first.hex() == "1030130101ffeeddccbbaa" and second[4] == 2
    _, sig = client.wait(lambda s: s[2] == "PropertiesChanged" and "ServiceData" in s[3][1], what="ServiceData")
    assert bytes(sig[3][1]["ServiceData"][MI_SERVICE_UUID]) == first and int(sig[3][1]["RSSI"]) == -55


@pytest.mark.parametrize("variant", ["le12", "le4", "be12", "be4"])
def test_kettle_login_variants(fake, client, variant):
    fake.add_kettle(KETTLE_MAC, login_variant=variant, token=TOKEN.hex())
    order, key_length = variant[:2], int(variant[2:])
    client.connect(KETTLE_MAC)
    assert client.legacy_login(TOKEN, order, key_length)
    client.pump(0.05)
    state = fake.kettle_state(KETTLE_MAC)
    assert state["authenticated"] and state["logins"] == 1
    assert rc4(TOKEN, client.read(VERSION_C)) == b"1.0.0_0001"

    # The other key length (same byte order): the response is wrong -> no confirmation, no auth.
    client.disconnect()
    client.connect(KETTLE_MAC)
    with pytest.raises(AssertionError, match="no notification"):
        client.legacy_login(TOKEN, order, 4 if key_length == 12 else 12)
    assert not fake.kettle_state(KETTLE_MAC)["authenticated"]


def test_kettle_login_needs_the_registered_token(fake, client):
    fake.add_kettle(KETTLE_MAC)  # never registered
    client.connect(KETTLE_MAC)
    with pytest.raises(AssertionError, match="no notification"):
        client.legacy_login(TOKEN)
    ok, _ = client.legacy_register(KETTLE_MAC, 131, TOKEN)
    assert ok
    client.disconnect()
    client.connect(KETTLE_MAC)
    assert client.legacy_login(TOKEN)
    client.disconnect()
    client.connect(KETTLE_MAC)
    with pytest.raises(AssertionError, match="no notification"):
        client.legacy_login(bytes(12))  # a wrong token


def test_kettle_faults(fake, client):
    fake.add_kettle(KETTLE_MAC)
    client.connect(KETTLE_MAC)

    fake.set_fault(KETTLE_MAC, "wrong_confirmation")
    ok, reply = client.legacy_register(KETTLE_MAC, 131, TOKEN)
    assert not ok and len(reply) == 12 and reply[1:].hex() == "084375b08944f4a117bb22"
    client.write(TOKEN_C, rc4(TOKEN, bytes.fromhex("92ab54fa")))  # confirming anyway does not help
    client.pump(0.05)
    assert not fake.kettle_state(KETTLE_MAC)["authenticated"] and fake.kettle_token(KETTLE_MAC) is None

    fake.set_fault(KETTLE_MAC, "malformed")
    ok, reply = client.legacy_register(KETTLE_MAC, 131, TOKEN)
    assert not ok and reply.hex() == "4b084375b0"

    fake.set_fault(KETTLE_MAC, "no_notification")
    with pytest.raises(AssertionError, match="no notification"):
        client.legacy_register(KETTLE_MAC, 131, TOKEN, timeout=0.5)

    fake.set_fault(KETTLE_MAC, "none")
    fake.kettle_set(KETTLE_MAC, token=TOKEN.hex())
    fake.set_fault(KETTLE_MAC, "wrong_confirmation")
    assert client.legacy_login(TOKEN) is False

    # disconnect_mid_handshake: the first auth write succeeds, then the link goes.
    fake.set_fault(KETTLE_MAC, "disconnect_mid_handshake")
    client.disconnect()
    client.connect(KETTLE_MAC)
    client.start_notify(TOKEN_C)
    mark = client.mark()
    client.write(UPNP_C, bytes.fromhex("90ca85de"))
    client.wait(lambda s: s[2] == "PropertiesChanged" and dict(s[3][1]) == {"Connected": False}
                and s[0] == client.path, what="the drop", since=mark)
    with pytest.raises(dbus.exceptions.DBusException) as err:
        client.write(TOKEN_C, rc4(mixes(KETTLE_MAC, 131)[0], TOKEN))
    assert _bluez_error(err) == ("org.bluez.Error.Failed", "Not connected")
    assert not fake.kettle_state(KETTLE_MAC)["connected"]

    # connect_in_progress_once: one InProgress, then a normal connect.
    fake.set_fault(KETTLE_MAC, "connect_in_progress_once")
    with pytest.raises(dbus.exceptions.DBusException) as err:
        client.connect(KETTLE_MAC)
    assert err.value.get_dbus_name() == "org.bluez.Error.InProgress"
    client.connect(KETTLE_MAC)
    assert fake.kettle_state(KETTLE_MAC)["fault"] == "none"

    # out_of_range: the connected device drops at once, Connect fails after ~100 ms.
    mark = client.mark()
    fake.set_fault(KETTLE_MAC, "out_of_range")
    client.wait(lambda s: s[2] == "PropertiesChanged" and dict(s[3][1]) == {"Connected": False},
                what="the drop", since=mark)
    start = time.monotonic()
    with pytest.raises(dbus.exceptions.DBusException) as err:
        client.connect(KETTLE_MAC)
    assert _bluez_error(err) == ("org.bluez.Error.Failed", "le-connection-abort-by-local")
    assert 0.08 <= time.monotonic() - start < 1.0
    fake.set_fault(KETTLE_MAC, "none")
    client.connect(KETTLE_MAC)

    # set_in_range(False): dropped, Connect fails until back in range.
    fake.set_in_range(KETTLE_MAC, False)
    assert not fake.kettle_state(KETTLE_MAC)["connected"]
    with pytest.raises(dbus.exceptions.DBusException) as err:
        client.connect(KETTLE_MAC)
    assert _bluez_error(err)[1] == "le-connection-abort-by-local"
    fake.set_in_range(KETTLE_MAC, True)
    client.connect(KETTLE_MAC)
    assert fake.kettle_state(KETTLE_MAC)["connected"]


def test_std_sensor_register_login_and_encrypted_adverts(fake, client):
    fake.add_std_sensor(SENSOR_MAC)
    client.connect(SENSOR_MAC)
    assert set(client.chars) == {VERSION_C, UPNP_C, AVDTP_C}
    objects = client.objects()
    flags = {str(v["org.bluez.GattCharacteristic1"]["UUID"]): sorted(v["org.bluez.GattCharacteristic1"]["Flags"])
             for v in objects.values() if "org.bluez.GattCharacteristic1" in v}
    assert flags[AVDTP_C] == ["notify", "write-without-response"] and flags[UPNP_C] == ["notify", "write"]
    assert fake.sensor_keys(SENSOR_MAC) is None

    result, remote_info, token, bindkey = client.std_register()
    assert remote_info.hex() == "0100000000626c742e342e31386e35383236366b67673030"  # §4.4 vector
    assert result.hex() == "11000000"
    assert fake.sensor_keys(SENSOR_MAC) == {"token": token.hex(), "bindkey": bindkey.hex()}
    avdtp_writes = [(m, o) for u, m, v, o in fake.gatt_calls(SENSOR_MAC) if u == AVDTP_C and m == "WriteValue"]
    assert avdtp_writes and all(o == {"type": "command"} for _, o in avdtp_writes)

    verified, result = client.std_login(token)
    assert verified and result.hex() == "21000000"
    assert fake.gatt_state(SENSOR_MAC)["logins"] == 1

    # The advert the sensor now sends decrypts with the bind key registration produced.
    frame = fake.sensor_advertise(SENSOR_MAC, temperature=22.4, humidity=48.2, rssi=-61)
    _, sig = client.wait(lambda s: s[2] == "PropertiesChanged" and "ServiceData" in s[3][1], what="advert")
    assert bytes(sig[3][1]["ServiceData"][MI_SERVICE_UUID]) == frame
    assert frame[:5] == bytes.fromhex("58585b0501") and frame[5:11] == bytes.fromhex("f4830238c1a4")
    nonce = frame[5:11] + frame[2:5] + frame[-7:-4]
    plain = AESCCM(bindkey, tag_length=4).decrypt(nonce, frame[11:-7] + frame[-4:], b"\x11")
    assert plain == bytes.fromhex("041002e000" "061002e201")  # 22.4 °C, 48.2 %
    assert fake.sensor_advertise(SENSOR_MAC)[4] == 2  # the counter moves

    # A wrong DID ciphertext: 12000000 and the keys of the first registration stay.
    client.disconnect()
    client.connect(SENSOR_MAC)
    result, _, _, _ = client.std_register(corrupt_did=True)
    assert result.hex() == "12000000"
    assert fake.sensor_keys(SENSOR_MAC)["bindkey"] == bindkey.hex()
    # Login with a wrong token: the device info does not verify and the device says 23000000.
    verified, result = client.std_login(bytes(12))
    assert not verified and result.hex() == "23000000"


def test_std_sensor_faults(fake, client):
    fake.add_std_sensor(SENSOR_MAC)
    client.connect(SENSOR_MAC)

    fake.set_fault(SENSOR_MAC, "error_code")
    client.std_start()
    client.write(UPNP_C, bytes.fromhex("15000000"))
    assert client.notification(UPNP_C).hex() == "e2000000"

    fake.set_fault(SENSOR_MAC, "malformed")
    client.write(UPNP_C, bytes.fromhex("a2000000"))
    with pytest.raises(ValueError, match="0 frames"):
        client.receive_transfer(0x00)

    fake.set_fault(SENSOR_MAC, "malformed_index")
    client.write(UPNP_C, bytes.fromhex("a2000000"))
    with pytest.raises(ValueError, match="frame index 2, expected 1"):
        client.receive_transfer(0x00)

    fake.set_fault(SENSOR_MAC, "no_notification")
    client.pump(0.1)
    client.drain(AVDTP_C)  # the rest of the badly numbered transfer
    client.write(UPNP_C, bytes.fromhex("a2000000"))
    assert client.no_notification(AVDTP_C)

    fake.set_fault(SENSOR_MAC, "none")
    result, _, token, _ = client.std_register()
    assert result.hex() == "11000000"
    fake.set_fault(SENSOR_MAC, "wrong_confirmation")
    verified, result = client.std_login(token)
    assert not verified  # the device's HMAC is wrong; our own is right, so it says 21000000
    assert result.hex() == "21000000"

    fake.set_fault(SENSOR_MAC, "disconnect_mid_handshake")
    client.disconnect()
    client.connect(SENSOR_MAC)
    client.std_start()
    mark = client.mark()
    client.write(UPNP_C, bytes.fromhex("24000000"))
    client.wait(lambda s: s[2] == "PropertiesChanged" and dict(s[3][1]) == {"Connected": False},
                what="the drop", since=mark)
    assert not fake.gatt_state(SENSOR_MAC)["connected"]

    # A client's frame with a wrong index: RCV_ERR from the device.
    fake.set_fault(SENSOR_MAC, "none")
    client.connect(SENSOR_MAC)
    client.std_start()
    client.write(UPNP_C, bytes.fromhex("24000000"))
    client.write(AVDTP_C, bytes.fromhex("0000000b0100"), "command")
    assert client.notification(AVDTP_C).hex() == "00000101"
    client.write(AVDTP_C, bytes.fromhex("0200") + bytes(16), "command")
    assert client.notification(AVDTP_C).hex() == "000001050300"


def test_hidden_device_appears_after_start_discovery(fake, client):
    fake.add_kettle(KETTLE_MAC, visible=False)
    path = device_path("hci0", KETTLE_MAC)
    assert dbus.ObjectPath(path) not in client.objects()
    assert fake.kettle_state(KETTLE_MAC)["visible"] is False
    client.pump(0.4)
    assert not [s for s in client.signals if s[2] == "InterfacesAdded"]
    start = time.monotonic()
    client.call("/org/bluez/hci0", "org.bluez.Adapter1", "StartDiscovery")
    client.wait(lambda s: s[2] == "InterfacesAdded" and s[3][0] == path, what="the device")
    assert 0.25 <= time.monotonic() - start < 2.0
    client.connect(KETTLE_MAC)
    assert fake.kettle_state(KETTLE_MAC)["connected"]

    # Adapter1.RemoveDevice: disconnected first, then the object goes; an advert brings it back.
    mark = client.mark()
    client.call("/org/bluez/hci0", "org.bluez.Adapter1", "RemoveDevice", "o", [dbus.ObjectPath(path)])
    client.wait(lambda s: s[2] == "InterfacesRemoved" and s[3][0] == path, what="device removed", since=mark)
    tail = client.signals[mark:]
    assert [s[3][1] for s in tail if s[2] == "PropertiesChanged" and s[0] == path] == [
        {"ServicesResolved": False}, {"Connected": False}]
    assert len([s for s in tail if s[2] == "InterfacesRemoved"]) == 12
    state = fake.kettle_state(KETTLE_MAC)
    assert not state["connected"] and not state["visible"]
    fake.kettle_advertise(KETTLE_MAC)
    assert dbus.ObjectPath(path) in client.objects()
    client.connect(KETTLE_MAC)
    assert fake.kettle_state(KETTLE_MAC)["connected"]


def test_restart_keeps_what_devices_remember(fake, client):
    fake.add_kettle(KETTLE_MAC)
    fake.add_std_sensor(SENSOR_MAC)
    client.connect(KETTLE_MAC)
    ok, _ = client.legacy_register(KETTLE_MAC, 131, TOKEN)
    assert ok
    client.write(LIMIT_C, bytes([7]))
    client.connect(SENSOR_MAC)
    result, _, token, bindkey = client.std_register()
    assert result.hex() == "11000000"
    fake.restart()
    assert fake.kettle_token(KETTLE_MAC) == TOKEN.hex()
    state = fake.kettle_state(KETTLE_MAC)
    assert state["time_limit_x2"] == 7 and not state["connected"]
    assert fake.sensor_keys(SENSOR_MAC) == {"token": token.hex(), "bindkey": bindkey.hex()}
    client2 = Client(fake.address)
    try:
        client2.connect(KETTLE_MAC)
        assert client2.legacy_login(TOKEN)
    finally:
        client2.close()
