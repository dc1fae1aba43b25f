"""SIGHUP reloads the configuration: a device added starts publishing, a removed one has its discovery
cleared, and a broken config is refused with the reasons while the running one keeps working."""

import pytest

import helpers
from helpers import MIIO_FAST

pytestmark = pytest.mark.usefixtures("cloudless_bin")

BASE = helpers.BASE_TOPIC


def device(sim, name):
    return helpers.miio_device(sim.plug(name), **MIIO_FAST)


def test_sighup_adds_and_removes_devices(simulator, daemon, mosquitto, mqtt_client):
    sim = simulator([helpers.make_plug("first", "chuangmi.plug.v3"), helpers.make_plug("second", "chuangmi.plug.212a01")])
    d = daemon({"first": device(sim, "first")})
    mqtt_client.wait_for_json(BASE + "/first", timeout=15)
    first_config = "homeassistant/device/%s/first/config" % BASE
    mqtt_client.wait_for(first_config, lambda m: bool(m.payload), timeout=15)

    config = dict(d.config)
    config["devices"] = {"second": device(sim, "second")}
    d.write_config(config)
    since = mqtt_client.mark()
    d.sighup()
    mqtt_client.wait_for_json(BASE + "/second", since=since, timeout=15)
    # first: discovery config emptied (retained), availability cleared, no more states.
    mqtt_client.wait_for(first_config, lambda m: m.payload == b"", since=since, timeout=15)
    quiet_since = mqtt_client.mark()
    mqtt_client.assert_silent(BASE + "/first", 2.5, since=quiet_since)
    d.wait_for_log("reload: first removed")
    assert d.running


def test_bad_reload_keeps_the_running_config(simulator, daemon, mqtt_client):
    sim = simulator([helpers.make_plug("plug", "chuangmi.plug.m1")])
    d = daemon({"plug": device(sim, "plug")})
    mqtt_client.wait_for_json(BASE + "/plug", timeout=15)
    d.write_config("mqtt:\n  server: mqtt://127.0.0.1:1\ndevices:\n  plug:\n    protocol: miio\n    token: nothex\n")
    d.sighup()
    d.wait_for_log(r"reload rejected")
    d.wait_for_log(r"devices\.plug")
    since = mqtt_client.mark()
    mqtt_client.wait_for_json(BASE + "/plug", since=since, timeout=10)  # still polling, still connected
    assert d.running
