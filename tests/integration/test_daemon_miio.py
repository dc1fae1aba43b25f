"""End-to-end tests of `cloudless run` with miIO plugs, written from the contract (docs/contract.md):
a private mosquitto, the plug simulator (tests/sim/miio_plug_sim.py) on 127.a.b.c addresses, and the
daemon binary ($CLOUDLESS_BIN, default build/daemon/cloudless). Every test is SKIPPED with the reason
when the binary is missing. Waits are bounded (≤ 15 s each); poll_interval is 1 s (helpers.MIIO_FAST).

Contract points used here:
  cloudless/bridge/state          retained online; LWT and clean stop: offline
  cloudless/<id>                  JSON state, numbers as numbers, last_seen ISO 8601 UTC
  cloudless/<id>/availability     retained online/offline (offline when nothing answered for ~3 polls)
  cloudless/<id>/set, /set/<attr> commands; retained commands are ignored; /get polls now
  homeassistant/device/cloudless/<object id>/config   retained device-based discovery (dev, o, cmps)
  unique_id                       cloudless_miio_<did decimal>_<entity key>
"""

import datetime
import json
import re
import signal
import time

import pytest

import helpers
from helpers import MIIO_FAST, MqttClient

pytestmark = pytest.mark.usefixtures("cloudless_bin")

BASE = helpers.BASE_TOPIC
DISC = helpers.DISCOVERY_PREFIX
DISCOVERY_TOPICS = "%s/device/%s/+/config" % (DISC, BASE)
WAIT = 15.0
NUMERIC = ("power", "energy", "voltage", "current", "temperature")


# ------------------------------------------------------------------------------------------------
# helpers


def start_bridge(simulator, daemon, plugs, device_settings=None, start=True, **config):
    """Simulator with `plugs`, daemon with one device per plug (device id = plug name)."""
    sim = simulator(plugs)
    device_settings = device_settings or {}
    devices = {}
    for spec in plugs:
        settings = dict(MIIO_FAST)
        settings.update(device_settings.get(spec["name"], {}))
        model = settings.pop("model", True)
        devices[spec["name"]] = helpers.miio_device(sim.plug(spec["name"]), model=model, **settings)
    d = daemon(devices, start=start, **config)
    return sim, d


def uid_prefix(sim, name):
    return "cloudless_miio_%d_" % sim.plug(name)["did"]


def components(cfg):
    """{platform-independent entity key: component} from an expanded discovery config, keyed by the
    unique_id suffix after cloudless_miio_<did>_."""
    out = {}
    for comp in cfg.get("components", {}).values():
        uid = comp.get("unique_id", "")
        m = re.match(r"^cloudless_miio_\d+_(.+)$", uid)
        if m:
            out[m.group(1)] = comp
    return out


def is_discovery_for(msg, prefix):
    if not msg.payload:
        return False
    cfg = helpers.ha_expand(msg.json())
    return any(c.get("unique_id", "").startswith(prefix) for c in cfg.get("components", {}).values())


def wait_discovery(client, sim, name, since=0, timeout=WAIT):
    prefix = uid_prefix(sim, name)
    msg = client.wait_for(DISCOVERY_TOPICS, lambda m: is_discovery_for(m, prefix), timeout=timeout, since=since)
    return msg, helpers.ha_expand(msg.json())


def wait_state(client, name, predicate=None, since=0, timeout=WAIT):
    """The next JSON state on cloudless/<name> for which predicate(state) holds."""
    _, state = client.wait_for_json("%s/%s" % (BASE, name), predicate, timeout=timeout, since=since)
    return state


def states(client, name, since=0):
    out = []
    for m in client.find("%s/%s" % (BASE, name), since=since):
        try:
            out.append(m.json())
        except ValueError:
            pass
    return out


def retained(mosquitto, topic="#"):
    return MqttClient.retained(mosquitto.host, mosquitto.port, topic)


def wait_retained(mosquitto, topic, predicate, timeout=WAIT, what=None):
    """Polls the broker's retained messages on `topic` until predicate(msg) holds for one of them."""
    def check():
        for m in retained(mosquitto, topic).values():
            if helpers._safe(predicate, m):
                return m
        return None
    return helpers.wait_until(check, timeout, interval=0.2, message=what or "retained %s" % topic)


def availability_topic(name):
    return "%s/%s/availability" % (BASE, name)


def assert_iso_utc_recent(text):
    assert isinstance(text, str), "last_seen must be a string: %r" % (text,)
    parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None and parsed.utcoffset() == datetime.timedelta(0), text
    age = abs((datetime.datetime.now(datetime.timezone.utc) - parsed).total_seconds())
    assert age < 120, "last_seen %s is not recent" % text


def assert_plug_state_shape(state):
    assert state.get("state") in ("ON", "OFF"), state
    for key, value in state.items():
        assert value is not None, "%s is null (absent fields must be omitted): %s" % (key, state)
        if key in NUMERIC:
            assert isinstance(value, (int, float)) and not isinstance(value, bool), \
                "%s must be a JSON number: %r" % (key, value)
    assert_iso_utc_recent(state.get("last_seen"))


def shared(cfg, comp, key, default=""):
    """A component option, or the device-level shared one (HA device-based discovery)."""
    return comp.get(key, cfg.get(key, default))


def availability_list(cfg, comp):
    """(topics, mode) of a component, inheriting the device-level keys."""
    avty = comp.get("availability", cfg.get("availability"))
    mode = comp.get("availability_mode", cfg.get("availability_mode"))
    topics = []
    if isinstance(avty, list):
        topics = [a.get("topic") for a in avty if isinstance(a, dict)]
    elif comp.get("availability_topic") or cfg.get("availability_topic"):
        topics = [comp.get("availability_topic") or cfg.get("availability_topic")]
    return topics, mode


# ------------------------------------------------------------------------------------------------
# the bridge itself


def test_bridge_state_info_and_devices_are_retained(simulator, daemon, mosquitto):
    sim, d = start_bridge(simulator, daemon, [helpers.make_plug("desk_plug", "chuangmi.plug.v3")])
    wait_retained(mosquitto, "%s/bridge/state" % BASE, lambda m: m.text == "online")
    info = wait_retained(mosquitto, "%s/bridge/info" % BASE, lambda m: isinstance(m.json(), dict))
    assert "version" in info.json()
    devices = wait_retained(
        mosquitto, "%s/bridge/devices" % BASE,
        lambda m: any(e.get("id") == "desk_plug" for e in m.json()), what="bridge/devices listing desk_plug",
    ).json()
    (entry,) = [e for e in devices if e["id"] == "desk_plug"]
    assert entry["protocol"] == "miio"
    assert entry.get("model") == "chuangmi.plug.v3"
    assert sim.plug("desk_plug")["address"] in json.dumps(entry)
    # secrets never appear: not in retained payloads, not in the log
    token = sim.plug("desk_plug")["token"]
    for m in retained(mosquitto).values():
        assert token not in m.text.lower(), m.topic
    assert token not in d.log_text().lower()


def test_cli_usage_errors_exit_2(cloudless_bin, tmp_path):
    d = helpers.Daemon(cloudless_bin, tmp_path)
    res = d.run_command("run", "--help", config=False)
    assert res.returncode == 0 and "--config" in res.stdout + res.stderr
    res = d.run_command("run", "--no-such-option", config=False)
    assert res.returncode == 2, res
    res = d.run_command("no-such-command", config=False)
    assert res.returncode == 2, res


BAD_CONFIG = """\
mqtt:
  server: mqtt://127.0.0.1:1
  base_topic: cloudless
state_dir: {state_dir}
devices:
  desk_plug:
    protocol: miio
    host: 127.0.0.2
    token: "0011"
    colour: blue
  hall_plug:
    protocol: miio
    host: 127.0.0.3
    token: 00112233445566778899aabbccddeeff
    poll_interval: often
"""


def _config_error_lines(text):
    return [l for l in text.splitlines() if re.search(r"config\.yaml:\d+: ", l)]


def test_check_config_lists_every_problem_and_exits_78(cloudless_bin, tmp_path):
    d = helpers.Daemon(cloudless_bin, tmp_path)
    d.write_config(BAD_CONFIG.format(state_dir=tmp_path / "state"))
    res = d.run_command("check-config")
    out = res.stdout + res.stderr
    assert res.returncode == helpers.EXIT_CONFIG, out
    assert re.search(r"config\.yaml:9: devices\.desk_plug\.token: \S", out), out
    assert re.search(r"config\.yaml:10: devices\.desk_plug\.colour: \S", out), out  # unknown keys are errors
    assert re.search(r"config\.yaml:15: devices\.hall_plug\.poll_interval: \S", out), out
    assert len(_config_error_lines(out)) >= 3

    good = helpers.daemon_config("mqtt://127.0.0.1:1", {"desk_plug": {
        "protocol": "miio", "host": "127.0.0.2", "token": "00112233445566778899aabbccddeeff",
        "model": "chuangmi.plug.v3", "poll_interval": "10s"}}, tmp_path / "state")
    d.write_config(good)
    res = d.run_command("check-config")
    assert res.returncode == 0, res.stdout + res.stderr


def test_run_with_bad_config_exits_78(cloudless_bin, tmp_path):
    d = helpers.Daemon(cloudless_bin, tmp_path)
    d.write_config(BAD_CONFIG.format(state_dir=tmp_path / "state"))
    d.start(wait_online=False)
    assert d.wait_exit(timeout=10) == helpers.EXIT_CONFIG, d.log_text()
    assert re.search(r"config\.yaml:9: devices\.desk_plug\.token: \S", d.log_text())


def test_sigterm_publishes_offline_and_exits_0(simulator, daemon, mosquitto, mqtt_client):
    sim, d = start_bridge(simulator, daemon, [helpers.make_plug("desk_plug", "chuangmi.plug.v3")])
    wait_state(mqtt_client, "desk_plug")
    assert d.stop(timeout=10) == 0, d.log_text()
    assert not d.killed, "cloudless ignored SIGTERM for 10 s"
    snap = retained(mosquitto, "%s/bridge/state" % BASE)
    assert snap["%s/bridge/state" % BASE].text == "offline"


def test_sigkill_leaves_the_last_will_offline(simulator, daemon, mosquitto, mqtt_client):
    sim, d = start_bridge(simulator, daemon, [helpers.make_plug("desk_plug", "chuangmi.plug.v3")])
    wait_state(mqtt_client, "desk_plug")
    mark = mqtt_client.mark()
    d.kill()
    mqtt_client.wait_for("%s/bridge/state" % BASE, payload="offline", since=mark, timeout=10)
    wait_retained(mosquitto, "%s/bridge/state" % BASE, lambda m: m.text == "offline")


# ------------------------------------------------------------------------------------------------
# Home Assistant discovery


def test_discovery_legacy_v3_plug(simulator, daemon, mosquitto, mqtt_client):
    sim, d = start_bridge(simulator, daemon, [helpers.make_plug("desk_plug", "chuangmi.plug.v3")])
    msg, cfg = wait_discovery(mqtt_client, sim, "desk_plug")
    assert msg.topic.split("/")[:3] == [DISC, "device", BASE]
    # retained on the broker
    snap = retained(mosquitto, DISCOVERY_TOPICS)
    assert msg.topic in snap, "discovery config is not retained"

    assert "device" in cfg and "origin" in cfg and "components" in cfg
    assert cfg["origin"].get("name"), cfg["origin"]
    dev = cfg["device"]
    assert dev.get("identifiers"), dev
    assert str(sim.plug("desk_plug")["did"]) in json.dumps(dev["identifiers"])
    assert dev.get("model_id", dev.get("model")) in ("chuangmi.plug.v3",) or "chuangmi.plug.v3" in json.dumps(dev)

    comps = components(cfg)
    uids = [c["unique_id"] for c in cfg["components"].values()]
    assert len(uids) == len(set(uids)), "duplicate unique_id"
    prefix = uid_prefix(sim, "desk_plug")
    assert all(u.startswith(prefix) for u in uids), uids
    assert {"state", "power", "energy", "temperature"} <= set(comps), sorted(comps)
    usb = [k for k in comps if "usb" in k]
    assert usb and comps[usb[0]]["platform"] == "switch", sorted(comps)

    sw = comps["state"]
    assert sw["platform"] == "switch"
    # shared options may sit at the config's top level (HA device-based discovery)
    assert shared(cfg, sw, "state_topic").startswith("%s/desk_plug" % BASE)
    assert shared(cfg, sw, "command_topic").startswith("%s/desk_plug/set" % BASE)
    power = comps["power"]
    assert power["platform"] == "sensor"
    assert power.get("device_class") == "power" and power.get("unit_of_measurement") == "W"
    assert power.get("state_class") == "measurement"
    energy = comps["energy"]
    assert energy.get("device_class") == "energy" and energy.get("unit_of_measurement") == "kWh"
    assert energy.get("state_class") == "total_increasing"
    temp = comps["temperature"]
    assert temp.get("device_class") == "temperature" and temp.get("unit_of_measurement") == "°C"

    for key, comp in comps.items():
        topics, mode = availability_list(cfg, comp)
        assert "%s/bridge/state" % BASE in topics and availability_topic("desk_plug") in topics, (key, topics)
        assert mode == "all", (key, mode)


def test_discovery_miot_212a01_plug(simulator, daemon, mqtt_client):
    sim, d = start_bridge(simulator, daemon, [helpers.make_plug("power_plug", "chuangmi.plug.212a01")])
    _, cfg = wait_discovery(mqtt_client, sim, "power_plug")
    comps = components(cfg)
    assert {"state", "power", "energy", "voltage", "temperature"} <= set(comps), sorted(comps)
    assert not [k for k in comps if "usb" in k]
    assert comps["voltage"].get("device_class") == "voltage"
    assert comps["voltage"].get("unit_of_measurement") == "V"
    assert comps["power"].get("unit_of_measurement") == "W"
    assert comps["energy"].get("unit_of_measurement") == "kWh"
    if "current" in comps:
        assert comps["current"].get("unit_of_measurement") == "A"


def test_ha_birth_message_triggers_republish(simulator, daemon, mqtt_client):
    sim, d = start_bridge(simulator, daemon, [helpers.make_plug("desk_plug", "chuangmi.plug.v3")],
                          device_settings={"desk_plug": {"poll_interval": "60s"}})
    wait_discovery(mqtt_client, sim, "desk_plug")
    wait_state(mqtt_client, "desk_plug")
    time.sleep(1.0)
    mark = mqtt_client.mark()
    mqtt_client.publish("%s/status" % DISC, "online")
    wait_discovery(mqtt_client, sim, "desk_plug", since=mark, timeout=10)
    mqtt_client.wait_for(availability_topic("desk_plug"), payload="online", since=mark, timeout=10)
    wait_state(mqtt_client, "desk_plug", since=mark, timeout=10)


def test_removed_device_has_its_discovery_cleared(simulator, daemon, mosquitto, mqtt_client):
    sim, d = start_bridge(simulator, daemon, [helpers.make_plug("keep_plug", "chuangmi.plug.v3"),
                                              helpers.make_plug("gone_plug", "chuangmi.plug.212a01")])
    wait_discovery(mqtt_client, sim, "keep_plug")
    gone_msg, _ = wait_discovery(mqtt_client, sim, "gone_plug")
    d.stop()
    config = dict(d.config)
    config["devices"] = {"keep_plug": config["devices"]["keep_plug"]}
    d.write_config(config)
    d.start()
    prefix = uid_prefix(sim, "gone_plug")

    def cleared():
        snap = retained(mosquitto, DISCOVERY_TOPICS)
        return not any(is_discovery_for(m, prefix) for m in snap.values()) and snap
    helpers.wait_until(cleared, WAIT, interval=0.3, message="gone_plug's retained discovery to be cleared")


# ------------------------------------------------------------------------------------------------
# state payloads


def test_state_212a01_scaling(simulator, daemon, mqtt_client):
    plug = helpers.make_plug("power_plug", "chuangmi.plug.212a01",
                             state={"load_w": 15.0, "power_jitter": 0, "energy_wh": 3215.0,
                                    "voltage": 231.0, "temperature": 38})
    sim, d = start_bridge(simulator, daemon, [plug])
    state = wait_state(mqtt_client, "power_plug", lambda s: "power" in s)
    assert_plug_state_shape(state)
    assert state["state"] == "ON"
    assert state["power"] == pytest.approx(15.0)            # raw 1500 × 0.01 W
    assert state["energy"] == pytest.approx(3.215, abs=0.002)  # raw Wh → kWh
    assert state["voltage"] == pytest.approx(231.0)
    assert state["temperature"] == pytest.approx(38)
    if "current" in state:
        assert state["current"] == pytest.approx(15.0 / 231.0, abs=0.002)  # raw mA → A


@pytest.mark.parametrize("reply_style", ["python", "compact"])
def test_state_v3_get_power_scaling(simulator, daemon, mqtt_client, reply_style):
    plug = helpers.make_plug("desk_plug", "chuangmi.plug.v3",
                             state={"load_w": 3.0, "power_jitter": 0, "temperature": 41},
                             behaviour={"reply_style": reply_style})
    sim, d = start_bridge(simulator, daemon, [plug])
    state = wait_state(mqtt_client, "desk_plug", lambda s: "power" in s)
    assert_plug_state_shape(state)
    assert state["state"] == "ON"
    assert state["power"] == pytest.approx(3.0)  # get_power [300] × 0.01 W
    assert state["temperature"] == pytest.approx(41)
    assert sim.requests("desk_plug", method="get_power")


def test_every_known_plug_model_publishes(simulator, daemon, mqtt_client):
    expected = {
        "m1_plug": ("chuangmi.plug.m1", {"state", "temperature"}),
        "v1_plug": ("chuangmi.plug.v1", {"state", "temperature"}),
        "v3_plug": ("chuangmi.plug.v3", {"state", "power", "temperature"}),
        "miot_plug": ("chuangmi.plug.212a01", {"state", "power", "energy", "voltage"}),
        "cuco_plug": ("cuco.plug.v3", {"state", "power", "energy"}),
    }
    plugs = [helpers.make_plug(name, model, state={"power": name != "v1_plug"})
             for name, (model, _) in expected.items()]
    sim, d = start_bridge(simulator, daemon, plugs)
    for name, (model, keys) in expected.items():
        state = wait_state(mqtt_client, name, lambda s, keys=keys: keys <= set(s))
        assert_plug_state_shape(state)
        assert state["state"] == ("OFF" if name == "v1_plug" else "ON"), (name, state)


@pytest.mark.parametrize("hello_token", ["token", "ff"])
def test_hello_token_field_does_not_matter(simulator, daemon, mqtt_client, hello_token):
    plug = helpers.make_plug("desk_plug", "chuangmi.plug.m1", behaviour={"hello_token": hello_token})
    sim, d = start_bridge(simulator, daemon, [plug])
    assert wait_state(mqtt_client, "desk_plug")["state"] == "ON"


def test_model_is_asked_with_miio_info_when_absent(simulator, daemon, mqtt_client):
    plug = helpers.make_plug("desk_plug", "chuangmi.plug.212a01", state={"load_w": 15.0, "power_jitter": 0})
    sim, d = start_bridge(simulator, daemon, [plug], device_settings={"desk_plug": {"model": None}})
    state = wait_state(mqtt_client, "desk_plug", lambda s: "power" in s)
    assert state["power"] == pytest.approx(15.0)
    assert sim.requests("desk_plug", method="miIO.info")


def test_output_both_publishes_attribute_topics(simulator, daemon, mqtt_client):
    plug = helpers.make_plug("desk_plug", "chuangmi.plug.212a01", state={"load_w": 15.0, "power_jitter": 0})
    sim, d = start_bridge(simulator, daemon, [plug], output="both")
    wait_state(mqtt_client, "desk_plug", lambda s: "power" in s)
    m = mqtt_client.wait_for("%s/desk_plug/power" % BASE, timeout=WAIT)
    assert float(m.text) == pytest.approx(15.0)
    mqtt_client.wait_for("%s/desk_plug/state" % BASE, payload="ON", timeout=WAIT)


@pytest.mark.parametrize("state_qos", [None, 1])
def test_states_go_at_state_qos_and_availability_at_qos_1(simulator, daemon, mqtt_client, state_qos):
    # The test client subscribes at QoS 1, so each message arrives at the QoS it was published with.
    plug = helpers.make_plug("desk_plug", "chuangmi.plug.212a01", state={"load_w": 15.0, "power_jitter": 0})
    sim, d = start_bridge(simulator, daemon, [plug], output="both",
                          mqtt_extra=None if state_qos is None else {"state_qos": state_qos})
    expected = 0 if state_qos is None else state_qos  # the default is 0
    wait_state(mqtt_client, "desk_plug", lambda s: "power" in s)
    mqtt_client.wait_for("%s/desk_plug/power" % BASE, timeout=WAIT)
    mqtt_client.wait_for("%s/desk_plug/availability" % BASE, payload="online", timeout=WAIT)
    assert {m.qos for m in mqtt_client.find("%s/desk_plug" % BASE)} == {expected}
    assert {m.qos for m in mqtt_client.find("%s/desk_plug/power" % BASE)} == {expected}
    assert {m.qos for m in mqtt_client.find("%s/desk_plug/availability" % BASE)} == {1}
    assert {m.qos for m in mqtt_client.find("%s/bridge/state" % BASE)} == {1}


# ------------------------------------------------------------------------------------------------
# commands


SET_CHECKS = {
    # model: (predicate for the OFF request, predicate for the ON request)
    "chuangmi.plug.v3": (
        lambda e: e["method"] == "set_power" and e["params"] == ["off"],
        lambda e: e["method"] == "set_power" and e["params"] == ["on"],
    ),
    "chuangmi.plug.212a01": (
        lambda e: e["method"] == "set_properties"
        and any(p["siid"] == 2 and p["piid"] == 1 and p["value"] is False for p in e["params"]),
        lambda e: e["method"] == "set_properties"
        and any(p["siid"] == 2 and p["piid"] == 1 and p["value"] is True for p in e["params"]),
    ),
}


@pytest.mark.parametrize("model", sorted(SET_CHECKS))
def test_set_reaches_the_plug_and_state_follows(simulator, daemon, mqtt_client, model):
    sim, d = start_bridge(simulator, daemon, [helpers.make_plug("desk_plug", model)])
    wait_state(mqtt_client, "desk_plug", lambda s: s["state"] == "ON")
    off_sent, on_sent = SET_CHECKS[model]

    mark, sim_mark = mqtt_client.mark(), sim.mark()
    mqtt_client.publish("%s/desk_plug/set" % BASE, '{"state":"OFF"}')
    sim.wait_for_request("desk_plug", predicate=off_sent, since=sim_mark, timeout=10)
    wait_state(mqtt_client, "desk_plug", lambda s: s["state"] == "OFF", since=mark, timeout=10)
    assert sim.state("desk_plug")["state"]["power"] is False

    mark, sim_mark = mqtt_client.mark(), sim.mark()
    mqtt_client.publish("%s/desk_plug/set/state" % BASE, "ON")
    sim.wait_for_request("desk_plug", predicate=on_sent, since=sim_mark, timeout=10)
    wait_state(mqtt_client, "desk_plug", lambda s: s["state"] == "ON", since=mark, timeout=10)
    assert sim.state("desk_plug")["state"]["power"] is True


def test_usb_switch_of_v3(simulator, daemon, mqtt_client):
    sim, d = start_bridge(simulator, daemon, [helpers.make_plug("desk_plug", "chuangmi.plug.v3")])
    wait_state(mqtt_client, "desk_plug", lambda s: s.get("usb") == "ON")
    sim_mark, mark = sim.mark(), mqtt_client.mark()
    mqtt_client.publish("%s/desk_plug/set" % BASE, '{"usb":"OFF"}')
    sim.wait_for_request("desk_plug", method="set_usb_off", since=sim_mark, timeout=10)  # answers a bare 0
    wait_state(mqtt_client, "desk_plug", lambda s: s.get("usb") == "OFF", since=mark, timeout=10)
    assert sim.state("desk_plug")["state"]["usb"] is False


def test_toggle_and_legacy_set_on_off_methods(simulator, daemon, mqtt_client):
    # chuangmi.plug.v1 switches with set_on / set_off (no params), not set_power.
    sim, d = start_bridge(simulator, daemon, [helpers.make_plug("desk_plug", "chuangmi.plug.v1")])
    wait_state(mqtt_client, "desk_plug", lambda s: s["state"] == "ON")
    sim_mark, mark = sim.mark(), mqtt_client.mark()
    mqtt_client.publish("%s/desk_plug/set/state" % BASE, "TOGGLE")
    sim.wait_for_request("desk_plug", method="set_off", since=sim_mark, timeout=10)
    wait_state(mqtt_client, "desk_plug", lambda s: s["state"] == "OFF", since=mark, timeout=10)
    sim_mark, mark = sim.mark(), mqtt_client.mark()
    mqtt_client.publish("%s/desk_plug/set" % BASE, '{"state":"toggle"}')
    sim.wait_for_request("desk_plug", method="set_on", since=sim_mark, timeout=10)
    wait_state(mqtt_client, "desk_plug", lambda s: s["state"] == "ON", since=mark, timeout=10)
    assert sim.state("desk_plug")["state"]["power"] is True


def test_get_polls_now(simulator, daemon, mqtt_client):
    sim, d = start_bridge(simulator, daemon, [helpers.make_plug("desk_plug", "chuangmi.plug.v3")],
                          device_settings={"desk_plug": {"poll_interval": "60s"}})
    wait_state(mqtt_client, "desk_plug")
    time.sleep(1.0)
    sim_mark, mark = sim.mark(), mqtt_client.mark()
    sim.set_state("desk_plug", power=False)  # changed by hand: only a poll can tell
    mqtt_client.publish("%s/desk_plug/get" % BASE, "{}")
    sim.wait_for_request("desk_plug", method="get_prop", since=sim_mark, timeout=5)
    wait_state(mqtt_client, "desk_plug", lambda s: s["state"] == "OFF", since=mark, timeout=5)


MALFORMED = [
    ("set", "not json"),
    ("set", '{"state":'),
    ("set", "[1,2,3]"),
    ("set", '"OFF"'),
    ("set", '{"frobnicate":1}'),
    ("set", '{"state":"MAYBE"}'),
    ("set", '{"state":12}'),
    ("set", ""),
    ("set/frobnicate", "1"),
    ("set/state", "MAYBE"),
    ("set/power", "100"),
]


def test_malformed_commands_are_rejected_and_nothing_breaks(simulator, daemon, mqtt_client):
    sim, d = start_bridge(simulator, daemon, [helpers.make_plug("desk_plug", "chuangmi.plug.v3"),
                                              helpers.make_plug("other_plug", "chuangmi.plug.212a01")])
    wait_state(mqtt_client, "desk_plug")
    wait_state(mqtt_client, "other_plug")
    sim_mark, mark = sim.mark(), mqtt_client.mark()
    for suffix, payload in MALFORMED:
        mqtt_client.publish("%s/desk_plug/%s" % (BASE, suffix), payload)
    time.sleep(3.0)
    assert d.running, "cloudless died on a malformed command:\n" + d.log_text()
    sets = [e for e in sim.requests("desk_plug", since=sim_mark) if e["method"].startswith("set")]
    assert sets == [], sets
    assert sim.state("desk_plug")["state"]["power"] is True
    assert len(states(mqtt_client, "other_plug", since=mark)) >= 2, "other_plug stopped publishing"
    assert re.search(r"warn", d.log_text(), re.IGNORECASE), "no warning logged for malformed commands"
    # the command path still works afterwards
    mqtt_client.publish("%s/desk_plug/set" % BASE, '{"state":"OFF"}')
    sim.wait_for_request("desk_plug", method="set_power", since=sim_mark, timeout=10)


def test_bridge_request_errors_get_an_error_response(simulator, daemon, mqtt_client):
    sim, d = start_bridge(simulator, daemon, [helpers.make_plug("desk_plug", "chuangmi.plug.v3")])
    mark = mqtt_client.mark()
    mqtt_client.publish("%s/bridge/request/no_such_command" % BASE, '{"transaction":"t-42"}')
    _, resp = mqtt_client.wait_for_json("%s/bridge/response/no_such_command" % BASE, since=mark, timeout=10)
    assert resp.get("status") == "error" and resp.get("error"), resp
    assert resp.get("transaction") == "t-42", resp
    mark = mqtt_client.mark()
    mqtt_client.publish("%s/bridge/request/no_such_command" % BASE, "not json")
    mqtt_client.wait_for_json("%s/bridge/response/no_such_command" % BASE,
                              lambda r: r.get("status") == "error", since=mark, timeout=10)
    assert d.running


def test_retained_set_commands_are_ignored(simulator, daemon, mqtt_client):
    # a stale retained command waits on the broker before the daemon subscribes
    mqtt_client.publish("%s/desk_plug/set" % BASE, '{"state":"OFF"}', retain=True)
    mqtt_client.publish("%s/desk_plug/set/state" % BASE, "OFF", retain=True)
    sim, d = start_bridge(simulator, daemon, [helpers.make_plug("desk_plug", "chuangmi.plug.v3")])
    wait_state(mqtt_client, "desk_plug")
    time.sleep(3.0)
    assert sim.requests("desk_plug", method="set_power") == []
    assert sim.state("desk_plug")["state"]["power"] is True
    assert all(s["state"] == "ON" for s in states(mqtt_client, "desk_plug"))
    assert re.search(r"retain", d.log_text(), re.IGNORECASE), "no warning about the retained command"
    # clear them (hygiene: the broker is per test anyway)
    mqtt_client.publish("%s/desk_plug/set" % BASE, "", retain=True)
    mqtt_client.publish("%s/desk_plug/set/state" % BASE, "", retain=True)


# ------------------------------------------------------------------------------------------------
# availability and failures


def test_availability_offline_after_missed_polls_and_back(simulator, daemon, mosquitto, mqtt_client):
    sim, d = start_bridge(simulator, daemon, [helpers.make_plug("desk_plug", "chuangmi.plug.v3")])
    mqtt_client.wait_for(availability_topic("desk_plug"), payload="online", timeout=WAIT)
    # one short gap (under one poll with its retry) must not flap the availability
    mark = mqtt_client.mark()
    sim.set_behaviour("desk_plug", silent=True)
    time.sleep(0.8)
    sim.set_behaviour("desk_plug", silent=False)
    mqtt_client.assert_silent(availability_topic("desk_plug"), 3.0, lambda m: m.text == "offline", since=mark)

    mark = mqtt_client.mark()
    sim.set_behaviour("desk_plug", silent=True)  # unplugged
    mqtt_client.wait_for(availability_topic("desk_plug"), payload="offline", since=mark, timeout=WAIT)
    wait_retained(mosquitto, availability_topic("desk_plug"), lambda m: m.text == "offline")
    assert d.running

    mark = mqtt_client.mark()
    sim.set_behaviour("desk_plug", silent=False)  # plugged in again
    mqtt_client.wait_for(availability_topic("desk_plug"), payload="online", since=mark, timeout=WAIT)
    wait_state(mqtt_client, "desk_plug", since=mark)


def test_broker_restart_republishes_everything(simulator, daemon, mosquitto, mqtt_client, mqtt_client_factory):
    sim, d = start_bridge(simulator, daemon, [helpers.make_plug("desk_plug", "chuangmi.plug.v3")])
    wait_discovery(mqtt_client, sim, "desk_plug")
    mqtt_client.wait_for(availability_topic("desk_plug"), payload="online", timeout=WAIT)
    mqtt_client.disconnect()

    mosquitto.kill()  # no persistence: every retained message is gone
    time.sleep(1.0)
    mosquitto.start()
    fresh = mqtt_client_factory()
    fresh.wait_for("%s/bridge/state" % BASE, payload="online", timeout=WAIT)
    wait_discovery(fresh, sim, "desk_plug")
    fresh.wait_for(availability_topic("desk_plug"), payload="online", timeout=WAIT)
    wait_state(fresh, "desk_plug")
    snap = retained(mosquitto)
    assert snap["%s/bridge/state" % BASE].text == "online"
    assert snap[availability_topic("desk_plug")].text == "online"
    prefix = uid_prefix(sim, "desk_plug")
    assert any(is_discovery_for(m, prefix) for t, m in snap.items() if t.startswith(DISC + "/"))
    assert d.running


def test_garbage_and_bad_checksums_from_a_plug_do_not_disturb(simulator, daemon, mqtt_client):
    plugs = [helpers.make_plug("noisy_plug", "chuangmi.plug.212a01", behaviour={"garbage": True}),
             helpers.make_plug("quiet_plug", "chuangmi.plug.v3")]
    sim, d = start_bridge(simulator, daemon, plugs)
    # the real reply follows the junk: the noisy plug still works
    wait_state(mqtt_client, "noisy_plug", lambda s: "power" in s)
    wait_state(mqtt_client, "quiet_plug")
    # now every reply carries a wrong checksum
    sim.set_behaviour("noisy_plug", garbage=False, answer_token="%032x" % 0x5EED)
    mark = mqtt_client.mark()
    time.sleep(5.0)
    assert d.running, d.log_text()
    assert len(states(mqtt_client, "quiet_plug", since=mark)) >= 3, "quiet_plug stopped publishing"
    sim.set_behaviour("noisy_plug", answer_token=None)
    wait_state(mqtt_client, "noisy_plug", since=mark)


def test_reply_with_wrong_token_is_reported(simulator, daemon, mqtt_client):
    plug = helpers.make_plug("desk_plug", "chuangmi.plug.v3", behaviour={"answer_token": "%032x" % 0xBAD})
    sim, d = start_bridge(simulator, daemon, [plug])
    mqtt_client.wait_for(availability_topic("desk_plug"), payload="offline", timeout=WAIT)
    line = d.wait_for_log(r"^.*token.*$", timeout=5, flags=re.IGNORECASE | re.MULTILINE)
    assert "desk_plug" in line.group(0) or sim.plug("desk_plug")["address"] in line.group(0), line.group(0)
    assert sim.plug("desk_plug")["token"] not in d.log_text().lower()  # a secret, never logged


def test_configured_wrong_token_goes_offline(simulator, daemon, mqtt_client):
    sim = simulator([helpers.make_plug("desk_plug", "chuangmi.plug.v3")])
    device = helpers.miio_device(sim.plug("desk_plug"), **MIIO_FAST)
    device["token"] = "%032x" % 0xDEADBEEF
    d = daemon({"desk_plug": device})
    mqtt_client.wait_for(availability_topic("desk_plug"), payload="offline", timeout=WAIT)
    assert sim.log("desk_plug", kind="bad_checksum"), "the daemon never sent a request"
    assert sim.requests("desk_plug") == []  # a real plug ignores them: nothing was executed
    assert d.running


def test_plug_that_drops_repeated_ids_survives_a_daemon_restart(simulator, daemon, mqtt_client):
    sim, d = start_bridge(simulator, daemon,
                          [helpers.make_plug("desk_plug", "chuangmi.plug.v3", behaviour={"dedup": True})])
    wait_state(mqtt_client, "desk_plug")
    d.restart()
    mark = mqtt_client.mark()
    wait_state(mqtt_client, "desk_plug", since=mark)
    mqtt_client.assert_silent(availability_topic("desk_plug"), 2.0, lambda m: m.text == "offline", since=mark)


# ------------------------------------------------------------------------------------------------
# energy and user mappings


def test_energy_stays_monotonic_across_plug_reboot_and_daemon_restart(simulator, daemon, mqtt_client):
    plug = helpers.make_plug("power_plug", "chuangmi.plug.212a01",
                             state={"load_w": 3600.0, "energy_wh": 5000.0})  # +1 Wh per second
    sim, d = start_bridge(simulator, daemon, [plug])
    first = wait_state(mqtt_client, "power_plug", lambda s: "energy" in s)["energy"]
    assert first == pytest.approx(5.0, abs=0.05)
    time.sleep(2.0)
    sim.reboot("power_plug", uptime=3)  # the plug's counter restarts from 0
    mark = mqtt_client.mark()
    wait_state(mqtt_client, "power_plug", lambda s: "energy" in s, since=mark)
    time.sleep(3.0)

    d.restart()  # the offset must come back from state_dir
    mark2 = mqtt_client.mark()
    wait_state(mqtt_client, "power_plug", lambda s: "energy" in s, since=mark2)
    time.sleep(2.0)
    energies = [s["energy"] for s in states(mqtt_client, "power_plug") if "energy" in s]
    assert all(b >= a - 1e-9 for a, b in zip(energies, energies[1:])), energies
    assert energies[-1] >= first
    assert energies[-1] < first + 0.1  # no double counting of the old total either


def test_unknown_miot_plug_bridged_with_a_yaml_mapping(simulator, daemon, mqtt_client):
    plug = helpers.make_plug("garage_plug", "acme.plug.x1", layout="chuangmi.plug.212a01",
                             state={"load_w": 15.0, "power_jitter": 0, "energy_wh": 2500.0})
    mapping = {"switch": {"siid": 2, "piid": 1},
               "power": {"siid": 5, "piid": 6, "scale": 0.01},
               "energy": {"siid": 5, "piid": 1, "scale": 0.001}}
    sim, d = start_bridge(simulator, daemon, [plug], device_settings={"garage_plug": {"miot": mapping}})
    state = wait_state(mqtt_client, "garage_plug", lambda s: "power" in s and "energy" in s)
    assert_plug_state_shape(state)
    assert state["state"] == "ON"
    assert state["power"] == pytest.approx(15.0)
    assert state["energy"] == pytest.approx(2.5, abs=0.01)
    _, cfg = wait_discovery(mqtt_client, sim, "garage_plug")
    assert {"state", "power", "energy"} <= set(components(cfg))

    sim_mark, mark = sim.mark(), mqtt_client.mark()
    mqtt_client.publish("%s/garage_plug/set" % BASE, '{"state":"OFF"}')
    sim.wait_for_request("garage_plug", predicate=SET_CHECKS["chuangmi.plug.212a01"][0], since=sim_mark, timeout=10)
    wait_state(mqtt_client, "garage_plug", lambda s: s["state"] == "OFF", since=mark, timeout=10)
