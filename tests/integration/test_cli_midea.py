"""`cloudless discover` and `cloudless midea query` against simulated Midea ACs (tests/sim/midea_ac_sim.py)
on 127.a.b.c addresses: no broker, no daemon. Written from docs/contract.md ("The binary") and issue #4
(discovery lists id, version and udpid; `midea query` tries a token/key pair). Exit codes: 0 ok,
1 runtime failure, 2 usage. Every test is SKIPPED with the reason when the binary is missing.

Test-only options the CLI provides (the simulator cannot bind the fixed ports 6445/20086/6444 for
several addresses at once): `discover --midea-port P` (repeatable) and `--miio-port P`,
`midea query --port P` and `--discovery-port P` (repeatable).
"""

import json
import re
import subprocess

import pytest

import helpers

pytestmark = pytest.mark.usefixtures("cloudless_bin")

TIMEOUT = 30  # bound of every CLI run (s); none should come close


def run(cloudless_bin, *args, timeout=TIMEOUT):
    return subprocess.run([str(cloudless_bin)] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def discovery_args(ac, option):
    out = []
    for port in ac["discovery_ports"]:
        out += [option, port]
    return out


def query_args(ac, token=None, key=None, with_id=True):
    args = ["midea", "query", "--host", ac["address"], "--port", ac["port"], "--timeout", "1"]
    if with_id:
        args += ["--id", ac["id"]]
    if token:
        args += ["--token", token, "--key", key]
    return args


def printed_state(stdout):
    """The state JSON `midea query` prints first (pretty-printed, then summary lines)."""
    obj, end = json.JSONDecoder().raw_decode(stdout.lstrip())
    return obj, stdout.lstrip()[end:]


def assert_state_matches(state, sim_state):
    assert state["state"] == ("ON" if sim_state["power"] else "OFF")
    assert state["mode"] == (sim_state["mode"] if sim_state["power"] else "off")
    assert state["target_temperature"] == sim_state["target"]
    assert state["indoor_temperature"] == sim_state["indoor"]
    if sim_state["outdoor"] is None:
        assert "outdoor_temperature" not in state, state
    else:
        assert state["outdoor_temperature"] == sim_state["outdoor"]
    assert all(v is not None for v in state.values()), state


@pytest.fixture
def two_acs(midea_simulator):
    """A V3 AC (token/key) and a V2 AC (none), each on its own address with free ports."""
    return midea_simulator([
        helpers.make_ac("v3_ac", state={"power": True, "mode": "heat", "target": 25.5, "indoor": 21.3,
                                         "outdoor": 4.5}),
        helpers.make_ac("v2_ac", protocol="v2", state={"power": False, "mode": "cool", "target": 19.0,
                                                       "indoor": 27.2, "outdoor": None}),
    ])


# ------------------------------------------------------------------------------------------------
# discover


def test_discover_lists_v2_and_v3_units_with_id_version_and_udpid(cloudless_bin, two_acs):
    sim = two_acs
    for name, version in (("v3_ac", "V3"), ("v2_ac", "V2")):
        ac = sim.ac(name)
        res = run(cloudless_bin, "discover", "--target", ac["address"], "--timeout", "1",
                  "--miio-port", helpers.free_tcp_port(), *discovery_args(ac, "--midea-port"))
        assert res.returncode == 0, res
        lines = [l for l in res.stdout.splitlines() if l.startswith("midea")]
        assert len(lines) == 1, res.stdout  # one line per appliance, however many rounds answered
        line = lines[0]
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        assert line.split()[1] == ac["address"], line
        assert fields["id"] == str(ac["id"]), line
        assert fields["version"] == version, line
        assert fields["udpid"] == ac["udpid"], line  # what a V3 token/key pair is looked up by
        assert fields["port"] == str(ac["port"]), line
        assert fields["ssid"] == ac["ssid"], line
        answered = [e for e in sim.log(name, kind="discovery") if e["answered"]]
        assert answered, "the simulator saw no discovery request"


def test_discover_without_answers_says_so(cloudless_bin, midea_simulator):
    sim = midea_simulator([helpers.make_ac("shy_ac", behaviour={"ignore_discovery": True})])
    ac = sim.ac("shy_ac")
    res = run(cloudless_bin, "discover", "--target", ac["address"], "--timeout", "1",
              "--miio-port", helpers.free_tcp_port(), *discovery_args(ac, "--midea-port"))
    assert res.returncode == 0, res
    assert "midea" not in res.stdout
    assert re.search(r"no device answered", res.stderr), res.stderr
    assert sim.log("shy_ac", kind="discovery"), "the request never reached the simulator"


# ------------------------------------------------------------------------------------------------
# midea query


def test_query_v3_with_the_right_pair_prints_the_state(cloudless_bin, two_acs, tmp_path):
    sim = two_acs
    ac = sim.ac("v3_ac")
    res = run(cloudless_bin, *query_args(ac, ac["token"], ac["key"]))
    assert res.returncode == 0, res
    state, rest = printed_state(res.stdout)
    assert_state_matches(state, sim.state("v3_ac")["state"])
    assert state["mode"] == "heat" and state["target_temperature"] == 25.5 and state["outdoor_temperature"] == 4.5
    assert re.search(r"appliance: id %d, V3" % ac["id"], rest), rest
    assert "capabilities" in rest
    assert len(sim.log("v3_ac", kind="handshake_ok")) == 1
    # the same from files (what a user keeps out of the shell history)
    (tmp_path / "token").write_text(ac["token"] + "\n")
    (tmp_path / "key").write_text(ac["key"] + "\n")
    res = run(cloudless_bin, "midea", "query", "--host", ac["address"], "--port", ac["port"], "--id", ac["id"],
              "--token-file", tmp_path / "token", "--key-file", tmp_path / "key", "--timeout", "1")
    assert res.returncode == 0, res
    assert printed_state(res.stdout)[0]["target_temperature"] == 25.5
    assert ac["token"] not in res.stdout + res.stderr and ac["key"] not in res.stdout + res.stderr


def test_query_v2_without_id_uses_discovery(cloudless_bin, two_acs):
    sim = two_acs
    ac = sim.ac("v2_ac")
    res = run(cloudless_bin, "midea", "query", "--host", ac["address"], "--timeout", "1",
              *discovery_args(ac, "--discovery-port"))
    assert res.returncode == 0, res
    state, rest = printed_state(res.stdout)
    assert_state_matches(state, sim.state("v2_ac")["state"])
    assert state["state"] == "OFF" and state["mode"] == "off" and "outdoor_temperature" not in state
    assert re.search(r"appliance: id %d, V2, %s:%d" % (ac["id"], re.escape(ac["address"]), ac["port"]), rest), rest
    # a V3 unit found by discovery without a pair: told what it needs and its udpid
    v3 = sim.ac("v3_ac")
    res = run(cloudless_bin, "midea", "query", "--host", v3["address"], "--timeout", "1",
              *discovery_args(v3, "--discovery-port"))
    assert res.returncode == 2, res
    assert "--token" in res.stderr and v3["udpid"] in res.stderr, res.stderr


@pytest.mark.parametrize("wrong", ["key", "token"])
def test_query_v3_with_a_wrong_pair_fails_authentication(cloudless_bin, two_acs, wrong):
    sim = two_acs
    ac = sim.ac("v3_ac")
    token, key = ac["token"], ac["key"]
    if wrong == "key":
        key = "%064x" % 0x5EED
    else:
        token = "%0128x" % 0x5EED
    res = run(cloudless_bin, *query_args(ac, token, key))
    assert res.returncode == 1, res
    assert "authentication failed: check token/key" in res.stderr, res.stderr
    assert res.stdout.strip() == "", res.stdout  # no state printed
    if wrong == "token":
        assert sim.log("v3_ac", kind="handshake_bad")[-1]["reason"] == "wrong token"
    assert sim.log("v3_ac", kind="request") == []


def test_query_with_nothing_listening_fails_clearly(cloudless_bin):
    host = helpers.random_loopback_address()
    res = run(cloudless_bin, "midea", "query", "--host", host, "--port", helpers.free_tcp_port(host),
              "--id", "147334560346150", "--timeout", "0.5")
    assert res.returncode == 1, res
    assert re.search(r"unreachable: .*refused", res.stderr, re.IGNORECASE), res.stderr
    assert host in res.stderr
    # without --id: nobody answers discovery
    res = run(cloudless_bin, "midea", "query", "--host", host, "--timeout", "0.5",
              "--discovery-port", helpers.free_tcp_port(host))
    assert res.returncode == 1, res
    assert re.search(r"no Midea appliance answered discovery at %s" % re.escape(host), res.stderr), res.stderr


BAD_ARGS = [
    ("--token", "zz" * 64, "--key", "00" * 32),        # not hex
    ("--token", "00" * 64, "--key", "0g" * 32),
    ("--token", "00" * 63, "--key", "00" * 32),        # too short
    ("--token", "00" * 64, "--key", "00" * 33),        # too long
    ("--token", "00" * 64),                            # a token without its key
    ("--key", "00" * 32),
]


@pytest.mark.parametrize("args", BAD_ARGS, ids=["token-not-hex", "key-not-hex", "token-short", "key-long",
                                                "token-alone", "key-alone"])
def test_query_bad_arguments_exit_2(cloudless_bin, args):
    res = run(cloudless_bin, "midea", "query", "--host", "127.0.0.1", "--id", "1", *args, timeout=10)
    assert res.returncode == 2, res
    assert res.stderr.strip(), "no reason given"
    assert res.stdout.strip() == ""


def test_usage_errors_exit_2(cloudless_bin):
    assert run(cloudless_bin, "midea", "query", timeout=10).returncode == 2          # --host is required
    assert run(cloudless_bin, "midea", "frobnicate", timeout=10).returncode == 2
    assert run(cloudless_bin, "midea", "query", "--host", "127.0.0.1", "--id", "x", timeout=10).returncode == 2


@pytest.mark.parametrize("argv,options", [
    (("discover",), ("--target", "--timeout", "Midea")),  # --midea-port is a hidden test option
    (("midea",), ("query",)),
    (("midea", "query"), ("--host", "--port", "--id", "--token", "--key", "--token-file", "--key-file", "--timeout")),
])
def test_help(cloudless_bin, argv, options):
    res = run(cloudless_bin, *argv, "--help", timeout=10)
    assert res.returncode == 0, res
    text = res.stdout + res.stderr
    for option in options:
        assert option in text, (option, text)
