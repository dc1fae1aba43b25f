"""`cloudless keys midea` against a fake SmartHome (MSmartHome) cloud on loopback HTTPS
(tests/sim/fake_https.py, a throw-away certificate passed with --ca-file) and simulated V3 units
(tests/sim/midea_ac_sim.py) on 127.a.b.c addresses. No real cloud is ever contacted: every run passes
the hidden --cloud-base https://127.0.0.1:PORT.

The fake cloud checks what the real one was seen to check (docs/midea_cloud.md): the HMAC-SHA256 `sign`
header over the exact body and the `random` header (computed here with Python's hmac, independently of
the binary), the login id and both password proofs, the access token on getToken, and
`applianceCodes` (3004 without it, 3201 for a unit the account does not own). Exit codes: 0 every unit
got a pair, 1 runtime failure, 2 usage. SKIPPED with the reason when the binary is missing.
"""

import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

import pytest

import helpers

sys.path.insert(0, str(helpers.TESTS_DIR / "sim"))
from fake_https import serve_https  # noqa: E402

pytestmark = pytest.mark.usefixtures("cloudless_bin")

TIMEOUT = 60  # bound of every CLI run (s)
APP_KEY = "ac21b9f9cbfe4ca5a88562ef25e2b768"
IOT_KEY = "meicloud"
HMAC_KEY = "PROD_VnoClJI9aikS8dyy"
ACCOUNT = "owner@example.com"
PASSWORD = "s3cret pass!"
LOGIN_ID = "lid-5a6b7c"
ACCESS_TOKEN = "AT-9f8e7d"


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


class FakeCloud:
    """What the fake SmartHome cloud knows and saw. `owned`: appliance id → (token, key) for the udpid
    `udpids[id]`; any other udpid of an owned unit gets `decoy` (a pair the unit refuses). `mode`:
    "ok", "hang" (answers nothing for 30 s), "garbage" (HTML instead of JSON), "http500"."""

    def __init__(self):
        self.owned = {}
        self.udpids = {}
        self.decoy = ("d" * 128, "e" * 64)
        self.mode = "ok"
        self.requests = []  # (alias, body dict, headers dict)
        self.problems = []  # what the binary sent wrong
        self.lock = threading.Lock()

    def aliases(self):
        return [alias for alias, _, _ in self.requests]

    def answer(self, alias, body, headers):
        if alias == "/v1/user/login/id/get":
            if body.get("loginAccount") != ACCOUNT:
                return {"code": "3102", "msg": "account does not exist"}  # an arbitrary refusal code
            return {"code": "0", "msg": "ok", "data": {"loginId": LOGIN_ID}}
        if alias == "/mj/user/login":
            iot = body.get("iotData", {})
            want_password = sha(LOGIN_ID + sha(PASSWORD) + APP_KEY)
            want_iam = sha(LOGIN_ID + md5(md5(PASSWORD)) + APP_KEY)
            if iot.get("password") != want_password or iot.get("iampwd") != want_iam:
                return {"code": 3106, "msg": "password error"}  # a number here: both forms occur
            if body.get("data", {}).get("appKey") != APP_KEY or iot.get("appId") != "1010":
                self.problems.append("login without the app's identity: %r" % body)
            return {"code": "0", "msg": "ok",
                    "data": {"uid": "u-1", "mdata": {"accessToken": ACCESS_TOKEN}, "accessToken": "x"}}
        if alias == "/v1/iot/secure/getToken":
            if headers.get("accesstoken") != ACCESS_TOKEN:
                return {"code": "3106", "msg": "invalid access token"}
            if "applianceCodes" not in body:
                return {"code": "3004", "msg": "value is illegal."}
            appliance = int(body["applianceCodes"])
            if appliance not in self.owned:
                return {"code": "3201", "msg": "You have no permissions"}
            udpid = body.get("udpid", "")
            token, key = self.owned[appliance] if udpid == self.udpids[appliance] else self.decoy
            return {"code": "0", "msg": "ok", "data": {"tokenlist": [
                {"udpId": "00" * 16, "token": "a" * 128, "key": "b" * 64},  # another unit's entry
                {"udpId": udpid.upper(), "token": token.upper(), "key": key}]}}
        return {"code": "1", "msg": "unknown alias %s" % alias}

    def handler(self):
        cloud = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                path, _, query = self.path.partition("?")
                alias = urllib.parse.parse_qs(query).get("alias", [""])[0]
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                with cloud.lock:
                    cloud.requests.append((alias, body, headers))
                    if path != "/mas/v5/app/proxy":
                        cloud.problems.append("path %s" % self.path)
                    want = hmac.new(HMAC_KEY.encode(), IOT_KEY.encode() + raw + headers.get("random", "").encode(),
                                    hashlib.sha256).hexdigest()
                    if headers.get("sign") != want or len(headers.get("random", "")) < 16:
                        cloud.problems.append("bad sign on %s" % alias)
                    if PASSWORD.encode() in raw:
                        cloud.problems.append("the password itself was sent")
                    mode = cloud.mode
                if mode == "hang":
                    time.sleep(30)
                    return
                if mode == "garbage":
                    payload, status = b"<html>gateway</html>", 200
                elif mode == "http500":
                    payload, status = b"{}", 500
                else:
                    payload, status = json.dumps(cloud.answer(alias, body, headers)).encode(), 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


@pytest.fixture
def cloud(tmp_path):
    fake = FakeCloud()
    cert_dir = tmp_path / "cloud"
    cert_dir.mkdir()
    server = serve_https(fake.handler(), cert_dir)
    fake.server = server
    yield fake
    server.close()
    assert not fake.problems, fake.problems


@pytest.fixture
def v3_ac(midea_simulator):
    sim = midea_simulator([helpers.make_ac("v3_ac")])
    return sim, sim.ac("v3_ac")


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n")
    return path


def run(cloudless_bin, *args, stdin=""):
    return subprocess.run([str(cloudless_bin)] + [str(a) for a in args], input=stdin, capture_output=True,
                          text=True, timeout=TIMEOUT)


def keys_args(cloud, password_file, out_dir, *extra, account=ACCOUNT, timeout=2):
    return ["keys", "midea", "--account", account, "--password-file", password_file, "--output-dir", out_dir,
            "--cloud-base", cloud.server.url, "--ca-file", cloud.server.ca_file, "--timeout", timeout, *extra]


def unit_args(ac):
    out = ["--host", ac["address"]]
    for port in ac["discovery_ports"]:
        out += ["--discovery-port", port]
    return out


def written(out_dir):
    return sorted(p.name for p in out_dir.iterdir()) if out_dir.exists() else []


def assert_no_secret(res, *secrets):
    for secret in (PASSWORD,) + secrets:
        assert secret.lower() not in (res.stdout + res.stderr).lower(), "a secret was printed"


def one_error_line(res):
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, res.stderr
    return lines[0]


# ------------------------------------------------------------------------------------------------


def test_pair_is_fetched_proved_by_handshake_and_written_0600(cloudless_bin, cloud, v3_ac, password_file, tmp_path):
    sim, ac = v3_ac
    cloud.owned[ac["id"]] = (ac["token"], ac["key"])
    cloud.udpids[ac["id"]] = ac["udpid"]
    out = tmp_path / "keys"
    res = run(cloudless_bin, *keys_args(cloud, password_file, out, *unit_args(ac)))
    assert res.returncode == 0, res
    assert "ok (handshake proved the pair)" in res.stdout, res.stdout
    assert "id=%d" % ac["id"] in res.stdout and "udpid=%s" % ac["udpid"] in res.stdout
    token_path, key_path = out / ("midea_%d.token" % ac["id"]), out / ("midea_%d.key" % ac["id"])
    assert token_path.read_text().strip() == ac["token"].lower()
    assert key_path.read_text().strip() == ac["key"].lower()
    for path in (token_path, key_path):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # the config lines point at the files
    assert "token_file: %s" % token_path in res.stdout and "key_file: %s" % key_path in res.stdout
    assert "protocol: midea" in res.stdout and "id: %d" % ac["id"] in res.stdout
    assert_no_secret(res, ac["token"], ac["key"], ACCESS_TOKEN)
    # the conversation: login id, login, one getToken with the discovered udpid and the decimal id
    assert cloud.aliases() == ["/v1/user/login/id/get", "/mj/user/login", "/v1/iot/secure/getToken"]
    get_token = cloud.requests[2][1]
    assert get_token["udpid"] == ac["udpid"] and get_token["applianceCodes"] == str(ac["id"])
    assert sim.log("v3_ac", kind="handshake_ok"), "the pair was not tried at the unit"

    # a second run finds the same pair: unchanged, still exit 0; the password may come on stdin
    res = run(cloudless_bin, *keys_args(cloud, "-", out, *unit_args(ac)), stdin=PASSWORD + "\n")
    assert res.returncode == 0, res
    assert "files unchanged" in res.stdout


def test_no_permission_3201_says_so_and_writes_nothing(cloudless_bin, cloud, v3_ac, password_file, tmp_path):
    _, ac = v3_ac
    out = tmp_path / "keys"
    res = run(cloudless_bin, *keys_args(cloud, password_file, out, *unit_args(ac)))
    assert res.returncode == 1, res
    line = one_error_line(res)
    assert "no permission" in line and "3201" in line and str(ac["id"]) in line, line
    assert written(out) == []
    # 3201 is about the account: the other udpid is not asked for
    assert cloud.aliases().count("/v1/iot/secure/getToken") == 1


def test_wrong_password_is_one_line_and_nothing_is_asked_or_written(cloudless_bin, cloud, v3_ac, tmp_path):
    _, ac = v3_ac
    cloud.owned[ac["id"]] = (ac["token"], ac["key"])
    cloud.udpids[ac["id"]] = ac["udpid"]
    wrong = tmp_path / "wrong"
    wrong.write_text("not the password\n")
    out = tmp_path / "keys"
    res = run(cloudless_bin, *keys_args(cloud, wrong, out, *unit_args(ac)))
    assert res.returncode == 1, res
    line = one_error_line(res)
    assert "login refused" in line and "3106" in line and "check --account and the password" in line, line
    assert "not the password" not in res.stdout + res.stderr
    assert "/v1/iot/secure/getToken" not in cloud.aliases()
    assert written(out) == []


def test_unknown_account_is_refused_at_the_login_id(cloudless_bin, cloud, v3_ac, password_file, tmp_path):
    _, ac = v3_ac
    res = run(cloudless_bin, *keys_args(cloud, password_file, tmp_path / "keys", *unit_args(ac),
                                        account="nobody@example.com"))
    assert res.returncode == 1, res
    assert "3102" in one_error_line(res)
    assert cloud.aliases() == ["/v1/user/login/id/get"]


@pytest.mark.parametrize("mode, expected", [("hang", "no answer"), ("garbage", "not JSON"), ("http500", "HTTP 500")])
def test_cloud_failures_are_one_line_and_write_nothing(cloudless_bin, cloud, v3_ac, password_file, tmp_path,
                                                       mode, expected):
    _, ac = v3_ac
    cloud.mode = mode
    out = tmp_path / "keys"
    started = time.monotonic()
    res = run(cloudless_bin, *keys_args(cloud, password_file, out, *unit_args(ac), timeout=1))
    assert res.returncode == 1, res
    line = one_error_line(res)
    assert expected.lower() in line.lower(), line
    assert written(out) == []
    assert time.monotonic() - started < 20


def test_a_pair_the_unit_refuses_is_not_written(cloudless_bin, cloud, v3_ac, password_file, tmp_path):
    sim, ac = v3_ac
    cloud.owned[ac["id"]] = (ac["token"], ac["key"])
    cloud.udpids[ac["id"]] = "ff" * 16  # the cloud issues only decoys for this unit's udpids
    out = tmp_path / "keys"
    res = run(cloudless_bin, *keys_args(cloud, password_file, out, *unit_args(ac)))
    assert res.returncode == 1, res
    assert "refused the pair" in one_error_line(res)
    assert written(out) == []
    assert sim.log("v3_ac", kind="handshake_bad")


def test_unit_that_does_not_answer_gets_the_pair_saved_unproved(cloudless_bin, cloud, password_file, tmp_path):
    unit_id = 147334558165565  # docs/midea.md §5.2: big-endian udpid 4fbe0d4139de99cc88a0285e14657045
    cloud.owned[unit_id] = ("1" * 128, "2" * 64)
    cloud.udpids[unit_id] = "4fbe0d4139de99cc88a0285e14657045"
    address = helpers.random_loopback_address()
    out = tmp_path / "keys"
    res = run(cloudless_bin, *keys_args(cloud, password_file, out, "--host", address, "--id", unit_id,
                                        "--port", helpers.free_tcp_port(address), timeout=0.5))
    assert res.returncode == 0, res
    assert "saved, not proved (unit did not answer)" in res.stdout
    assert (out / ("midea_%d.token" % unit_id)).read_text().strip() == "1" * 128
    assert (out / ("midea_%d.key" % unit_id)).read_text().strip() == "2" * 64
    assert cloud.aliases().count("/v1/iot/secure/getToken") == 1  # an unreachable unit cannot tell udpids apart


def test_a_different_existing_pair_is_kept_without_force(cloudless_bin, cloud, v3_ac, password_file, tmp_path):
    _, ac = v3_ac
    cloud.owned[ac["id"]] = (ac["token"], ac["key"])
    cloud.udpids[ac["id"]] = ac["udpid"]
    out = tmp_path / "keys"
    out.mkdir()
    old = out / ("midea_%d.token" % ac["id"])
    old.write_text("0" * 128 + "\n")
    res = run(cloudless_bin, *keys_args(cloud, password_file, out, *unit_args(ac)))
    assert res.returncode == 1, res
    assert "--force" in one_error_line(res)
    assert old.read_text() == "0" * 128 + "\n"
    res = run(cloudless_bin, *keys_args(cloud, password_file, out, *unit_args(ac), "--force"))
    assert res.returncode == 0, res
    assert old.read_text().strip() == ac["token"].lower()


def test_cloud_base_must_be_loopback(cloudless_bin, password_file, tmp_path):
    for base in ("https://mp-prod.appsmb.com", "https://192.0.2.1:4443", "http://127.0.0.1:1"):
        res = run(cloudless_bin, "keys", "midea", "--account", ACCOUNT, "--password-file", password_file,
                  "--output-dir", tmp_path / "keys", "--cloud-base", base, "--host", "127.0.0.1", "--id", "1")
        assert res.returncode == 2, res
        assert "loopback" in one_error_line(res)
    assert written(tmp_path / "keys") == []


def test_nethome_says_why_it_cannot_work(cloudless_bin, password_file, tmp_path):
    res = run(cloudless_bin, "keys", "midea", "--account", ACCOUNT, "--password-file", password_file,
              "--output-dir", tmp_path / "keys", "--cloud", "nethome", "--host", "127.0.0.1", "--id", "1")
    assert res.returncode == 1, res
    line = one_error_line(res)
    assert "9999" in line and "NetHome Plus" in line and "SmartHome" in line, line


def test_bad_options(cloudless_bin, tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    res = run(cloudless_bin, "keys", "midea", "--account", ACCOUNT, "--password-file", empty,
              "--output-dir", tmp_path / "keys", "--host", "127.0.0.1", "--id", "1")
    assert res.returncode == 2 and "holds no password" in res.stderr, res
    res = run(cloudless_bin, "keys", "midea", "--account", ACCOUNT, "--password-file", tmp_path / "missing",
              "--output-dir", tmp_path / "keys")
    assert res.returncode == 2 and "cannot read" in res.stderr, res
    res = run(cloudless_bin, "keys", "midea", "--password-file", empty)
    assert res.returncode == 2, res  # --account is required


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: hands the files to another user")
def test_as_root_the_files_go_to_the_owner_of_the_directory(cloudless_bin, cloud, v3_ac, password_file, tmp_path):
    """state_dir belongs to the daemon's user; a pair root wrote there must stay readable by it."""
    _, ac = v3_ac
    cloud.owned[ac["id"]] = (ac["token"], ac["key"])
    cloud.udpids[ac["id"]] = ac["udpid"]
    out = tmp_path / "state"
    out.mkdir(mode=0o750)
    os.chown(out, 65534, 65534)
    res = run(cloudless_bin, *keys_args(cloud, password_file, out, *unit_args(ac)))
    assert res.returncode == 0, res
    for suffix in ("token", "key"):
        info = os.stat(out / ("midea_%d.%s" % (ac["id"], suffix)))
        assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (65534, 65534, 0o600)
