"""`cloudless keys xiaomi` against a fake Xiaomi cloud on one loopback HTTPS server (tests/sim/fake_https.py):
the account server's QR login (loginUrl, long poll, STS setting serviceToken) and the regions' API servers
under /<region>/app (the binary's hidden --api-base with "{region}").

The fake cloud checks every API call with its own Python implementation of the request crypto
(docs/xiaomi_cloud.md §3: hashlib for SHA-256/SHA-1, python3-cryptography's ARC4 with 1024 keystream bytes
dropped), itself checked against the synthetic vectors of that section first: the nonce's minute, the
rc4_hash__ over the decrypted data, the signature over the encrypted parameters, the cookies and
headers. It answers encrypted with the key of the request's own nonce. Every problem it finds is kept in
`cloud.problems`, which each test expects empty. No test ever contacts a real cloud.
"""

import base64
import hashlib
import http.server
import json
import os
import stat
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from cryptography.hazmat.primitives.ciphers import Cipher

try:  # python3-cryptography 38 (Debian 12) still has ARC4 in algorithms; later releases moved it
    from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
except ImportError:
    from cryptography.hazmat.primitives.ciphers.algorithms import ARC4

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sim"))
from fake_https import serve_https  # noqa: E402

pytestmark = pytest.mark.usefixtures("cloudless_bin")

SSECURITY = "AAECAwQFBgcICQoLDA0ODw=="  # docs/xiaomi_cloud.md §3: bytes 00..0f
USER_ID = 1234567890
SHARED_OWNER = 5550001
SERVICE_TOKEN = "ST-fake-service-token-1f2e3d"
PASS_TOKEN = "PT-fake-pass-token-9a8b"

PLUG_TOKEN = "0123456789abcdef0123456789abcdef"
SHARED_PLUG_TOKEN = "fedcba9876543210fedcba9876543210"
SENSOR_KEY = "5c1e3a2b9d8f7e6a4b3c2d1e0f9a8b7c"

OWN_DEVICES = [
    {"did": "100001", "name": "Desk plug", "model": "chuangmi.plug.v3", "mac": "44:23:7C:11:22:33",
     "localip": "192.168.1.20", "token": PLUG_TOKEN, "pid": 0},
    {"did": "blt.3.1abcdef00", "name": "Bedroom sensor", "model": "miaomiaoce.sensor_ht.t2",
     "mac": "A4:C1:38:8C:34:B7", "localip": "", "token": "", "pid": 6},
    {"did": "blt.3.kettle0001", "name": "Kettle", "model": "yunmi.kettle.v2", "mac": "F8:24:41:C5:98:8B",
     "localip": "", "token": "", "pid": 6},
]
SHARED_DEVICES = [
    {"did": "100002", "name": "Guest plug", "model": "chuangmi.plug.m1", "mac": "28:6C:07:44:55:66",
     "localip": "192.168.1.21", "token": SHARED_PLUG_TOKEN, "pid": 0},
]
BEACON_KEYS = {"blt.3.1abcdef00": SENSOR_KEY}  # the kettle's is refused (code -1): a warning, not a failure


# ------------------------------------------------------------------------------------------------
# the request crypto, written independently of cloudless


def rc4_drop1024(key, data):
    encryptor = Cipher(ARC4(key), mode=None).encryptor()
    encryptor.update(bytes(1024))
    return encryptor.update(data)


def signed_nonce(nonce):
    return base64.b64encode(hashlib.sha256(base64.b64decode(SSECURITY) + base64.b64decode(nonce)).digest()).decode()


def sha1_b64(text):
    return base64.b64encode(hashlib.sha1(text.encode()).digest()).decode()


def enc(key_b64, text):
    return base64.b64encode(rc4_drop1024(base64.b64decode(key_b64), text.encode())).decode()


def dec(key_b64, text_b64):
    return rc4_drop1024(base64.b64decode(key_b64), base64.b64decode(text_b64)).decode()


def test_python_crypto_matches_the_documented_vectors():
    """docs/xiaomi_cloud.md §3: if this fails, the fake cloud's checks below mean nothing."""
    nonce = "AQIDBAUGBwgBuoFA"
    key = signed_nonce(nonce)
    assert key == "OvTYd+kPHbQ1ydSQk+BfzPRIb6HFRVhbboouPVPgNro="
    path, data = "/v2/device/blt_get_beaconkey", '{"did":"blt.3.abcdef","pdid":1}'
    rc4_hash = sha1_b64("POST&%s&data=%s&%s" % (path, data, key))
    assert rc4_hash == "so2sskOg/Z2mKUuyNcONhzvg7xM="
    assert enc(key, data) == "JERjVv7k2qwBH7hb+/a+KXnkZic81FthUmPmhHI2rg=="
    assert enc(key, rc4_hash) == "LAk1TOmtr+lMKf4Yg42qMlTjTA92gg92AXLPmw=="
    signature = sha1_b64("POST&%s&data=%s&rc4_hash__=%s&%s" % (path, enc(key, data), enc(key, rc4_hash), key))
    assert signature == "E87sqWLUkV5+MBJfUQNYvv/kZgI="
    assert json.loads(dec(key, "JERkUP6jwrRTX+4YrausKn3lIXs8lxIzGijwwztyv0J/w9bVrTO4csVPa3PdWYRIHxhoUUDC8FU5qpG8eWi"
                               "Xt25cj4K5p3ULeOxyDbWAmVYCP6g=")) == {
        "code": 0, "message": "ok", "result": {"beaconkey": "00112233445566778899aabbccddeeff"}}


# ------------------------------------------------------------------------------------------------
# the fake cloud


class FakeXiaomiCloud:
    """What the account server and the API servers do; the options select the failure cases."""

    def __init__(self):
        self.url = None
        self.problems = []         # anything the client did wrong
        self.api_calls = []        # (region, path, data dict)
        self.lp_requests = 0
        self.lp_mode = "confirm"   # "confirm", "not_yet_once" (HTTP 408 first), "hang"
        self.sts_sets_token = True
        self.offer_timeout = 30
        self.failing_regions = {"ru"}  # HTTP 500 for every call
        self.refusing_regions = set()  # code -8 for every call
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def problem(self, text):
        with self.lock:
            self.problems.append(text)

    # -- account server

    def login_url(self, query):
        for name, value in (("sid", "xiaomiio"), ("_qrsize", "480"), ("qs", "?sid=xiaomiio&_json=true"),
                            ("callback", "https://sts.api.io.mi.com/sts"), ("_locale", "en_GB")):
            if query.get(name) != value:
                self.problem("loginUrl: %s=%r" % (name, query.get(name)))
        if not query.get("_dc", "").isdigit():
            self.problem("loginUrl: _dc not a number")
        body = {"qr": self.url + "/qr.png", "loginUrl": self.url + "/login/qr?ticket=t1", "lp": self.url + "/lp/t1",
                "timeout": self.offer_timeout, "code": 0}
        return 200, {}, "&&&START&&&" + json.dumps(body)

    def long_poll(self):
        with self.lock:
            self.lp_requests += 1
            first = self.lp_requests == 1
        if self.lp_mode == "hang":
            self.stop.wait(30)
            return 408, {}, ""
        if self.lp_mode == "not_yet_once" and first:
            return 408, {}, ""
        body = {"code": 0, "userId": USER_ID, "ssecurity": SSECURITY, "cUserId": "cU-1", "passToken": PASS_TOKEN,
                "location": self.url + "/sts?d=wb_1&auth=abc"}
        return 200, {}, "&&&START&&&" + json.dumps(body)

    def sts(self):
        cookies = ["userId=%d; Domain=127.0.0.1; Path=/" % USER_ID]
        if self.sts_sets_token:
            cookies.append("serviceToken=%s; Domain=127.0.0.1; Path=/; HttpOnly" % SERVICE_TOKEN)
        return 302, {"Location": self.url + "/done", "Set-Cookie": cookies}, ""

    # -- API servers

    def api(self, region, api_path, query, headers):
        names = [name for name, _ in query]
        if names != ["data", "rc4_hash__", "signature", "ssecurity", "_nonce"]:
            self.problem("%s: parameters %r" % (api_path, names))
            return 400, {}, "bad parameters"
        params = dict(query)
        cookie = headers.get("Cookie", "")
        for expected in ("userId=%d" % USER_ID, "serviceToken=%s" % SERVICE_TOKEN,
                         "yetAnotherServiceToken=%s" % SERVICE_TOKEN):
            if expected not in cookie.split("; "):
                self.problem("%s: cookie %s missing" % (api_path, expected.split("=")[0]))
        if headers.get("MIOT-ENCRYPT-ALGORITHM") != "ENCRYPT-RC4":
            self.problem("%s: MIOT-ENCRYPT-ALGORITHM header" % api_path)
        if params["ssecurity"] != SSECURITY:
            self.problem("%s: ssecurity param" % api_path)
        nonce = base64.b64decode(params["_nonce"])
        minute = int.from_bytes(nonce[8:], "big")
        if len(nonce) != 12 or abs(minute - int(time.time() // 60)) > 2:
            self.problem("%s: nonce %r" % (api_path, params["_nonce"]))
        key = signed_nonce(params["_nonce"])
        expected_signature = sha1_b64("POST&%s&data=%s&rc4_hash__=%s&%s" % (api_path, params["data"],
                                                                           params["rc4_hash__"], key))
        if params["signature"] != expected_signature:
            self.problem("%s: signature" % api_path)
        data_text = dec(key, params["data"])
        if dec(key, params["rc4_hash__"]) != sha1_b64("POST&%s&data=%s&%s" % (api_path, data_text, key)):
            self.problem("%s: rc4_hash__" % api_path)
        data = json.loads(data_text)
        with self.lock:
            self.api_calls.append((region, api_path, data))
        if region in self.failing_regions:
            return 500, {}, "internal error"
        if region in self.refusing_regions:
            reply = {"code": -8, "message": "auth err"}
        else:
            reply = self.api_result(region, api_path, data)
        return 200, {}, enc(key, json.dumps(reply))

    def api_result(self, region, api_path, data):
        ok = lambda result: {"code": 0, "message": "ok", "result": result}  # noqa: E731
        has_homes = region == "de"
        if api_path == "/v2/homeroom/gethome":
            return ok({"homelist": [{"id": "1001", "name": "Flat", "uid": USER_ID}] if has_homes else []})
        if api_path == "/v2/user/get_device_cnt":
            share = [{"home_id": 2002, "home_owner": SHARED_OWNER}] if has_homes else []
            return ok({"share": {"share_family": share}})
        if api_path == "/v2/home/home_device_list":
            homes = {(USER_ID, 1001): OWN_DEVICES, (SHARED_OWNER, 2002): SHARED_DEVICES}
            key = (data.get("home_owner"), data.get("home_id"))
            if key not in homes:
                self.problem("home_device_list for an unknown home %r" % (key,))
            return ok({"device_info": homes.get(key, []), "has_more": False})
        if api_path == "/v2/device/blt_get_beaconkey":
            if data.get("pdid") != 1 or "blt" not in data.get("did", ""):
                self.problem("blt_get_beaconkey data %r" % data)
            if data["did"] in BEACON_KEYS:
                return ok({"beaconkey": BEACON_KEYS[data["did"]]})
            return {"code": -1, "message": "no key"}
        self.problem("unknown API path %s" % api_path)
        return {"code": -2, "message": "unknown"}


def make_handler(cloud):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, headers, body):
            payload = body.encode()
            self.send_response(status)
            for name, value in headers.items():
                for one in (value if isinstance(value, list) else [value]):
                    self.send_header(name, one)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)

        def route(self, method):
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if method == "GET" and url.path == "/longPolling/loginUrl":
                return self.answer(*cloud.login_url(dict(query)))
            if method == "GET" and url.path == "/lp/t1":
                return self.answer(*cloud.long_poll())
            if method == "GET" and url.path == "/sts":
                return self.answer(*cloud.sts())
            parts = url.path.split("/", 3)  # "", region, "app", rest
            if method == "POST" and len(parts) == 4 and parts[2] == "app":
                return self.answer(*cloud.api(parts[1], "/" + parts[3], query, self.headers))
            cloud.problem("unexpected %s %s" % (method, url.path))
            return self.answer(404, {}, "not found")

        def do_GET(self):
            self.route("GET")

        def do_POST(self):
            self.route("POST")

    return Handler


@pytest.fixture
def cloud(tmp_path):
    fake = FakeXiaomiCloud()
    server = serve_https(make_handler(fake), tmp_path)
    fake.url = server.url
    fake.ca_file = server.ca_file
    yield fake
    fake.stop.set()
    server.close()


def keys_xiaomi(cloudless_bin, cloud, *args, ca=True, login_timeout=20, timeout=60):
    command = [str(cloudless_bin), "keys", "xiaomi", "--account-base", cloud.url,
               "--api-base", cloud.url + "/{region}/app", "--login-timeout", str(login_timeout), "--timeout", "5"]
    if ca:
        command += ["--ca-file", cloud.ca_file]
    return subprocess.run(command + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)


def last_line(text):
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def assert_no_secrets_logged(result):
    for secret in (SSECURITY, SERVICE_TOKEN, PASS_TOKEN):
        assert secret not in result.stderr and secret not in result.stdout


# ------------------------------------------------------------------------------------------------
# cases


def test_every_home_and_region_listed_with_tokens_and_bind_keys(cloudless_bin, cloud):
    cloud.lp_mode = "not_yet_once"  # the first long poll is a "not yet": asked again
    out = keys_xiaomi(cloudless_bin, cloud, "--region", "all")
    assert out.returncode == 0, out.stderr
    assert cloud.problems == []
    assert cloud.lp_requests == 2
    # QR code (half blocks) and the link on stderr, the result on stdout
    assert cloud.url + "/login/qr?ticket=t1" in out.stderr
    assert "\u2588" in out.stderr and ("\u2584" in out.stderr or "\u2580" in out.stderr)
    assert "region ru: failed" in out.stderr and "500" in out.stderr
    assert "region de: 4 devices" in out.stderr
    assert "region cn: 0 devices" in out.stderr
    assert "no bind key for blt.3.kettle0001" in out.stderr
    for text in ("Desk plug", PLUG_TOKEN, "Guest plug", SHARED_PLUG_TOKEN, "Bedroom sensor", SENSOR_KEY,
                 "A4:C1:38:8C:34:B7", "192.168.1.20", "yunmi.kettle.v2", "chuangmi.plug.m1"):
        assert text in out.stdout
    assert_no_secrets_logged(out)
    # both homes asked, the beacon key asked only for BLE devices, every region tried
    asked_homes = {(d["home_owner"], d["home_id"]) for r, p, d in cloud.api_calls if p == "/v2/home/home_device_list"}
    assert asked_homes == {(USER_ID, 1001), (SHARED_OWNER, 2002)}
    key_dids = sorted(d["did"] for r, p, d in cloud.api_calls if p == "/v2/device/blt_get_beaconkey")
    assert key_dids == ["blt.3.1abcdef00", "blt.3.kettle0001"]
    assert {r for r, p, d in cloud.api_calls} == {"cn", "de", "us", "ru", "tw", "sg", "in", "i2"}


def test_yaml_is_a_devices_block_check_config_accepts(cloudless_bin, cloud, tmp_path):
    out = keys_xiaomi(cloudless_bin, cloud, "--region", "de", "--yaml")
    assert out.returncode == 0, out.stderr
    assert cloud.problems == []
    assert out.stdout.startswith("devices:") or "\ndevices:" in out.stdout
    assert PLUG_TOKEN in out.stdout and SENSOR_KEY in out.stdout
    config = tmp_path / "config.yaml"
    config.write_text("mqtt:\n  server: mqtt://127.0.0.1:1\nble:\n  adapter: hci0\n" + out.stdout)
    check = subprocess.run([str(cloudless_bin), "check-config", "--config", str(config)], capture_output=True,
                           text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr


def test_output_file_is_written_0600_and_nothing_printed(cloudless_bin, cloud, tmp_path):
    target = tmp_path / "keys.yaml"
    out = keys_xiaomi(cloudless_bin, cloud, "--region", "de", "--yaml", "--output", target)
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    text = target.read_text()
    assert PLUG_TOKEN in text and SENSOR_KEY in text
    assert PLUG_TOKEN not in out.stdout and SENSOR_KEY not in out.stdout
    assert str(target) in out.stderr


def test_qr_not_confirmed_in_time_is_one_clear_line(cloudless_bin, cloud, tmp_path):
    cloud.lp_mode = "hang"
    target = tmp_path / "keys.yaml"
    started = time.monotonic()
    out = keys_xiaomi(cloudless_bin, cloud, "--output", target, login_timeout=2)
    assert out.returncode == 1
    assert time.monotonic() - started < 15
    assert last_line(out.stderr).startswith("cloudless: keys xiaomi: QR code not scanned and confirmed within 2 s")
    assert not target.exists()
    assert cloud.api_calls == []


def test_offer_timeout_of_the_cloud_is_respected(cloudless_bin, cloud):
    cloud.lp_mode = "hang"
    cloud.offer_timeout = 1
    out = keys_xiaomi(cloudless_bin, cloud, login_timeout=0)
    assert out.returncode == 1
    assert "within 1 s" in last_line(out.stderr)


def test_missing_service_token_fails_before_any_api_call(cloudless_bin, cloud, tmp_path):
    cloud.sts_sets_token = False
    target = tmp_path / "keys.yaml"
    out = keys_xiaomi(cloudless_bin, cloud, "--output", target)
    assert out.returncode == 1
    assert "serviceToken" in last_line(out.stderr)
    assert last_line(out.stderr).startswith("cloudless: keys xiaomi: ")
    assert not target.exists()
    assert cloud.api_calls == []


def test_code_not_zero_in_every_region_fails_with_the_cloud_words(cloudless_bin, cloud, tmp_path):
    cloud.refusing_regions = {"cn", "de", "us", "tw", "sg", "in", "i2"}  # and ru fails with HTTP 500
    target = tmp_path / "keys.yaml"
    out = keys_xiaomi(cloudless_bin, cloud, "--output", target)
    assert out.returncode == 1
    line = last_line(out.stderr)
    assert line.startswith("cloudless: keys xiaomi: no region answered")
    assert cloud.problems == []
    assert "code -8: auth err" in out.stderr
    assert not target.exists()


def test_one_region_refusing_is_the_error(cloudless_bin, cloud):
    cloud.refusing_regions = {"de"}
    out = keys_xiaomi(cloudless_bin, cloud, "--region", "de")
    assert out.returncode == 1
    assert last_line(out.stderr) == ("cloudless: keys xiaomi: de: /v2/homeroom/gethome: the cloud refused the call "
                                     "(code -8: auth err)")


def test_certificate_not_trusted_without_ca_file(cloudless_bin, cloud, tmp_path):
    target = tmp_path / "keys.yaml"
    out = keys_xiaomi(cloudless_bin, cloud, "--output", target, ca=False)
    assert out.returncode == 1
    assert last_line(out.stderr).startswith("cloudless: keys xiaomi: ")
    assert not target.exists()
    assert cloud.lp_requests == 0


@pytest.mark.parametrize("option,value", [
    ("--account-base", "https://account.xiaomi.com"),
    ("--account-base", "https://10.1.2.3:8443"),
    ("--api-base", "https://evil.example/{region}/app"),
    ("--api-base", "http://127.0.0.1:1/{region}/app"),
])
def test_non_loopback_base_is_refused_before_anything(cloudless_bin, tmp_path, option, value):
    target = tmp_path / "keys.yaml"
    out = subprocess.run([str(cloudless_bin), "keys", "xiaomi", option, value, "--output", str(target)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert last_line(out.stderr).startswith("cloudless: keys xiaomi: " + option)
    assert not target.exists()


def test_output_in_a_missing_folder_is_refused_before_the_login(cloudless_bin, cloud, tmp_path):
    out = keys_xiaomi(cloudless_bin, cloud, "--output", tmp_path / "missing" / "keys.yaml")
    assert out.returncode == 2
    assert last_line(out.stderr).startswith("cloudless: keys xiaomi: --output: no such directory")
    assert cloud.lp_requests == 0


def test_bad_region_is_a_usage_error(cloudless_bin):
    out = subprocess.run([str(cloudless_bin), "keys", "xiaomi", "--region", "eu"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 2
    assert "--region" in last_line(out.stderr)
