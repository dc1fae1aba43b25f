"""`cloudless ble scan` against a fake bluetoothd (python-dbusmock's bluez5 template on a private bus
used as the system bus: fake_bluez.py), and `cloudless ble bindkey` against captures made here.

Scan vectors: docs/ble.md §3 — V3 (LYWSD03MMC, v3 clear text), V16 (LYWSD03MMC, v5 encrypted,
its real bind key in the config), V23 (MCCGQ02HL, v5 encrypted, no key configured) and V18 (CGDK2, v5
encrypted, configured with a wrong key).

Bind-key captures: the ble_monitor thread of docs/ble.md §S1 has no complete vector (its SSEC and
DATA are redacted), so the captures are made here by independent Python: the procedure of docs/ble.md §S1,
key = SHA-256(b64decode(ssecurity) ‖ b64decode(nonce)), RC4 with the first 1024 keystream bytes
dropped, using python3-cryptography's ARC4 (not OpenSSL through cloudless).
"""

import base64
import hashlib
import json
import os
import signal
import subprocess
import threading
import time
import urllib.parse

import pytest

import helpers

pytestmark = pytest.mark.usefixtures("cloudless_bin")

# ------------------------------------------------------------------------------------------------
# vectors (docs/ble.md §3)

V3_MAC = "A4:C1:38:B4:94:4C"  # V3: LYWSD03MMC, v3 clear text: T 27.2 °C, H 49.0 %
V3_FRAME = bytes.fromhex("50305b05034c94b438c1a40d10041001ea01")
V16_MAC = "A4:C1:38:02:83:F4"  # V16: LYWSD03MMC, v5 AES-CCM: humidity 46.7 %
V16_FRAME = bytes.fromhex("58585b0550f4830238c1a495ef58763c26000097e2abb5")
V16_KEY = "e9ea895fac7cca6d30532432a516f3a8"
V23_MAC = "E4:AA:EC:81:21:AE"  # V23: MCCGQ02HL door sensor, v5 AES-CCM; no key configured here
V23_FRAME = bytes.fromhex("58588b09a3ae2181ecaae40e2c553c040000d28a500c")
V18_MAC = "58:2D:34:12:20:89"  # V18: CGDK2, v5 AES-CCM; configured below with a WRONG key
V18_FRAME = bytes.fromhex("58586f0607892012342d585f176dd54f0200002fa453fa")
WRONG_KEY = "00112233445566778899aabbccddeeff"
UNHEARD_MAC = "11:22:33:44:55:66"


def _fake_bluez_problem():
    return helpers.fake_bluez_problem()


needs_fake_bluez = pytest.mark.skipif(_fake_bluez_problem() is not None, reason=str(_fake_bluez_problem()))


def cloudless(binary, *args, env=None, input=None, timeout=30):
    return subprocess.run([str(binary)] + [str(a) for a in args], input=input, capture_output=True, text=True,
                          timeout=timeout, env=env, stdin=None if input is not None else subprocess.DEVNULL)


def write_config(path, adapter="hci0", devices=None):
    if devices is None:
        devices = {
            "bedroom": {"protocol": "xiaomi_ble", "mac": V16_MAC, "bindkey": V16_KEY},
            "balcony": {"protocol": "xiaomi_ble", "mac": V18_MAC, "bindkey": WRONG_KEY},
            "cellar": {"protocol": "xiaomi_ble", "mac": UNHEARD_MAC},
        }
    config = {"mqtt": {"server": "mqtt://127.0.0.1:1"}, "devices": devices, "ble": {"adapter": adapter}}
    path.write_text(helpers.to_yaml(config))
    return path


@pytest.fixture
def fake(request, tmp_path):
    from fake_bluez import FakeBluez
    bluez = FakeBluez(tmp_path / "bus")
    request.addfinalizer(bluez.stop)
    return bluez


class Scan:
    """`cloudless ble scan` as a subprocess; stderr lines collected by a thread, so the test can wait
    for "discovering on" before it injects adverts."""

    def __init__(self, binary, env, *args):
        self.proc = subprocess.Popen([str(binary), "ble", "scan"] + [str(a) for a in args], env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.err_lines = []
        self._cond = threading.Condition()
        self._out = []
        self._reader = threading.Thread(target=self._read_err, daemon=True)
        self._reader.start()
        self._out_reader = threading.Thread(target=lambda: self._out.append(self.proc.stdout.read()), daemon=True)
        self._out_reader.start()

    def _read_err(self):
        for line in self.proc.stderr:
            with self._cond:
                self.err_lines.append(line)
                self._cond.notify_all()

    def wait_stderr(self, text, timeout=15.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(text in line for line in self.err_lines):
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError("no %r on stderr; got:\n%s" % (text, "".join(self.err_lines)))
                self._cond.wait(min(left, 0.2))

    def finish(self, timeout=30.0):
        try:
            self.proc.wait(timeout=timeout)
        finally:
            self.kill()
        self._reader.join(timeout=5)
        self._out_reader.join(timeout=5)
        return self.proc.returncode, "".join(self._out), "".join(self.err_lines)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


@pytest.fixture
def scans(request):
    started = []

    def start(binary, env, *args):
        scan = Scan(binary, env, *args)
        started.append(scan)
        return scan

    request.addfinalizer(lambda: [s.kill() for s in started])
    return start


def run_scan_with_adverts(cloudless_bin, fake, scans, config, *extra, seconds=4):
    """Adapter hci0 with the four sensors; V3 advertised before the scan (BlueZ' cached value), the
    others during discovery, twice each (repeats with the same counter count as adverts)."""
    fake.start()
    fake.add_adapter("hci0")
    for mac, name in ((V3_MAC, "LYWSD03MMC"), (V16_MAC, "LYWSD03MMC"), (V23_MAC, ""), (V18_MAC, "")):
        fake.add_device(mac, name=name)
    fake.advertise(V3_MAC, V3_FRAME, rssi=-70)
    scan = scans(cloudless_bin, fake.env(), "--seconds", seconds, "--config", config, *extra)
    scan.wait_stderr("discovering on hci0")
    for _ in range(2):
        fake.advertise(V3_MAC, V3_FRAME, rssi=-50)
        fake.advertise(V16_MAC, V16_FRAME, rssi=-60)
        fake.advertise(V23_MAC, V23_FRAME, rssi=-80)
        fake.advertise(V18_MAC, V18_FRAME, rssi=-90)
    return scan.finish()


# ------------------------------------------------------------------------------------------------
# ble scan


@needs_fake_bluez
def test_scan_json_decodes_clear_and_configured_encrypted_and_flags_the_rest(cloudless_bin, fake, scans, tmp_path):
    config = write_config(tmp_path / "config.yaml")
    rc, out, err = run_scan_with_adverts(cloudless_bin, fake, scans, config, "--json")
    assert rc == 0, err
    devices = {d["mac"]: d for d in json.loads(out)}
    assert set(devices) == {V3_MAC, V16_MAC, V23_MAC, V18_MAC}, out

    clear = devices[V3_MAC]
    assert clear["product_id"] == 0x055B and clear["model"] == "LYWSD03MMC"
    assert clear["encryption"] == "none" and clear["version"] == 3
    assert clear["values"] == {"temperature": 27.2, "humidity": 49.0}
    assert clear["adverts"] == 2 and clear["cached_adverts"] == 1
    assert clear["rssi"] == -50
    assert clear["configured_as"] is None

    decrypted = devices[V16_MAC]
    assert decrypted["encryption"] == "ccm" and decrypted["version"] == 5
    assert decrypted["decrypted"] is True
    assert decrypted["values"] == {"humidity": 46.7}
    assert decrypted["configured_as"] == "bedroom"
    assert decrypted["adverts"] == 2 and decrypted["rssi"] == -60
    assert "problem" not in decrypted

    no_key = devices[V23_MAC]
    assert no_key["product_id"] == 0x098B and no_key["model"] == "MCCGQ02HL"
    assert no_key["encryption"] == "ccm" and no_key["values"] == {}
    assert "needs a 32-hex-digit bindkey" in no_key["problem"]

    wrong_key = devices[V18_MAC]
    assert wrong_key["model"] == "CGDK2" and wrong_key["configured_as"] == "balcony"
    assert wrong_key["values"] == {} and wrong_key["decrypted"] is False
    assert "wrong bind key for %s" % V18_MAC in wrong_key["problem"]

    # strongest first
    assert [d["mac"] for d in json.loads(out)] == [V3_MAC, V16_MAC, V23_MAC, V18_MAC]
    assert "configured as cellar but not heard: %s" % UNHEARD_MAC in err
    assert "encrypted advertiser(s) without a bind key" in err


@needs_fake_bluez
def test_scan_table_has_one_line_per_advertiser(cloudless_bin, fake, scans, tmp_path):
    config = write_config(tmp_path / "config.yaml")
    rc, out, err = run_scan_with_adverts(cloudless_bin, fake, scans, config)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["MAC", "RSSI", "ADVERTS", "PRODUCT", "ENCRYPTED", "CONFIG", "VALUES"]
    assert len(lines) == 5, out
    rows = {line.split()[0]: line for line in lines[1:]}
    assert "0x055B LYWSD03MMC" in rows[V3_MAC] and "temperature=27.2°C humidity=49%" in rows[V3_MAC]
    assert "no (v3)" in rows[V3_MAC]
    assert "yes, v5 AES-CCM" in rows[V16_MAC] and "configured as bedroom" in rows[V16_MAC]
    assert "humidity=46.7%" in rows[V16_MAC]
    assert "0x098B MCCGQ02HL" in rows[V23_MAC] and "needs a 32-hex-digit bindkey" in rows[V23_MAC]
    assert "configured as balcony" in rows[V18_MAC] and "wrong bind key" in rows[V18_MAC]
    # columns line up: every row has its RSSI where the header has RSSI
    column = lines[0].index("RSSI")
    assert rows[V16_MAC][column:column + 3] == "-60"


@needs_fake_bluez
def test_scan_takes_the_adapter_from_the_config_and_ends_on_sigint(cloudless_bin, fake, scans, tmp_path):
    config = write_config(tmp_path / "config.yaml", adapter="hci1")
    fake.start()
    fake.add_adapter("hci1")
    fake.add_device(V3_MAC, adapter="hci1")
    scan = scans(cloudless_bin, fake.env(), "--seconds", 60, "--config", config, "--json")
    scan.wait_stderr("discovering on hci1")
    fake.advertise(V3_MAC, V3_FRAME, rssi=-40, adapter="hci1")
    # the advert is processed by the time it has crossed the bus; give it a moment, then Ctrl-C
    time.sleep(0.5)
    start = time.monotonic()
    scan.proc.send_signal(signal.SIGINT)
    rc, out, err = scan.finish(timeout=10)
    assert time.monotonic() - start < 5
    assert rc == 0, err
    (device,) = json.loads(out)
    assert device["mac"] == V3_MAC and device["values"]["temperature"] == 27.2
    # our discovery session was ended on the way out
    assert "StopDiscovery" in fake.adapter_calls("hci1")


@needs_fake_bluez
def test_scan_nothing_heard_says_so(cloudless_bin, fake, tmp_path):
    config = write_config(tmp_path / "config.yaml", devices={})
    fake.start()
    fake.add_adapter("hci0")
    out = cloudless(cloudless_bin, "ble", "scan", "--seconds", "1", "--config", config, env=fake.env())
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    assert "no Xiaomi BLE advertiser heard in 1 s on hci0" in out.stderr


@needs_fake_bluez
def test_scan_without_bluez_is_a_clear_error(cloudless_bin, fake, tmp_path):
    config = write_config(tmp_path / "config.yaml")
    fake.start(with_bluez=False)
    start = time.monotonic()
    out = cloudless(cloudless_bin, "ble", "scan", "--seconds", "20", "--config", config, env=fake.env())
    assert out.returncode == 1
    assert time.monotonic() - start < 10  # it does not wait for the scan time to pass
    assert "bluetoothd" in out.stderr and "systemctl start bluetooth" in out.stderr
    assert out.stdout == ""


@needs_fake_bluez
def test_scan_without_adapter_and_with_adapter_off(cloudless_bin, fake, tmp_path):
    config = write_config(tmp_path / "config.yaml")
    fake.start()
    fake.add_adapter("hci1")
    out = cloudless(cloudless_bin, "ble", "scan", "--seconds", "20", "--config", config, env=fake.env())
    assert out.returncode == 1
    assert "no Bluetooth adapter hci0" in out.stderr and "bluetoothctl list" in out.stderr
    out = cloudless(cloudless_bin, "ble", "scan", "--seconds", "20", "--adapter", "hci2", "--config", config,
                    env=fake.env())
    assert out.returncode == 1 and "no Bluetooth adapter hci2" in out.stderr

    fake.add_adapter("hci0", powered=False)
    out = cloudless(cloudless_bin, "ble", "scan", "--seconds", "20", "--config", config, env=fake.env())
    assert out.returncode == 1
    assert "hci0 is powered off" in out.stderr and "bluetoothctl power on" in out.stderr
    # we never switch it on ourselves
    assert not bool(fake.adapter_property("hci0", "Powered"))


def test_scan_without_system_bus_is_a_clear_error(cloudless_bin, tmp_path):
    config = write_config(tmp_path / "config.yaml")
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=%s" % (tmp_path / "no-bus-here"))
    out = cloudless(cloudless_bin, "ble", "scan", "--seconds", "20", "--config", config, env=env)
    assert out.returncode == 1
    assert "cannot reach the D-Bus system bus" in out.stderr


def test_scan_arguments_and_config_errors(cloudless_bin, tmp_path):
    out = cloudless(cloudless_bin, "ble", "scan", "--seconds", "0")
    assert out.returncode == 2 and "--seconds" in out.stderr
    out = cloudless(cloudless_bin, "ble", "scan", "--config", tmp_path / "missing.yaml")
    assert out.returncode == 78 and "missing.yaml" in out.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("devices:\n  x:\n    protocol: xiaomi_ble\n    mac: nonsense\n")
    out = cloudless(cloudless_bin, "ble", "scan", "--config", bad)
    assert out.returncode == 78 and "bad.yaml:4" in out.stderr
    out = cloudless(cloudless_bin, "ble", "scan", "--help")
    assert out.returncode == 0 and "Xiaomi BLE advertiser" in out.stdout and "--seconds" in out.stdout


# ------------------------------------------------------------------------------------------------
# ble bindkey

try:
    from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4  # cryptography >= 43
except ImportError:
    from cryptography.hazmat.primitives.ciphers.algorithms import ARC4  # Debian 12: 38.0
from cryptography.hazmat.primitives.ciphers import Cipher

BIND_KEY = "5c1e3a2b9d8f7e6a4b3c2d1e0f9a8b7c"
BIND_MAC = "A4:C1:38:8C:34:B7"
BIND_DID = "blt.3.1cloudless00"
SSECURITY = base64.b64encode(hashlib.sha256(b"h8 ssecurity").digest()[:16]).decode()
# 8 random bytes ‖ minutes since the epoch, big-endian (docs/ble.md §5.1); chosen so that its base64 has '+' and '/'
NONCE = base64.b64encode(bytes.fromhex("fbff3e1122334455") + (29_000_000).to_bytes(4, "big")).decode()
BLTBIND = json.dumps({"did": BIND_DID, "token": "20c665a7ff82a5bfb5eefc36", "pid": 1371,
                      "props": [{"type": "prop", "key": "bind_key", "value": BIND_KEY},
                                {"type": "prop", "key": "smac", "value": BIND_MAC}]}, separators=(",", ":"))


def rc4mi_encrypt(ssecurity_b64, nonce_b64, plaintext):
    """The procedure of docs/ble.md §S1, independently: RC4 keyed with SHA-256(ssecurity ‖ nonce), 1024 bytes dropped."""
    key = hashlib.sha256(base64.b64decode(ssecurity_b64) + base64.b64decode(nonce_b64)).digest()
    encryptor = Cipher(ARC4(key), mode=None).encryptor()
    encryptor.update(bytes(1024))
    return base64.b64encode(encryptor.update(plaintext.encode())).decode()


DATA = rc4mi_encrypt(SSECURITY, NONCE, BLTBIND)


def test_capture_vector_is_what_the_procedure_says():
    assert "+" in NONCE or "/" in NONCE  # so the URL-encoded variant below really encodes something
    key = hashlib.sha256(base64.b64decode(SSECURITY) + base64.b64decode(NONCE)).digest()
    decryptor = Cipher(ARC4(key), mode=None).decryptor()
    decryptor.update(bytes(1024))
    assert json.loads(decryptor.update(base64.b64decode(DATA)))["props"][0]["value"] == BIND_KEY


def test_bindkey_prints_key_device_and_a_config_snippet_that_loads(cloudless_bin, tmp_path):
    out = cloudless(cloudless_bin, "ble", "bindkey", "--ssecurity", SSECURITY, "--nonce", NONCE, "--data", DATA,
                    "--config", write_config(tmp_path / "c.yaml", devices={}))
    assert out.returncode == 0, out.stderr
    assert "bind key: %s" % BIND_KEY in out.stdout
    assert "did %s" % BIND_DID in out.stdout and "MAC %s" % BIND_MAC in out.stdout
    assert "product id 1371 (LYWSD03MMC" in out.stdout
    # the snippet, pasted under `devices:` as it is, is a config the loader accepts
    snippet = out.stdout.split("for the config (devices:):\n", 1)[1]
    assert snippet.splitlines() == ["    lywsd03mmc_34b7:", "      protocol: xiaomi_ble", "      mac: " + BIND_MAC,
                                    "      bindkey: " + BIND_KEY]
    config = tmp_path / "config.yaml"
    config.write_text("mqtt:\n  server: mqtt://127.0.0.1:1\ndevices:\n" + snippet + "ble:\n  adapter: hci0\n")
    check = cloudless(cloudless_bin, "check-config", "--config", config)
    assert check.returncode == 0, check.stderr
    assert "(1 device(s))" in check.stdout


def test_bindkey_accepts_url_encoded_values_form_bodies_files_and_stdin(cloudless_bin, tmp_path):
    quoted = [urllib.parse.quote(v, safe="") for v in (SSECURITY, NONCE, DATA)]
    assert any("%2B" in q or "%2F" in q or "%3D" in q for q in quoted)
    out = cloudless(cloudless_bin, "ble", "bindkey", "--ssecurity", quoted[0], "--nonce", quoted[1], "--data",
                    quoted[2], "--config", write_config(tmp_path / "c.yaml", devices={}))
    assert out.returncode == 0, out.stderr
    assert "bind key: %s" % BIND_KEY in out.stdout

    # the whole form body as a proxy shows it, _nonce taken from it
    body = "data=%s&rc4_hash__=abc%%3D&signature=xyz&_nonce=%s&ssecurity=%s" % (quoted[2], quoted[1], quoted[0])
    (tmp_path / "body.txt").write_text(body + "\n")
    out = cloudless(cloudless_bin, "ble", "bindkey", "--ssecurity", SSECURITY, "--data", "@%s" % (tmp_path / "body.txt"))
    assert out.returncode == 0, out.stderr
    assert "bind key: %s" % BIND_KEY in out.stdout

    out = cloudless(cloudless_bin, "ble", "bindkey", "--ssecurity", SSECURITY, "--nonce", NONCE, "--data", "@-",
                    input=DATA + "\n")
    assert out.returncode == 0, out.stderr
    assert "bind key: %s" % BIND_KEY in out.stdout


def test_bindkey_says_when_the_sensor_is_configured(cloudless_bin, tmp_path):
    config = write_config(tmp_path / "config.yaml",
                          devices={"kitchen": {"protocol": "xiaomi_ble", "mac": BIND_MAC.lower()}})
    out = cloudless(cloudless_bin, "ble", "bindkey", "--ssecurity", SSECURITY, "--nonce", NONCE, "--data", DATA,
                    "--config", config)
    assert out.returncode == 0, out.stderr
    assert "configured as kitchen, with another key or none" in out.stdout
    assert "\n    kitchen:\n" in out.stdout


def test_bindkey_wrong_ssecurity_is_a_decryption_failure(cloudless_bin):
    other = base64.b64encode(hashlib.sha256(b"another login session").digest()[:16]).decode()
    out = cloudless(cloudless_bin, "ble", "bindkey", "--ssecurity", other, "--nonce", NONCE, "--data", DATA)
    assert out.returncode == 1
    assert out.stderr.startswith("cloudless: decryption failed: ")
    assert "same login session" in out.stderr
    assert BIND_KEY not in out.stdout + out.stderr


def test_bindkey_bad_input_is_a_usage_error(cloudless_bin, tmp_path):
    out = cloudless(cloudless_bin, "ble", "bindkey", "--ssecurity", SSECURITY, "--nonce", NONCE, "--data", "not*base64!")
    assert out.returncode == 2
    assert "data" in out.stderr
    out = cloudless(cloudless_bin, "ble", "bindkey", "--ssecurity", "%ZZ", "--nonce", NONCE, "--data", DATA)
    assert out.returncode == 2
    out = cloudless(cloudless_bin, "ble", "bindkey", "--ssecurity", SSECURITY, "--nonce", NONCE,
                    "--data", "@%s" % (tmp_path / "missing.txt"))
    assert out.returncode == 2 and "cannot read" in out.stderr
    out = cloudless(cloudless_bin, "ble", "bindkey", "--nonce", NONCE, "--data", DATA)
    assert out.returncode == 2 and "--ssecurity" in out.stderr


def test_bindkey_decrypted_text_without_a_key(cloudless_bin):
    data = rc4mi_encrypt(SSECURITY, NONCE, json.dumps({"code": 0, "message": "ok", "result": {}}))
    out = cloudless(cloudless_bin, "ble", "bindkey", "--ssecurity", SSECURITY, "--nonce", NONCE, "--data", data)
    assert out.returncode == 1
    assert "holds no bind key" in out.stderr and '"message": "ok"' in out.stderr
