"""The one-shot miIO commands of `cloudless` against the plug simulator on 127.a.b.c:
discover --target, miio info, miio call and miio provision (the setup-AP join, and what it tells the
user about the token afterwards: docs/miio.md §4, §S1)."""

import json
import subprocess

import pytest

import helpers

pytestmark = pytest.mark.usefixtures("cloudless_bin")

TOKEN = "00112233445566778899aabbccddeeff"


def cloudless(binary, *args, timeout=30):
    return subprocess.run([str(binary)] + list(args), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def test_discover_one_address_reports_id_model_and_revealed_token(cloudless_bin, simulator):
    sim = simulator([helpers.make_plug("setup", "chuangmi.plug.m1", token=TOKEN, behaviour={"hello_token": "token"}),
                     helpers.make_plug("hidden", "chuangmi.plug.v3", behaviour={"hello_token": "ff"})])
    setup, hidden = sim.plug("setup"), sim.plug("hidden")
    out = cloudless(cloudless_bin, "discover", "--timeout", "1.5", "--target", setup["address"],
                    "--miio-port", str(setup["port"]))
    assert out.returncode == 0, out.stderr
    assert "id=%d" % setup["did"] in out.stdout
    assert "model=chuangmi.plug.m1" in out.stdout
    assert "token=" + TOKEN in out.stdout
    out = cloudless(cloudless_bin, "discover", "--timeout", "1.5", "--target", hidden["address"],
                    "--miio-port", str(hidden["port"]))
    assert out.returncode == 0, out.stderr
    assert "id=%d" % hidden["did"] in out.stdout
    assert "token=hidden" in out.stdout


def test_discover_nothing_answers(cloudless_bin):
    address = helpers.random_loopback_address()
    out = cloudless(cloudless_bin, "discover", "--timeout", "1", "--target", address)
    assert out.returncode == 0
    assert out.stdout == ""
    assert "no device answered" in out.stderr


def test_miio_info_and_call(cloudless_bin, simulator):
    sim = simulator([helpers.make_plug("p", "chuangmi.plug.212a01", token=TOKEN)])
    plug = sim.plug("p")
    target = ["--host", plug["address"], "--port", str(plug["port"]), "--token", TOKEN]
    out = cloudless(cloudless_bin, "miio", "info", *target)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["model"] == "chuangmi.plug.212a01"
    since = sim.mark()
    out = cloudless(cloudless_bin, "miio", "call", *target, "set_properties",
                    '[{"did":"on","siid":2,"piid":1,"value":false}]')
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["code"] == 0
    sim.wait_for_request("p", "set_properties", since=since, timeout=5)
    assert sim.state("p")["state"]["power"] is False
    out = cloudless(cloudless_bin, "miio", "call", *target, "get_properties", '[{"did":"x","siid":2,"piid":1}]')
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["value"] is False


def test_miio_call_errors(cloudless_bin, simulator):
    sim = simulator([helpers.make_plug("p", "chuangmi.plug.m1", token=TOKEN)])
    plug = sim.plug("p")
    target = ["--host", plug["address"], "--port", str(plug["port"]), "--timeout", "0.5", "--retries", "0"]
    out = cloudless(cloudless_bin, "miio", "call", *target, "--token", TOKEN, "no_such_method")
    assert out.returncode == 1
    assert "-32601" in out.stderr
    out = cloudless(cloudless_bin, "miio", "call", *target, "--token", TOKEN, "get_prop", "[not json")
    assert out.returncode == 2
    assert "JSON-PARAMS" in out.stderr
    out = cloudless(cloudless_bin, "miio", "info", *target, "--token", "123")
    assert out.returncode == 2
    assert "32 hex digits" in out.stderr
    # A wrong token: the simulator stays silent, as real plugs do.
    out = cloudless(cloudless_bin, "miio", "info", *target, "--token", "ff" * 16)
    assert out.returncode == 1
    assert "no answer" in out.stderr
    # The plug answers, but under another token: said plainly.
    sim.set_behaviour("p", answer_token="ab" * 16)
    out = cloudless(cloudless_bin, "miio", "info", *target, "--token", TOKEN)
    assert out.returncode == 1
    assert "authentication failed" in out.stderr


def test_provision_token_survives(cloudless_bin, simulator):
    sim = simulator([helpers.make_plug("ap", "chuangmi.plug.hmi206", layout="chuangmi.plug.m1", token=TOKEN, behaviour={"hello_token": "token"})])
    plug = sim.plug("ap")
    since = sim.mark()
    out = cloudless(cloudless_bin, "miio", "provision", "--ssid", "Oberon-IoT", "--password", "secret pass",
                    "--host", plug["address"], "--port", str(plug["port"]), "--lan-host", plug["address"],
                    "--wait", "5")
    assert out.returncode == 0, out.stdout + out.stderr
    request = sim.wait_for_request("ap", "miIO.config_router", since=since, timeout=5)
    assert request["params"]["ssid"] == "Oberon-IoT"
    assert request["params"]["passwd"] == "secret pass"
    assert "accepted the settings" in out.stdout
    assert "token survived" in out.stdout
    assert TOKEN in out.stdout


def test_provision_token_changed_is_explained(cloudless_bin, simulator):
    # The hmi206 of docs/miio.md §S1: config_router answers 0 (python-miio crashed on it), then the plug
    # only answers under a new token.
    sim = simulator([helpers.make_plug("ap", "chuangmi.plug.hmi206", layout="chuangmi.plug.m1", token=TOKEN,
                                       behaviour={"hello_token": "token", "token_after_config_router": "cd" * 16})])
    plug = sim.plug("ap")
    out = cloudless(cloudless_bin, "miio", "provision", "--ssid", "Oberon-IoT", "--password", "x",
                    "--host", plug["address"], "--port", str(plug["port"]), "--lan-host", plug["address"],
                    "--wait", "5")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "accepted the settings" in out.stdout
    assert "NOT with the setup token" in out.stdout
    assert "miio-extract-tokens" in out.stdout


def test_provision_refuses_a_provisioned_plug(cloudless_bin, simulator):
    sim = simulator([helpers.make_plug("done", "chuangmi.plug.v3", behaviour={"hello_token": "zeros"})])
    plug = sim.plug("done")
    since = sim.mark()
    out = cloudless(cloudless_bin, "miio", "provision", "--ssid", "x", "--password", "y", "--host", plug["address"],
                    "--port", str(plug["port"]))
    assert out.returncode == 1
    assert "hides its token" in out.stderr
    assert not sim.requests("done", "miIO.config_router", since=since)


def test_every_command_has_help(cloudless_bin):
    for args in (["--help"], ["run", "--help"], ["check-config", "--help"], ["discover", "--help"],
                 ["miio", "--help"], ["miio", "info", "--help"], ["miio", "call", "--help"],
                 ["miio", "provision", "--help"]):
        out = cloudless(cloudless_bin, *args)
        assert out.returncode == 0, args
        assert "Usage" in out.stdout or "usage" in out.stdout.lower(), args
