"""The plug simulator (tests/sim/miio_plug_sim.py) speaks real miIO: proven with Debian's python3-miio
0.5.0.1 client (miio.Device, ChuangmiPlug, MiIOProtocol), an implementation independent of ours.

python-miio 0.5.0.1 always talks to port 54321, so every plug here gets its own random 127.a.b.c
address with 54321 free. No daemon needed: these tests never skip for a missing cloudless binary.
"""

import datetime
import json
import socket
import struct
import subprocess
import time

import construct
import pytest
from miio import ChuangmiPlug, Device, DeviceException
from miio.exceptions import DeviceError
from miio.miioprotocol import MiIOProtocol
from miio.protocol import Message

import helpers

TOKEN = "00112233445566778899aabbccddeeff"
OTHER = "ffeeddccbbaa99887766554433221100"
MIIO_PORT = 54321


def plug54321(name, model, **kw):
    kw.setdefault("token", TOKEN)
    return helpers.make_plug(name, model, port=MIIO_PORT, **kw)


def client(cls, info, timeout=1.0, **kw):
    """A python-miio client with a short receive timeout (0.5.0.1 has no constructor argument)."""
    dev = cls(info["address"], info["token"], **kw)
    dev._protocol._timeout = timeout
    return dev


def request_packet(token_hex, did, stamp, payload):
    return Message.build(
        {"data": {"value": payload},
         "header": {"value": {"length": 0, "unknown": 0, "device_id": struct.pack(">I", did),
                              "ts": datetime.datetime.utcfromtimestamp(stamp)}},
         "checksum": 0},
        token=bytes.fromhex(token_hex),
    )


def exchange(address, port, packet, wait=0.5, max_datagrams=20):
    """Sends one datagram, returns every datagram received within `wait` s."""
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.sendto(packet, (address, port))
        deadline = time.monotonic() + wait
        while len(out) < max_datagrams:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                data, _ = s.recvfrom(65535)
            except socket.timeout:
                break
            out.append(data)
    return out


HELLO = bytes.fromhex("21310020" + "ff" * 28)


# ------------------------------------------------------------------------------------------------
# command line


def run_sim(*args, timeout=15):
    return subprocess.run([helpers.PY, str(helpers.SIM_SCRIPT)] + list(args), capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_help_documents_cli_models_behaviours_and_control_protocol():
    res = run_sim("--help")
    assert res.returncode == 0
    for word in ("--config", "--plug", "--generate", "--control-port", "--exit-on-stdin-eof",
                 "hello_token", "silent", "answer_token", "dedup", "garbage", "delay", "reply_style",
                 "layout", "chuangmi.plug.m1", "chuangmi.plug.v1", "chuangmi.plug.v3",
                 "chuangmi.plug.212a01", "cuco.plug.v3", "control_port", "set_state", "set_behaviour",
                 "reboot", "log", "bad_checksum", "SIGTERM"):
        assert word in res.stdout, word


@pytest.mark.parametrize("address", ["192.168.1.50", "0.0.0.0", "127.0.0.255", "not-an-ip"])
def test_refuses_non_loopback_addresses(address):
    res = run_sim("--plug", "address=%s,port=0" % address)
    assert res.returncode == 2
    assert "address" in res.stderr


def test_bad_arguments_exit_2():
    assert run_sim().returncode == 2  # no plugs
    assert run_sim("--plug", "address=127.0.0.9,model=acme.unknown").returncode == 2
    assert run_sim("--plug", "address=127.0.0.9,token=123").returncode == 2
    assert run_sim("--plug", "address=127.0.0.9,frobnicate=1").returncode == 2


def test_cli_plug_spec_ready_line_and_sigterm(tmp_path):
    addr = helpers.random_loopback_address()
    proc = subprocess.Popen(
        [helpers.PY, str(helpers.SIM_SCRIPT), "--plug",
         "name=p1,address=%s,port=0,model=v3,did=0x0badcafe,token=%s,power=off" % (addr, TOKEN),
         "--max-runtime", "60"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        ready = json.loads(proc.stdout.readline())
        assert ready["control_port"] > 0
        (p,) = ready["plugs"]
        assert p["name"] == "p1" and p["address"] == addr and p["port"] > 0
        assert p["did"] == 0x0BADCAFE and p["token"] == TOKEN and p["model"] == "chuangmi.plug.v3"
        # port 0 → a free port: python-miio 0.5.0.1 cannot follow it, so talk raw: hello, get_prop
        (reply,) = exchange(addr, p["port"], HELLO)
        hello = Message.parse(reply)
        assert hello.header.value.device_id == bytes.fromhex("0badcafe")
        stamp = int(hello.header.value.ts.replace(tzinfo=datetime.timezone.utc).timestamp())
        (reply,) = exchange(addr, p["port"], request_packet(TOKEN, 0x0BADCAFE, stamp + 1,
                                                             {"id": 7, "method": "get_prop", "params": ["on"]}))
        assert Message.parse(reply, token=bytes.fromhex(TOKEN)).data.value == {"result": [False], "id": 7}
        proc.terminate()
        assert proc.wait(timeout=5) == 0
    finally:
        helpers.stop_process(proc)
        proc.stdout.close()
        proc.stderr.close()


def test_exits_when_stdin_closes(simulator):
    sim = simulator([helpers.make_plug("a")])
    sim.proc.stdin.close()
    sim.proc.wait(timeout=5)
    assert sim.proc.returncode == 0


def test_shutdown_command(simulator):
    sim = simulator([helpers.make_plug("a")])
    sim.command("shutdown")
    assert sim.proc.wait(timeout=5) == 0


# ------------------------------------------------------------------------------------------------
# python-miio against the simulator


def test_info_via_python_miio(simulator):
    sim = simulator([plug54321("desk", "chuangmi.plug.v3", did=0x0BADCAFE, ssid="homenet")])
    p = sim.plug("desk")
    info = client(Device, p).info()
    assert info.model == "chuangmi.plug.v3"
    assert info.firmware_version and info.hardware_version
    assert info.mac_address.count(":") == 5
    assert info.raw["token"] == TOKEN
    assert info.network_interface["localIp"] == p["address"]
    assert info.accesspoint["ssid"] == "homenet"
    assert {"ssid", "bssid", "rssi"} <= set(info.accesspoint)
    # python-miio's wire behaviour, seen from the device: hello, then id 1 with stamp = hello stamp + 1
    log = sim.log("desk")
    assert [e["kind"] for e in log] == ["hello", "request"]
    req = log[1]
    assert req["method"] == "miIO.info" and req["id"] == 1 and req["did_ok"] is True
    assert req["answered"] is True


@pytest.mark.parametrize("mode,expected", [("token", bytes.fromhex(TOKEN)), ("zeros", bytes(16)),
                                           ("ff", b"\xff" * 16)])
def test_hello_reply_token_field(simulator, mode, expected):
    sim = simulator([plug54321("p", "chuangmi.plug.m1", did=0x0404A850, uptime=5000,
                               behaviour={"hello_token": mode})])
    m = MiIOProtocol.discover(sim.plug("p")["address"])
    assert m is not None
    assert m.checksum == expected
    assert m.header.value.device_id == bytes.fromhex("0404a850")
    stamp = int(m.header.value.ts.replace(tzinfo=datetime.timezone.utc).timestamp())
    assert 5000 <= stamp < 5000 + 60  # uptime-style stamp


def test_legacy_v3_via_chuangmiplug(simulator):
    sim = simulator([plug54321("v3", "chuangmi.plug.v3",
                               state={"load_w": 3.0, "power_jitter": 0, "temperature": 41})])
    p = sim.plug("v3")
    plug = client(ChuangmiPlug, p, model="chuangmi.plug.v3")
    st = plug.status()
    assert st.power is True and st.usb_power is True and st.temperature == 41
    assert st.wifi_led is True
    assert st.load_power == pytest.approx(3.0)  # get_power [300] × 0.01
    methods = [(e["method"], e["params"]) for e in sim.requests("v3")]
    assert methods == [("get_prop", ["on", "usb_on", "temperature", "wifi_led"]), ("get_power", [])]

    assert plug.off() == ["ok"]
    assert sim.state("v3")["state"]["power"] is False
    assert plug.status().load_power == 0
    assert plug.usb_off() == 0  # the v3 quirk: a bare 0
    assert plug.set_wifi_led(False) == ["ok"]
    st = plug.status()
    assert st.power is False and st.usb_power is False and st.wifi_led is False
    assert plug.on() == ["ok"] and plug.usb_on() == 0
    assert plug.status().power is True
    sent = [(e["method"], e["params"]) for e in sim.requests("v3", method="set_power")]
    assert sent == [("set_power", ["off"]), ("set_power", ["on"])]

    with pytest.raises(DeviceError) as err:
        plug.send("get_properties", [{"did": "power", "siid": 2, "piid": 1}])
    assert err.value.args[0] == {"code": -9999, "message": "user ack timeout"}
    with pytest.raises(DeviceError) as err:
        plug.send("set_power", ["maybe"])
    assert err.value.args[0]["code"] == -5001


def test_legacy_m1_and_v1(simulator):
    sim = simulator([plug54321("m1", "chuangmi.plug.m1", state={"temperature": 25}),
                     plug54321("v1", "chuangmi.plug.v1", state={"usb": False})])
    m1 = client(ChuangmiPlug, sim.plug("m1"), model="chuangmi.plug.m1")
    assert m1.send("get_prop", ["power", "temperature"]) == ["on", 25]
    assert m1.off() == ["ok"]
    assert m1.status().power is False
    assert m1.send("get_prop", ["power", "no_such_prop"]) == ["off", None]
    with pytest.raises(DeviceError) as err:
        m1.send("get_power")
    assert err.value.args[0]["code"] == -32601

    v1 = client(ChuangmiPlug, sim.plug("v1"), model="chuangmi.plug.v1")
    st = v1.status()
    assert st.power is True and st.usb_power is False and st.temperature == 32
    assert v1.off() == ["ok"] and v1.usb_on() == ["ok"]
    st = v1.status()
    assert st.power is False and st.usb_power is True
    assert [e["method"] for e in sim.requests("v1") if e["method"].startswith("set_")] == ["set_off", "set_usb_on"]
    with pytest.raises(DeviceError) as err:
        v1.send("set_power", ["on"])
    assert err.value.args[0] == {"code": -32601, "message": "Method not found."}


def test_miot_212a01_get_and_set_properties(simulator):
    sim = simulator([plug54321("m", "chuangmi.plug.212a01",
                               state={"load_w": 15.0, "power_jitter": 0, "energy_wh": 1234.0,
                                      "voltage": 231.0, "temperature": 38})])
    dev = client(Device, sim.plug("m"))
    props = [{"did": "switch", "siid": 2, "piid": 1}, {"did": "temperature", "siid": 2, "piid": 6},
             {"did": "led", "siid": 3, "piid": 1}, {"did": "energy", "siid": 5, "piid": 1},
             {"did": "current", "siid": 5, "piid": 2}, {"did": "voltage", "siid": 5, "piid": 3},
             {"did": "power", "siid": 5, "piid": 6}, {"did": "nope", "siid": 9, "piid": 9}]
    res = dev.send("get_properties", props)
    by = {r["did"]: r for r in res}
    assert [r["did"] for r in res] == [p["did"] for p in props]  # order and did echoed
    assert by["switch"] == {"did": "switch", "siid": 2, "piid": 1, "code": 0, "value": True}
    assert by["temperature"]["value"] == 38
    assert by["power"]["value"] == 1500  # 0.01 W → 15.0 W
    assert 1234 <= by["energy"]["value"] <= 1240  # Wh, grows while on
    assert by["voltage"]["value"] == 231
    assert by["current"]["value"] == round(15.0 / 231 * 1000)  # mA
    assert by["nope"] == {"did": "nope", "siid": 9, "piid": 9, "code": -4003}

    res = dev.send("set_properties", [{"did": "switch", "siid": 2, "piid": 1, "value": False},
                                      {"did": "power", "siid": 5, "piid": 6, "value": 1},
                                      {"did": "led", "siid": 3, "piid": 1, "value": "yes"},
                                      {"did": "nope", "siid": 8, "piid": 1, "value": 1}])
    assert [r["code"] for r in res] == [0, -4002, -4005, -4003]
    assert sim.state("m")["state"]["power"] is False
    res = dev.send("get_properties", [{"did": "switch", "siid": 2, "piid": 1}, {"did": "p", "siid": 5, "piid": 6}])
    assert [r["value"] for r in res] == [False, 0]

    for legacy in ("get_prop", "set_power"):
        with pytest.raises(DeviceError) as err:
            dev.send(legacy, ["power"])
        assert err.value.args[0]["code"] == -9999
    with pytest.raises(DeviceError) as err:
        dev.send("no_such_method")
    assert err.value.args[0] == {"code": -32601, "message": "Method not found."}


def test_cuco_plug_v3_layout(simulator):
    sim = simulator([plug54321("c", "cuco.plug.v3", state={"load_w": 42.0, "power_jitter": 0,
                                                            "energy_wh": 7000})])
    dev = client(Device, sim.plug("c"))
    res = dev.send("get_properties", [{"did": "s", "siid": 2, "piid": 1}, {"did": "e", "siid": 11, "piid": 1},
                                      {"did": "p", "siid": 11, "piid": 2}, {"did": "x", "siid": 5, "piid": 6}])
    assert [r["code"] for r in res] == [0, 0, 0, -4003]
    assert res[0]["value"] is True and res[2]["value"] == pytest.approx(42.0)
    assert 7.0 <= res[1]["value"] <= 7.01  # kWh
    with pytest.raises(DeviceError) as err:
        dev.send("get_prop", ["power"])
    assert err.value.args[0] == {"code": -9999, "message": "undefined command"}


def test_unknown_model_served_with_another_layout(simulator):
    sim = simulator([plug54321("x", "acme.plug.x1", layout="chuangmi.plug.212a01",
                               state={"load_w": 15.0, "power_jitter": 0})])
    dev = client(Device, sim.plug("x"))
    assert dev.info().model == "acme.plug.x1"
    res = dev.send("get_properties", [{"did": "p", "siid": 5, "piid": 6}])
    assert res[0]["value"] == 1500


def test_info_can_omit_model(simulator):
    sim = simulator([plug54321("x", "chuangmi.plug.212a01", behaviour={"info_omit_model": True})])
    # (python-miio 0.5.0.1's DeviceInfo.model itself raises KeyError on such a reply: read it raw)
    info = client(Device, sim.plug("x")).send("miIO.info")
    assert "model" not in info and info["fw_ver"]


def test_config_router_answers_bare_zero_and_records_ssid(simulator):
    sim = simulator([plug54321("ap", "chuangmi.plug.m1", behaviour={"token_after_config_router": OTHER})])
    p = sim.plug("ap")
    dev = client(Device, p)
    # python-miio 0.5.0.1 indexes the result with [0]: the real bare-0 answer makes it raise TypeError
    # after the device accepted the credentials (docs/miio.md §4.2)
    with pytest.raises(TypeError):
        dev.configure_wifi("mynet", "secret", 0, {"country_domain": "de"})
    st = sim.state("ap")
    assert st["ssid"] == "mynet"
    assert st["token"] == OTHER  # the token changed during provisioning
    (req,) = sim.requests("ap", method="miIO.config_router")
    assert req["params"] == {"ssid": "mynet", "passwd": "secret", "uid": 0, "country_domain": "de"}
    assert req["reply"]["result"] == 0
    # the old token no longer works: the plug ignores it (bad checksum) like a real device
    old = client(Device, p, timeout=0.3)
    with pytest.raises(DeviceException):
        old.send("miIO.info", retry_count=0)
    assert sim.log("ap", kind="bad_checksum")


# ------------------------------------------------------------------------------------------------
# behaviour switches


def test_answer_with_other_token_gives_checksum_error(simulator):
    sim = simulator([plug54321("w", "chuangmi.plug.v3", behaviour={"answer_token": OTHER})])
    dev = client(Device, sim.plug("w"))
    t0 = time.monotonic()
    with pytest.raises(DeviceException) as err:
        dev.send("get_prop", ["on"])
    assert "checksum" in str(err.value).lower() and "token" in str(err.value).lower()
    assert time.monotonic() - t0 < 3
    # the request itself was fine and answered (with the wrong token)
    assert sim.requests("w", method="get_prop")[0]["answered"] is True


def test_request_with_wrong_token_is_ignored_and_logged(simulator):
    sim = simulator([plug54321("s", "chuangmi.plug.v3")])
    p = sim.plug("s")
    wrong = client(Device, dict(p, token=OTHER), timeout=0.3)
    with pytest.raises(DeviceException) as err:
        wrong.send("get_prop", ["on"], retry_count=1)
    assert "no response" in str(err.value).lower()
    bad = sim.log("s", kind="bad_checksum")
    assert len(bad) == 2 and all(e["answered"] is False and e["dropped"] == "checksum" for e in bad)
    assert sim.requests("s") == []
    # the right token still works
    assert client(Device, p).send("get_prop", ["on"]) == [True]


def test_silent_plug_answers_nothing_then_recovers(simulator):
    sim = simulator([plug54321("u", "chuangmi.plug.v3", behaviour={"silent": True})])
    p = sim.plug("u")
    assert exchange(p["address"], MIIO_PORT, HELLO, wait=0.5) == []
    e = sim.log("u")[-1]
    assert e["kind"] == "hello" and e["dropped"] == "silent"
    sim.set_behaviour("u", silent=False)
    assert len(exchange(p["address"], MIIO_PORT, HELLO, wait=0.5)) == 1
    assert client(Device, p).send("get_prop", ["on"]) == [True]


def test_dedup_ignores_a_seen_id_until_python_miio_retries_with_plus_100(simulator):
    sim = simulator([plug54321("d", "chuangmi.plug.m1", behaviour={"dedup": True})])
    p = sim.plug("d")
    assert client(Device, p).send("get_prop", ["power"]) == ["on"]
    # a second client starts again at id 1: ignored; python-miio retries with id 102 after its timeout
    assert client(Device, p, timeout=0.5).send("get_prop", ["power"]) == ["on"]
    reqs = [(e["id"], e["dropped"]) for e in sim.requests("d")]
    assert reqs == [(1, None), (1, "dedup"), (102, None)]


def _ask(p, req_id, method="get_prop", params=("power",)):
    """One raw request with id `req_id`; the decoded reply, or None when the plug stayed silent."""
    packet = request_packet(p["token"], p["did"], 1001, {"id": req_id, "method": method, "params": list(params)})
    datagrams = exchange(p["address"], p["port"], packet, wait=0.3)
    return Message.parse(datagrams[-1], token=bytes.fromhex(p["token"])).data.value if datagrams else None


def test_strict_ids_drop_ids_not_above_the_last_across_client_restarts(simulator):
    sim = simulator([plug54321("i", "chuangmi.plug.m1", behaviour={"strict_ids": True})])
    p = sim.plug("i")
    assert client(Device, p).send("get_prop", ["power"]) == ["on"]
    # a restarted client starts again at id 1: ignored, until python-miio's retry jumps to 102
    assert client(Device, p, timeout=0.5).send("get_prop", ["power"]) == ["on"]
    assert [(e["id"], e["dropped"]) for e in sim.requests("i")] == [(1, None), (1, "id_not_above_last"), (102, None)]
    assert _ask(p, 50) is None          # below the last one
    assert _ask(p, 102) is None         # equal is not above
    assert _ask(p, 103) == {"result": ["on"], "id": 103}
    # around the wrap: 9998 is followed by 1
    assert _ask(p, 5000) is not None
    assert _ask(p, 9998) is not None
    assert _ask(p, 1) == {"result": ["on"], "id": 1}
    assert _ask(p, 9997) is None        # half the ring behind, not ahead
    assert sim.state("i")["last_id"] == 1
    # a rebooted plug has forgotten
    sim.reboot("i")
    assert _ask(p, 7000) is not None


def test_inject_error_answers_busy_or_ack_timeout_on_request(simulator):
    sim = simulator([helpers.make_plug("e", "chuangmi.plug.m1", token=TOKEN, behaviour={
        "inject_error": {"code": -30012, "message": "busy.", "count": 2, "method": "get_prop"}})])
    p = sim.plug("e")
    assert _ask(p, 10, method="miIO.info", params=())["result"]["model"] == "chuangmi.plug.m1"  # other methods
    assert _ask(p, 11) == {"error": {"code": -30012, "message": "busy."}, "id": 11}
    assert _ask(p, 12) == {"error": {"code": -30012, "message": "busy."}, "id": 12}
    assert _ask(p, 13) == {"result": ["on"], "id": 13}
    assert sim.state("e")["behaviour"]["inject_error"]["count"] == 0
    # set at run time, any method; nothing is carried out while it answers errors
    sim.set_behaviour("e", inject_error={"code": -9999, "message": "user ack timeout"})
    assert _ask(p, 14, method="set_power", params=("off",))["error"]["code"] == -9999
    assert sim.state("e")["state"]["power"] is True
    assert _ask(p, 15, method="set_power", params=("off",)) == {"result": ["ok"], "id": 15}
    with pytest.raises(helpers.SimError):
        sim.set_behaviour("e", inject_error={"message": "no code"})


def test_garbage_datagrams_precede_the_real_reply(simulator):
    sim = simulator([helpers.make_plug("g", "chuangmi.plug.m1", token=TOKEN, did=0x1234,
                                       behaviour={"garbage": True})])
    p = sim.plug("g")
    datagrams = exchange(p["address"], p["port"], request_packet(TOKEN, 0x1234, 1001,
                                                                 {"id": 5, "method": "get_prop", "params": ["power"]}))
    assert len(datagrams) == 6  # random, truncated, bad_checksum, bad_magic, other_token, then the reply
    assert Message.parse(datagrams[-1], token=bytes.fromhex(TOKEN)).data.value == {"result": ["on"], "id": 5}
    for junk in datagrams[:-1]:
        with pytest.raises(Exception):
            Message.parse(junk, token=bytes.fromhex(TOKEN))
    # only some kinds
    sim.set_behaviour("g", garbage=["bad_checksum"])
    datagrams = exchange(p["address"], p["port"], request_packet(TOKEN, 0x1234, 1001,
                                                                 {"id": 6, "method": "get_prop", "params": ["power"]}))
    assert len(datagrams) == 2
    with pytest.raises(construct.core.ChecksumError):
        Message.parse(datagrams[0], token=bytes.fromhex(TOKEN))


def test_forged_hello_garbage_carries_another_did_and_a_far_stamp(simulator):
    sim = simulator([helpers.make_plug("f", "chuangmi.plug.m1", token=TOKEN, did=0x1234,
                                       behaviour={"garbage": ["forged_hello"]})])
    p = sim.plug("f")
    datagrams = exchange(p["address"], p["port"], request_packet(TOKEN, 0x1234, 1001,
                                                                 {"id": 5, "method": "get_prop", "params": ["power"]}))
    assert len(datagrams) == 2
    forged = datagrams[0]
    assert len(forged) == 32
    magic, length, unknown, did, stamp = struct.unpack(">HHIII", forged[:16])
    assert (magic, length, unknown) == (0x2131, 32, 0)
    assert did != 0x1234 and stamp > 0x70000000
    assert Message.parse(datagrams[1], token=bytes.fromhex(TOKEN)).data.value == {"result": ["on"], "id": 5}


def test_malformed_datagrams_are_logged_and_ignored(simulator):
    sim = simulator([helpers.make_plug("g", "chuangmi.plug.m1", token=TOKEN)])
    p = sim.plug("g")
    good = request_packet(TOKEN, p["did"], 1001, {"id": 5, "method": "get_prop", "params": ["power"]})
    assert exchange(p["address"], p["port"], b"\x21\x31\x00", wait=0.3) == []
    assert exchange(p["address"], p["port"], good[:-16], wait=0.3) == []  # length field mismatch
    assert exchange(p["address"], p["port"], b"\x22" + good[1:], wait=0.3) == []
    assert [e["dropped"] for e in sim.log("g")] == ["short", "length", "magic"]
    assert len(exchange(p["address"], p["port"], good)) == 1


def test_delay_and_compact_reply_style(simulator):
    sim = simulator([plug54321("z", "chuangmi.plug.v3", behaviour={"delay": 0.4, "reply_style": "compact"})])
    p = sim.plug("z")
    dev = client(Device, p)
    t0 = time.monotonic()
    assert dev.send("get_prop", ["on"]) == [True]
    assert time.monotonic() - t0 >= 0.8  # hello and request both delayed
    # compact JSON and no trailing NUL, like real firmware
    sim.set_behaviour("z", delay=0)
    (reply,) = exchange(p["address"], MIIO_PORT,
                        request_packet(TOKEN, p["did"], 1001, {"id": 9, "method": "get_prop", "params": ["on"]}))
    from miio.protocol import Utils
    plain = Utils.decrypt(reply[32:], bytes.fromhex(TOKEN))
    assert plain == b'{"result":[true],"id":9}'


def test_energy_grows_with_power_and_reboot_resets_counter_and_stamp(simulator):
    sim = simulator([plug54321("e", "chuangmi.plug.212a01", uptime=100000,
                               state={"load_w": 3600.0, "energy_wh": 500.0})])  # 1 Wh per second
    p = sim.plug("e")
    dev = client(Device, p)
    energy = [{"did": "e", "siid": 5, "piid": 1}]
    first = dev.send("get_properties", energy)[0]["value"]
    time.sleep(1.6)
    second = dev.send("get_properties", energy)[0]["value"]
    assert 500 <= first < second <= first + 4
    sim.set_state("e", power=False)
    frozen = dev.send("get_properties", energy)[0]["value"]
    time.sleep(1.1)
    assert dev.send("get_properties", energy)[0]["value"] == frozen
    sim.set_state("e", power=True)

    sim.reboot("e", uptime=3)
    fresh = client(Device, p)
    hello = fresh.send_handshake()
    stamp = int(hello.header.value.ts.replace(tzinfo=datetime.timezone.utc).timestamp())
    assert stamp < 30
    assert fresh.send("get_properties", energy)[0]["value"] < 10


def test_power_readings_vary_a_little(simulator):
    sim = simulator([plug54321("j", "chuangmi.plug.212a01", state={"load_w": 100.0})])
    dev = client(Device, sim.plug("j"))
    values = [dev.send("get_properties", [{"did": "p", "siid": 5, "piid": 6}])[0]["value"] for _ in range(8)]
    assert all(9800 <= v <= 10200 for v in values)
    assert len(set(values)) > 1


def test_external_state_change_is_visible(simulator):
    sim = simulator([plug54321("x", "chuangmi.plug.v3")])
    plug = client(ChuangmiPlug, sim.plug("x"), model="chuangmi.plug.v3")
    assert plug.status().power is True
    sim.set_state("x", power=False, temperature=50)
    st = plug.status()
    assert st.power is False and st.temperature == 50


def test_control_channel_errors(simulator):
    sim = simulator([helpers.make_plug("a")])
    with pytest.raises(helpers.SimError, match="unknown cmd"):
        sim.command("frobnicate")
    with pytest.raises(helpers.SimError, match="no plug"):
        sim.state("nope")
    with pytest.raises(helpers.SimError, match="unknown behaviour"):
        sim.set_behaviour("a", frobnicate=True)
    with pytest.raises(helpers.SimError, match="unknown state"):
        sim.set_state("a", frobnicate=True)
    with pytest.raises(helpers.SimError, match="hello_token"):
        sim.set_behaviour("a", hello_token="maybe")
    # lookups by address and by did work too
    info = sim.plug("a")
    assert sim.state(info["address"])["name"] == "a"
    assert sim.state(info["did"])["name"] == "a"
    assert sim.command("ping")["ok"] is True


def test_fifty_plugs_polled_every_second(simulator):
    models = ["chuangmi.plug.v3", "chuangmi.plug.212a01", "cuco.plug.v3", "chuangmi.plug.m1"]
    plugs = [helpers.make_plug("p%d" % i, models[i % 4], token=TOKEN) for i in range(50)]
    sim = simulator(plugs)
    infos = [sim.plug("p%d" % i) for i in range(50)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(2.0)
        for round_no in range(3):
            t0 = time.monotonic()
            # all hellos and requests sent at once, like a daemon polling everything on one tick
            for i, p in enumerate(infos):
                s.sendto(HELLO, (p["address"], p["port"]))
                method = "get_properties" if "212a01" in p["model"] or "cuco" in p["model"] else "get_prop"
                params = [{"did": "s", "siid": 2, "piid": 1}] if method == "get_properties" else ["power"]
                s.sendto(request_packet(TOKEN, p["did"], 2000, {"id": 100 + round_no, "method": method,
                                                                 "params": params}), (p["address"], p["port"]))
            got = 0
            while got < 100:
                data, _ = s.recvfrom(65535)
                if len(data) > 32:
                    assert "result" in Message.parse(data, token=bytes.fromhex(TOKEN)).data.value
                got += 1
            assert time.monotonic() - t0 < 1.0, "round %d took too long" % round_no
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
    assert len(sim.log(kind="request")) == 150


# ------------------------------------------------------------------------------------------------
# the test harness itself (helpers.py / conftest.py), so the daemon tests stand on checked ground


FAKE_DAEMON = """#!/bin/sh
# A stand-in for `cloudless run --config FILE`: publishes bridge/state like the contract says.
cfg="$3"
port=$(sed -n 's/^ *server: "mqtt:\\/\\/127.0.0.1:\\([0-9]*\\)"$/\\1/p' "$cfg")
echo "fake cloudless: config $cfg port $port"
# The traps before "online": the test signals as soon as it sees "online", which may reach it before
# mosquitto_pub has even exited.
trap 'mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -r -t cloudless/bridge/state -m offline; echo bye; exit 0' TERM
trap 'echo got HUP' HUP
mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -r -t cloudless/bridge/state -m online
i=0
while [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
exit 3
"""


def test_harness_mosquitto_restart_keeps_port_and_drops_retained(mosquitto, mqtt_client, mqtt_client_factory):
    mqtt_client.publish("t/retained", "hello", retain=True)
    m = mqtt_client.wait_for("t/retained", payload="hello", timeout=5)
    assert m.retain is False  # live delivery to an existing subscriber
    assert MqttRetained(mosquitto)["t/retained"].retain is True
    port = mosquitto.port
    mosquitto.kill()
    assert not mosquitto.running
    mosquitto.start()
    assert mosquitto.port == port
    fresh = mqtt_client_factory(subscribe=("t/#",))
    assert fresh.find("t/#") == []  # persistence false: nothing survived
    fresh.publish("t/x", {"a": 1})
    _, obj = fresh.wait_for_json("t/x", lambda o: o["a"] == 1, timeout=5)
    with pytest.raises(AssertionError, match="no matching message"):
        fresh.wait_for("t/never", timeout=0.3)


def MqttRetained(broker, topic="#"):
    return helpers.MqttClient.retained(broker.host, broker.port, topic)


def test_harness_yaml_emitter_round_trips():
    yaml = pytest.importorskip("yaml")
    cfg = helpers.daemon_config("mqtt://127.0.0.1:1883", {
        "desk_plug": {"protocol": "miio", "host": "127.0.0.2", "port": 54321, "token": "00112233445566778899aabbccddeeff",
                      "model": "chuangmi.plug.v3", "poll_interval": "1s",
                      "miot": {"switch": {"siid": 2, "piid": 1}, "power": {"siid": 5, "piid": 6, "scale": 0.01}}},
        "x": {"list": [1, "two", {"three": 3.5, "four": [True, None]}], "empty": {}, "quote": 'a "b": #c'},
    }, "/tmp/state", client_id="c1")
    assert yaml.safe_load(helpers.to_yaml(cfg)) == cfg


def test_harness_daemon_wrapper_with_a_fake_binary(tmp_path, mosquitto, mqtt_client):
    fake = tmp_path / "fake-cloudless"
    fake.write_text(FAKE_DAEMON)
    fake.chmod(0o755)
    d = helpers.Daemon(fake, tmp_path / "d", broker=mosquitto)
    d.configure({})
    t0 = time.monotonic()
    d.start(wait_online=True, timeout=10)
    assert time.monotonic() - t0 < 5
    mqtt_client.wait_for("cloudless/bridge/state", payload="online", timeout=5)
    d.sighup()
    d.wait_for_log("got HUP", timeout=5)
    assert d.stop(timeout=5) == 0 and not d.killed
    assert "bye" in d.log_text()
    assert MqttRetained(mosquitto, "cloudless/bridge/state")["cloudless/bridge/state"].text == "offline"
    # a binary that dies early is reported with its exit code and log, not a hang
    dead = tmp_path / "dead-cloudless"
    dead.write_text("#!/bin/sh\necho 'config.yaml:3: devices.x.token: expected 32 hex digits' >&2\nexit 78\n")
    dead.chmod(0o755)
    d2 = helpers.Daemon(dead, tmp_path / "d2", broker=mosquitto)
    d2.configure({})
    with pytest.raises(AssertionError, match="exited with 78"):
        d2.start(wait_online=True, timeout=10)
    assert d2.returncode == 78 and "expected 32 hex digits" in d2.log_text()
    res = d2.run_command("check-config")
    assert res.returncode == 78 and "config.yaml:3:" in res.stderr


def test_harness_cloudless_bin_skip_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("CLOUDLESS_BIN", str(tmp_path / "missing"))
    assert "not found" in helpers.cloudless_bin_problem()
    f = tmp_path / "noexec"
    f.write_text("")
    monkeypatch.setenv("CLOUDLESS_BIN", str(f))
    assert "not executable" in helpers.cloudless_bin_problem()
