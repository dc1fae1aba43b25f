"""End-to-end tests of `cloudless run` with Midea air conditioners, written from the contract
(docs/contract.md, issue #4): a private mosquitto, the AC simulator (tests/sim/midea_ac_sim.py, fixture
`midea_simulator`) on 127.a.b.c addresses, and the daemon binary ($CLOUDLESS_BIN, default
build/daemon/cloudless). Every test is SKIPPED with the reason when the binary is missing.
Waits are bounded (wait_until / wait_for with generous deadlines); no duration is asserted.

What the simulator tells us and the tests rely on:
  log kind "set"      every decoded field of a 0x40 set (power, mode 1..5, target, fan_speed, swing
                      nibble, eco, turbo, sleep, freeze_protection, ...) or, with what=display_toggle,
                      {"display", "beep"}: the daemon's command as the unit would apply it
  log kinds           connect, close (reason), handshake_ok, handshake_bad, error_sent, request
  set_state           a change "by remote": only a poll (or /get) can tell the daemon

Contract points used here:
  cloudless/<id>                  JSON state: state, mode, target_temperature, indoor_temperature,
                                  outdoor_temperature (omitted when the unit has no reading), fan_mode,
                                  swing_mode, preset, display, beep, error_code, indoor_humidity,
                                  power, energy, last_seen
  cloudless/<id>/availability     retained online/offline; a dropped TCP connection is not "offline"
  cloudless/<id>/set, /set/<attr> JSON or raw; a command changes only what it names
  cloudless/<id>/get              poll now
  homeassistant/device/cloudless/<id>/config   device-based discovery; unique_id
                                  cloudless_midea_<appliance id>_<entity key>
"""

import datetime
import json
import re
import time

import pytest

import helpers

pytestmark = pytest.mark.usefixtures("cloudless_bin")

BASE = helpers.BASE_TOPIC
DISC = helpers.DISCOVERY_PREFIX
WAIT = 15.0

# poll every second; one attempt may take 1 s (config.h MideaDeviceConfig: poll_interval, timeout)
MIDEA_FAST = {"poll_interval": "1s", "timeout": "1s"}

# The simulator's numeric codes (midea_ac_sim.py MODES / SWINGS), as its "set" log reports them.
MODE_CODES = {"auto": 1, "cool": 2, "dry": 3, "heat": 4, "fan": 5}
SWING_CODES = {"off": 0x0, "vertical": 0xC, "horizontal": 0x3, "both": 0xF}
# Every setting a 0x40 set carries that the unit also reports in its C0 state: a command must send
# each of them unchanged except the ones it names.
SET_FIELDS = ("power", "mode", "target", "fan_speed", "swing", "eco", "turbo", "sleep",
              "freeze_protection", "purifier", "follow_me", "aux_heat", "fahrenheit", "target_humidity")

# One unit with a capability set that differs from the daemon's assumed defaults in every list:
# no auto mode, vertical swing only, no turbo (so no "boost" preset), humidity sensor, 17..32 °C.
CAPS = {
    "modes": ["cool", "dry", "heat"],
    "fan_speeds": ["low", "medium", "high", "auto"],
    "swing": ["vertical"],
    "eco": True,
    "turbo": False,
    "freeze_protection": True,
    "display_control": True,
    "humidity": "auto",
    "energy": True,
    "temperatures": {"cool": [17, 30], "auto": [17, 30], "heat": [17, 32], "decimals": True},
}
# Settings no command names (purifier, follow_me, aux_heat, target_humidity) are set too: every set
# must carry them unchanged.
STATE = {"power": True, "mode": "cool", "target": 22.5, "fan_speed": 60, "swing": "vertical", "eco": True,
         "purifier": True, "follow_me": True, "aux_heat": True, "target_humidity": 55,
         "indoor": 26.1, "outdoor": 31.0, "indoor_humidity": 48, "power_w": 612.5, "energy_kwh": 151.2}


# ------------------------------------------------------------------------------------------------
# helpers


def start_bridge(midea_simulator, daemon, acs, settings=None, **config):
    """Simulator with `acs`, daemon with one device per AC (device id = AC name)."""
    sim = midea_simulator(acs)
    devices = {}
    for spec in acs:
        s = dict(MIDEA_FAST)
        s.update((settings or {}).get(spec["name"], {}))
        devices[spec["name"]] = helpers.midea_device(sim.ac(spec["name"]), **s)
    d = daemon(devices, **config)
    return sim, d


def state_topic(name):
    return "%s/%s" % (BASE, name)


def availability_topic(name):
    return "%s/%s/availability" % (BASE, name)


def wait_state(client, name, predicate=None, since=0, timeout=WAIT):
    """The next JSON state on cloudless/<name> for which predicate(state) holds."""
    _, state = client.wait_for_json(state_topic(name), predicate, timeout=timeout, since=since)
    return state


def states(client, name, since=0):
    out = []
    for m in client.find(state_topic(name), since=since):
        try:
            out.append(m.json())
        except ValueError:
            pass
    return out


def wait_online(client, name, since=0, timeout=WAIT):
    """Waits for availability online; returns the mark just before that message (for no-offline checks)."""
    msg = client.wait_for(availability_topic(name), payload="online", since=since, timeout=timeout)
    return msg.seq - 1


def assert_never_offline(client, name, since):
    offline = client.find(availability_topic(name), lambda m: m.text == "offline", since)
    assert not offline, "availability of %s went offline: %s" % (name, offline)


def retained(mosquitto, topic="#"):
    return helpers.MqttClient.retained(mosquitto.host, mosquitto.port, topic)


def wait_retained(mosquitto, topic, predicate, timeout=WAIT, what=None):
    def check():
        for m in retained(mosquitto, topic).values():
            if helpers._safe(predicate, m):
                return m
        return None
    return helpers.wait_until(check, timeout, interval=0.3, message=what or "retained %s" % topic)


def uid_prefix(sim, name):
    return "cloudless_midea_%d_" % sim.ac(name)["id"]


def components(cfg, prefix):
    """{entity key: component} of an expanded discovery config, keyed by the unique_id suffix."""
    out = {}
    for comp in cfg.get("components", {}).values():
        uid = comp.get("unique_id", "")
        if uid.startswith(prefix):
            out[uid[len(prefix):]] = comp
    return out


def discovery_topic(name):
    return "%s/device/%s/%s/config" % (DISC, BASE, name)


def wait_discovery(client, sim, name, predicate=None, since=0, timeout=WAIT):
    """The next discovery config of `name` (expanded) whose components satisfy predicate(comps)."""
    prefix = uid_prefix(sim, name)

    def match(m):
        if not m.payload:
            return False
        comps = components(helpers.ha_expand(m.json()), prefix)
        return bool(comps) and (predicate is None or predicate(comps))

    msg = client.wait_for(discovery_topic(name), match, timeout=timeout, since=since)
    return msg, helpers.ha_expand(msg.json())


def assert_iso_utc_recent(text):
    assert isinstance(text, str), "last_seen must be a string: %r" % (text,)
    parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert parsed.utcoffset() == datetime.timedelta(0), text
    age = abs((datetime.datetime.now(datetime.timezone.utc) - parsed).total_seconds())
    assert age < 120, "last_seen %s is not recent" % text


def expected_set(sim_state, **changes):
    """The SET_FIELDS a 0x40 set must carry for a unit in `sim_state`, with `changes` applied."""
    out = {}
    for key in SET_FIELDS:
        value = sim_state[key]
        if key == "mode":
            value = MODE_CODES[value] if isinstance(value, str) else value
        elif key == "swing":
            value = SWING_CODES[value] if isinstance(value, str) else value
        out[key] = value
    out.update(changes)
    return out


def command(client, sim, name, suffix, payload, **changes):
    """Publishes `payload` on cloudless/<name>/<suffix>, waits for the one 0x40 set it causes and checks
    that every setting is as before except `changes` (simulator field names and codes). Returns the
    simulator's "set" log entry."""
    before = sim.state(name)["state"]
    mark = sim.mark()
    client.publish("%s/%s/%s" % (BASE, name, suffix), payload)
    entry = sim.wait_for_log(name, kind="set", since=mark, timeout=10)
    assert entry["what"] == "set", entry
    sent = {k: entry["fields"].get(k) for k in SET_FIELDS}
    assert sent == expected_set(before, **changes), "%s %s sent %s" % (suffix, payload, entry["fields"])
    return entry


def log_has(d, pattern):
    return re.search(pattern, d.log_text(), re.IGNORECASE | re.MULTILINE)


# ------------------------------------------------------------------------------------------------
# discovery and state


def test_discovery_config_follows_the_capabilities(midea_simulator, daemon, mosquitto, mqtt_client):
    ac = helpers.make_ac("living_ac", state=STATE, capabilities=CAPS)
    sim, d = start_bridge(midea_simulator, daemon, [ac])
    prefix = uid_prefix(sim, "living_ac")
    # the first config may carry assumed defaults: wait for the one the unit's B5 answer produced
    msg, cfg = wait_discovery(mqtt_client, sim, "living_ac",
                              lambda c: c.get("climate", {}).get("max_temp") == 32 and "power" in c)
    snap = retained(mosquitto, discovery_topic("living_ac"))
    assert discovery_topic("living_ac") in snap, "discovery config is not retained"
    cfg = helpers.ha_expand(snap[discovery_topic("living_ac")].json())
    comps = components(cfg, prefix)

    uids = [c["unique_id"] for c in cfg["components"].values()]
    assert len(uids) == len(set(uids)), "duplicate unique_id"
    assert all(u.startswith(prefix) for u in uids), uids  # from the appliance id, not the YAML name
    dev = cfg["device"]
    assert str(sim.ac("living_ac")["id"]) in json.dumps(dev["identifiers"]), dev
    assert "V3" in json.dumps(dev), dev

    climate = comps["climate"]
    assert climate["platform"] == "climate"
    assert climate["modes"] == ["off", "cool", "dry", "heat", "fan_only"]  # no auto: 0x0214 says so
    assert climate["fan_modes"] == ["low", "medium", "high", "auto"]
    assert climate["swing_modes"] == ["off", "vertical"]
    assert climate["preset_modes"] == ["eco", "sleep", "away"]  # no turbo: no boost; never "none"
    assert climate["min_temp"] == 17 and climate["max_temp"] == 32
    assert climate["temp_step"] == 0.5
    assert climate["mode_command_topic"] == "%s/living_ac/set/mode" % BASE
    assert climate["temperature_command_topic"] == "%s/living_ac/set/target_temperature" % BASE
    assert climate["fan_mode_command_topic"] == "%s/living_ac/set/fan_mode" % BASE
    assert climate["swing_mode_command_topic"] == "%s/living_ac/set/swing_mode" % BASE
    assert climate["preset_mode_command_topic"] == "%s/living_ac/set/preset" % BASE
    assert "indoor_temperature" in climate["current_temperature_template"]
    assert "indoor_humidity" in climate.get("current_humidity_template", "")

    for key, unit, dclass in (("indoor_temperature", "°C", "temperature"),
                              ("outdoor_temperature", "°C", "temperature"),
                              ("indoor_humidity", "%", "humidity"),
                              ("power", "W", "power"), ("energy", "kWh", "energy")):
        comp = comps.get(key)
        assert comp is not None, "no %s sensor: %s" % (key, sorted(comps))
        assert comp["platform"] == "sensor", (key, comp)
        assert comp.get("unit_of_measurement") == unit and comp.get("device_class") == dclass, (key, comp)
    assert comps["energy"].get("state_class") == "total_increasing"
    assert comps["error_code"]["platform"] == "sensor"
    assert comps["display"]["platform"] == "switch"
    assert comps["display"]["command_topic"] == "%s/living_ac/set/display" % BASE
    assert comps["beep"]["platform"] == "switch"

    avty = cfg.get("availability")
    topics = [a.get("topic") for a in avty]
    assert "%s/bridge/state" % BASE in topics and availability_topic("living_ac") in topics, avty
    assert cfg.get("availability_mode") == "all"
    wait_retained(mosquitto, availability_topic("living_ac"), lambda m: m.text == "online")


def test_state_json_matches_the_unit_and_follows_remote_changes(midea_simulator, daemon, mqtt_client):
    acs = [helpers.make_ac("living_ac", state=STATE, capabilities=CAPS),
           # a unit without an outdoor sensor reading
           helpers.make_ac("hall_ac", state=dict(STATE, outdoor=None, eco=False, swing="off", fan_speed=102),
                           capabilities=CAPS)]
    sim, d = start_bridge(midea_simulator, daemon, acs)
    state = wait_state(mqtt_client, "living_ac", lambda s: "power" in s and "indoor_humidity" in s)
    for key, value in state.items():
        assert value is not None, "%s is null (absent fields must be omitted): %s" % (key, state)
    assert_iso_utc_recent(state.pop("last_seen"))
    energy = state.pop("energy")
    assert isinstance(energy, float) and 151.2 <= energy < 151.3, energy  # grows while the unit runs
    assert state == {"state": "ON", "mode": "cool", "target_temperature": 22.5, "indoor_temperature": 26.1,
                     "outdoor_temperature": 31.0, "fan_mode": "medium", "swing_mode": "vertical",
                     "preset": "eco", "display": "ON", "beep": "ON", "error_code": 0, "indoor_humidity": 48,
                     "power": 612.5}

    hall = wait_state(mqtt_client, "hall_ac", lambda s: "indoor_humidity" in s)
    assert "outdoor_temperature" not in hall, hall
    assert hall["indoor_temperature"] == 26.1 and hall["fan_mode"] == "auto" and hall["swing_mode"] == "off"
    assert hall["preset"] == "none"

    # changed with the remote: the next poll (every second) shows it
    mark = mqtt_client.mark()
    sim.set_state("living_ac", power=False, mode="heat", target=19.5, fan_speed=40, swing="off", eco=False,
                  sleep=True, indoor=20.4, outdoor=-3.5, error_code=7, display=False)
    state = wait_state(mqtt_client, "living_ac", lambda s: s["state"] == "OFF", since=mark)
    assert state["mode"] == "off"  # HA's hvac mode: power off reads "off"
    assert state["target_temperature"] == 19.5
    assert state["fan_mode"] == "low" and state["swing_mode"] == "off" and state["preset"] == "sleep"
    assert state["indoor_temperature"] == 20.4 and state["outdoor_temperature"] == -3.5
    assert state["error_code"] == 7 and state["display"] == "OFF"
    assert d.running


def test_outdoor_temperature_is_omitted_once_the_unit_stops_reporting_it(midea_simulator, daemon, mqtt_client):
    sim, d = start_bridge(midea_simulator, daemon, [helpers.make_ac("living_ac", state=STATE, capabilities=CAPS)])
    wait_state(mqtt_client, "living_ac", lambda s: s.get("outdoor_temperature") == 31.0)
    mark = mqtt_client.mark()
    sim.set_state("living_ac", outdoor=None, indoor=20.4)  # the outdoor unit's sensor reads 0xFF now
    state = wait_state(mqtt_client, "living_ac", lambda s: s["indoor_temperature"] == 20.4, since=mark)
    wait_state(mqtt_client, "living_ac", since=mqtt_client.mark())  # one more poll after the change
    state = states(mqtt_client, "living_ac")[-1]
    assert "outdoor_temperature" not in state, state


# ------------------------------------------------------------------------------------------------
# commands


def test_set_commands_reach_the_unit_and_change_only_what_they_name(midea_simulator, daemon, mqtt_client):
    sim, d = start_bridge(midea_simulator, daemon, [helpers.make_ac("living_ac", state=STATE, capabilities=CAPS)])
    wait_state(mqtt_client, "living_ac", lambda s: s.get("mode") == "cool")
    name = "living_ac"

    def settles(predicate, mark):
        return wait_state(mqtt_client, name, predicate, since=mark, timeout=10)

    mark = mqtt_client.mark()
    command(mqtt_client, sim, name, "set", '{"mode":"heat"}', mode=MODE_CODES["heat"])
    settles(lambda s: s["mode"] == "heat", mark)

    mark = mqtt_client.mark()
    command(mqtt_client, sim, name, "set", '{"target_temperature":24.5}', target=24.5)
    settles(lambda s: s["target_temperature"] == 24.5, mark)
    assert sim.state(name)["state"]["target"] == 24.5

    mark = mqtt_client.mark()
    command(mqtt_client, sim, name, "set", '{"fan_mode":"high"}', fan_speed=80)
    settles(lambda s: s["fan_mode"] == "high", mark)

    mark = mqtt_client.mark()
    command(mqtt_client, sim, name, "set", '{"swing_mode":"off"}', swing=SWING_CODES["off"])
    settles(lambda s: s["swing_mode"] == "off", mark)

    # one preset at a time: sleep replaces eco
    mark = mqtt_client.mark()
    command(mqtt_client, sim, name, "set", '{"preset":"sleep"}', sleep=True, eco=False)
    settles(lambda s: s["preset"] == "sleep", mark)

    # two attributes in one command: one set carrying both
    mark = mqtt_client.mark()
    command(mqtt_client, sim, name, "set", '{"mode":"cool","target_temperature":21}',
            mode=MODE_CODES["cool"], target=21.0)
    settles(lambda s: s["mode"] == "cool" and s["target_temperature"] == 21, mark)

    # the raw form /set/<attr>
    mark = mqtt_client.mark()
    command(mqtt_client, sim, name, "set/target_temperature", "23.5", target=23.5)
    settles(lambda s: s["target_temperature"] == 23.5, mark)
    mark = mqtt_client.mark()
    command(mqtt_client, sim, name, "set/fan_mode", "auto", fan_speed=102)
    settles(lambda s: s["fan_mode"] == "auto", mark)
    mark = mqtt_client.mark()
    command(mqtt_client, sim, name, "set/preset", "none", sleep=False)
    settles(lambda s: s["preset"] == "none", mark)

    # beep is a bridge-side setting: nothing is sent, the next command carries it
    mark, sim_mark = mqtt_client.mark(), sim.mark()
    mqtt_client.publish("%s/%s/set/beep" % (BASE, name), "OFF")
    settles(lambda s: s.get("beep") == "OFF", mark)
    assert sim.log(name, kind="set", since=sim_mark) == []

    # power off keeps the mode
    mark = mqtt_client.mark()
    entry = command(mqtt_client, sim, name, "set", '{"state":"OFF"}', power=False)
    assert entry["fields"]["beep"] is False, entry
    state = settles(lambda s: s["state"] == "OFF", mark)
    assert state["mode"] == "off"
    assert sim.state(name)["state"]["mode"] == "cool"
    mark = mqtt_client.mark()
    command(mqtt_client, sim, name, "set/state", "ON", power=True)
    settles(lambda s: s["state"] == "ON" and s["mode"] == "cool", mark)

    # display: the unit only has a toggle, and no 0x40 set goes with it
    assert sim.state(name)["state"]["display"] is True
    mark, sim_mark = mqtt_client.mark(), sim.mark()
    mqtt_client.publish("%s/%s/set" % (BASE, name), '{"display":"OFF"}')
    entry = sim.wait_for_log(name, kind="set", since=sim_mark, timeout=10)
    assert entry["what"] == "display_toggle" and entry["fields"]["display"] is False, entry
    settles(lambda s: s["display"] == "OFF", mark)
    sets = sim.log(name, kind="set", since=sim_mark)
    assert [e["what"] for e in sets] == ["display_toggle"], sets
    # asking for the display state it already has sends nothing
    sim_mark = sim.mark()
    mqtt_client.publish("%s/%s/set/display" % (BASE, name), "OFF")
    time.sleep(1.5)
    assert sim.log(name, kind="set", since=sim_mark) == []
    mark = mqtt_client.mark()
    mqtt_client.publish("%s/%s/set/display" % (BASE, name), "ON")
    settles(lambda s: s["display"] == "ON", mark)
    assert sim.state(name)["state"]["display"] is True
    assert d.running


INVALID = [
    ("set", '{"mode":"turbo"}'),
    ("set", '{"mode":"auto"}'),               # 0x0214 of this unit has no auto mode
    ("set", '{"target_temperature":50}'),
    ("set", '{"target_temperature":16.5}'),   # below this unit's 17 °C
    ("set", '{"target_temperature":"warm"}'),
    ("set", '{"fan_mode":"hurricane"}'),
    ("set", '{"swing_mode":"horizontal"}'),   # vertical only
    ("set", '{"preset":"boost"}'),            # no turbo capability
    ("set", '{"state":"MAYBE"}'),
    ("set", '{"mode":"heat","target_temperature":99}'),  # one bad attribute: nothing at all changes
    ("set", '{"frobnicate":1}'),
    ("set", "not json"),
    ("set", "[1,2]"),
    ("set/mode", "warm"),
    ("set/target_temperature", "abc"),
    ("set/target_temperature", "nan"),
    ("set/fan_mode", "42"),
]


def test_invalid_set_values_are_rejected_and_nothing_is_sent(midea_simulator, daemon, mqtt_client):
    sim, d = start_bridge(midea_simulator, daemon, [helpers.make_ac("living_ac", state=STATE, capabilities=CAPS)])
    # the capabilities must be known before the checks mean anything
    d.wait_for_log(r"living_ac: capabilities: ", timeout=WAIT)
    wait_state(mqtt_client, "living_ac", lambda s: s.get("mode") == "cool")
    before = sim.state("living_ac")["state"]
    log_before = len(re.findall(r"warn", d.log_text(), re.IGNORECASE))
    sim_mark = sim.mark()
    for suffix, payload in INVALID:
        mqtt_client.publish("%s/living_ac/%s" % (BASE, suffix), payload)
    helpers.wait_until(lambda: len(re.findall(r"warn", d.log_text(), re.IGNORECASE)) >= log_before + len(INVALID),
                       WAIT, interval=0.2, message="one warning per invalid command")
    time.sleep(1.0)  # anything wrongly queued would have reached the unit by now
    assert d.running, "cloudless died on an invalid command:\n" + d.log_text()
    assert sim.log("living_ac", kind="set", since=sim_mark) == []
    after = sim.state("living_ac")["state"]
    assert {k: after[k] for k in SET_FIELDS} == {k: before[k] for k in SET_FIELDS}
    assert log_has(d, r"living_ac: command .*turbo.* rejected: unknown mode")
    assert log_has(d, r"living_ac: command .*50.* rejected: .*range 17\.\.32")
    # the command path still works afterwards
    command(mqtt_client, sim, "living_ac", "set/mode", "dry", mode=MODE_CODES["dry"])


def test_temp_step_is_half_a_degree_whatever_the_unit_reports_and_whole_degrees_on_request(
        midea_simulator, daemon, mqtt_client):
    # Both units say "decimals 0" in capability 0x0225, as 5 of the 21 published capability replies
    # do: that byte does not decide the step, the `temp_step` setting does (default 0.5 °C).
    caps = dict(CAPS, temperatures={"cool": [17, 30], "auto": [17, 30], "heat": [17, 32], "decimals": False})
    acs = [helpers.make_ac("half_ac", state=STATE, capabilities=caps),
           helpers.make_ac("whole_ac", state=STATE, capabilities=caps)]
    sim, d = start_bridge(midea_simulator, daemon, acs, settings={"whole_ac": {"temp_step": 1}})
    for name, step in (("half_ac", 0.5), ("whole_ac", 1)):
        # the config after the unit's B5 answer (17..32 °C), not the one with assumed defaults
        _, cfg = wait_discovery(mqtt_client, sim, name, lambda c: c.get("climate", {}).get("max_temp") == 32)
        climate = components(cfg, uid_prefix(sim, name))["climate"]
        assert climate["temp_step"] == step and climate["precision"] == step, climate
        wait_state(mqtt_client, name, lambda s: s.get("mode") == "cool")

    mark = mqtt_client.mark()
    command(mqtt_client, sim, "half_ac", "set", '{"target_temperature":24.5}', target=24.5)
    wait_state(mqtt_client, "half_ac", lambda s: s["target_temperature"] == 24.5, since=mark, timeout=10)
    assert sim.state("half_ac")["state"]["target"] == 24.5

    mark = mqtt_client.mark()
    command(mqtt_client, sim, "whole_ac", "set/target_temperature", "24.5", target=25.0)  # nearest whole degree
    wait_state(mqtt_client, "whole_ac", lambda s: s["target_temperature"] == 25.0, since=mark, timeout=10)
    command(mqtt_client, sim, "whole_ac", "set", '{"target_temperature":22.4}', target=22.0)
    assert sim.state("whole_ac")["state"]["target"] == 22.0


# ------------------------------------------------------------------------------------------------
# V2 and /get


def test_v2_unit_without_token_and_get_polls_now(midea_simulator, daemon, mqtt_client, mosquitto):
    ac = helpers.make_ac("old_ac", protocol="v2", state=dict(STATE, outdoor=None), capabilities=CAPS)
    sim, d = start_bridge(midea_simulator, daemon, [ac], settings={"old_ac": {"poll_interval": "60s"}})
    assert "token" not in d.config["devices"]["old_ac"]
    state = wait_state(mqtt_client, "old_ac", lambda s: "indoor_humidity" in s)
    assert state["state"] == "ON" and state["mode"] == "cool" and state["target_temperature"] == 22.5
    assert "outdoor_temperature" not in state, state
    assert sim.log("old_ac", kind="handshake_ok") == [] and sim.log("old_ac", kind="handshake_bad") == []
    _, cfg = wait_discovery(mqtt_client, sim, "old_ac")
    assert "V2" in json.dumps(cfg["device"]), cfg["device"]

    # changed by remote; the next poll is a minute away: /get asks now
    time.sleep(0.5)
    mark, sim_mark = mqtt_client.mark(), sim.mark()
    sim.set_state("old_ac", target=26.0, indoor=27.3)
    mqtt_client.publish("%s/old_ac/get" % BASE, "{}")
    sim.wait_for_log("old_ac", kind="request", predicate=lambda e: e["what"] == "query", since=sim_mark, timeout=5)
    state = wait_state(mqtt_client, "old_ac", lambda s: s["target_temperature"] == 26.0, since=mark, timeout=5)
    assert state["indoor_temperature"] == 27.3

    mark = mqtt_client.mark()
    command(mqtt_client, sim, "old_ac", "set", '{"mode":"dry","fan_mode":"low"}', mode=MODE_CODES["dry"], fan_speed=40)
    wait_state(mqtt_client, "old_ac", lambda s: s["mode"] == "dry" and s["fan_mode"] == "low", since=mark, timeout=10)
    wait_retained(mosquitto, availability_topic("old_ac"), lambda m: m.text == "online")


# ------------------------------------------------------------------------------------------------
# connection trouble


def test_dropped_connections_reconnect_without_going_offline(midea_simulator, daemon, mqtt_client):
    # every connection is closed by the unit after its 2nd reply (docs/midea.md §8 item 2, made frequent)
    ac = helpers.make_ac("living_ac", state=STATE, capabilities=CAPS, behaviour={"drop_after_replies": 2})
    sim, d = start_bridge(midea_simulator, daemon, [ac])
    since = wait_online(mqtt_client, "living_ac")
    helpers.wait_until(
        lambda: len([e for e in sim.log("living_ac", kind="close") if "drop_after_replies" in e["reason"]]) >= 3,
        WAIT, interval=0.2, message="the simulator to drop 3 connections")
    mark = mqtt_client.mark()
    sim.set_state("living_ac", indoor=24.8)
    wait_state(mqtt_client, "living_ac", lambda s: s["indoor_temperature"] == 24.8, since=mark)
    assert len(sim.log("living_ac", kind="handshake_ok")) >= 3  # every reconnect authenticates again

    # the control `drop`: the connection vanishes right before a command
    sim.set_behaviour("living_ac", drop_after_replies=None)
    for target in (23.0, 25.5):
        helpers.wait_until(lambda: sim.state("living_ac")["connections"] > 0, WAIT, message="a live connection")
        assert sim.drop("living_ac") >= 1
        mark = mqtt_client.mark()
        command(mqtt_client, sim, "living_ac", "set/target_temperature", str(target), target=target)
        wait_state(mqtt_client, "living_ac", lambda s: s["target_temperature"] == target, since=mark, timeout=10)
    mark = mqtt_client.mark()
    wait_state(mqtt_client, "living_ac", since=mark)  # polling goes on
    assert_never_offline(mqtt_client, "living_ac", since)
    assert not log_has(d, r"living_ac: offline")
    assert d.running


def test_error_mid_session_reauthenticates(midea_simulator, daemon, mqtt_client):
    sim, d = start_bridge(midea_simulator, daemon, [helpers.make_ac("living_ac", state=STATE, capabilities=CAPS)])
    since = wait_online(mqtt_client, "living_ac")
    wait_state(mqtt_client, "living_ac")
    sim_mark = sim.mark()
    # the 2nd reply of every connection is the 13-byte ERROR packet, then the unit closes (msmart #65)
    sim.set_behaviour("living_ac", error_after_replies=2)
    helpers.wait_until(lambda: len(sim.log("living_ac", kind="error_sent", since=sim_mark)) >= 2, WAIT,
                       interval=0.2, message="two ERROR packets sent")
    first_error = sim.log("living_ac", kind="error_sent", since=sim_mark)[0]["seq"]
    sim.wait_for_log("living_ac", kind="handshake_ok", since=first_error, timeout=WAIT)
    sim.set_behaviour("living_ac", error_after_replies=None)
    mark = mqtt_client.mark()
    sim.set_state("living_ac", target=20.5)
    wait_state(mqtt_client, "living_ac", lambda s: s["target_temperature"] == 20.5, since=mark)
    assert sim.log("living_ac", kind="handshake_bad", since=sim_mark) == []
    assert_never_offline(mqtt_client, "living_ac", since)
    assert not log_has(d, r"authentication failed")
    assert d.running


def test_wrong_token_is_reported_and_other_units_stay_online(midea_simulator, daemon, mqtt_client, mosquitto):
    acs = [helpers.make_ac("good_ac", state=STATE, capabilities=CAPS),
           helpers.make_ac("bad_ac", state=STATE, capabilities=CAPS)]
    sim = midea_simulator(acs)
    wrong_token = "%0128x" % 0xDEADBEEF
    devices = {"good_ac": helpers.midea_device(sim.ac("good_ac"), **MIDEA_FAST),
               "bad_ac": dict(helpers.midea_device(sim.ac("bad_ac"), **MIDEA_FAST), token=wrong_token)}
    d = daemon(devices)
    line = d.wait_for_log(r"^.*bad_ac: authentication failed: check token/key.*$", timeout=WAIT,
                          flags=re.MULTILINE)
    assert "good_ac" not in line.group(0)
    wait_retained(mosquitto, availability_topic("bad_ac"), lambda m: m.text == "offline",
                  what="bad_ac availability offline")
    entry = sim.wait_for_log("bad_ac", kind="handshake_bad", timeout=5)
    assert entry["reason"] == "wrong token"
    assert sim.log("bad_ac", kind="request") == []  # nothing got past the handshake

    since = wait_online(mqtt_client, "good_ac")
    mark = mqtt_client.mark()
    time.sleep(3.0)
    assert d.running, d.log_text()
    assert len(states(mqtt_client, "good_ac", since=mark)) >= 2, "good_ac stopped publishing"
    assert states(mqtt_client, "bad_ac") == []
    assert_never_offline(mqtt_client, "good_ac", since)
    wait_retained(mosquitto, availability_topic("good_ac"), lambda m: m.text == "online")
    # reported once, not on every retry, and the secrets never appear
    assert len(re.findall(r"bad_ac: authentication failed", d.log_text())) == 1, d.log_text()
    text = d.log_text().lower()
    for secret in (wrong_token, sim.ac("good_ac")["token"], sim.ac("good_ac")["key"], sim.ac("bad_ac")["key"]):
        assert secret not in text
    # commands to the refused unit go nowhere and break nothing
    mqtt_client.publish("%s/bad_ac/set" % BASE, '{"state":"OFF"}')
    command(mqtt_client, sim, "good_ac", "set/state", "OFF", power=False)
    assert sim.state("bad_ac")["state"]["power"] is True


def test_garbage_on_the_socket_is_ignored_with_a_log_line(midea_simulator, daemon, mqtt_client):
    # before every reply: random junk, a packet with a wrong SHA256, a C0 with a wrong CRC and the
    # real B5 notification, each its own write
    ac = helpers.make_ac("noisy_ac", state=STATE, capabilities=CAPS, behaviour={"garbage": True})
    sim, d = start_bridge(midea_simulator, daemon, [ac])
    since = wait_online(mqtt_client, "noisy_ac")
    d.wait_for_log(r"noisy_ac: rejected \d+ bad packet", timeout=WAIT)
    d.wait_for_log(r"noisy_ac: capabilities: modes off,cool,dry,heat,fan_only;", timeout=WAIT)
    mark = mqtt_client.mark()
    sim.set_state("noisy_ac", indoor=25.7, target=23.0)
    state = wait_state(mqtt_client, "noisy_ac", lambda s: s["indoor_temperature"] == 25.7, since=mark)
    assert state["target_temperature"] == 23.0 and state["mode"] == "cool" and state["fan_mode"] == "medium"
    # junk in one write with the answer and the answer split over many writes: still read right
    sim.set_behaviour("noisy_ac", merge=True, split_writes=True, split_pause=0.0005)
    mark = mqtt_client.mark()
    command(mqtt_client, sim, "noisy_ac", "set", '{"fan_mode":"high"}', fan_speed=80)
    wait_state(mqtt_client, "noisy_ac", lambda s: s["fan_mode"] == "high", since=mark, timeout=10)
    assert_never_offline(mqtt_client, "noisy_ac", since)
    assert d.running


def test_unsolicited_notifications_b5_ignored_c0_published_at_once(midea_simulator, daemon, mqtt_client):
    # Units push frames unasked. The frame-type-0x05 B5 (a property notification: swing-angle ids,
    # not capabilities) is logged at debug and changes nothing; a C0 pushed as a notification (frame
    # type 0x04, someone used the remote) is published without waiting for the next poll. A long
    # poll interval makes sure no poll brings the change instead.
    ac = helpers.make_ac("living_ac", state=STATE, capabilities=CAPS)
    sim, d = start_bridge(midea_simulator, daemon, [ac], settings={"living_ac": {"poll_interval": "600s"}})
    since = wait_online(mqtt_client, "living_ac")
    d.wait_for_log(r"living_ac: capabilities: modes off,cool,dry,heat,fan_only;", timeout=WAIT)
    wait_state(mqtt_client, "living_ac", lambda s: s.get("target_temperature") == 22.5)
    # the bridge republishes every state 1-3 s after it connects: that one must be behind us too
    d.wait_for_log(r"mqtt: republished availability of 1 device\(s\)", timeout=WAIT)
    # the first poll publishes once per answer (C0, then group data): let it finish
    quiet = {"mark": mqtt_client.mark(), "since": time.monotonic()}

    def first_poll_done():
        if states(mqtt_client, "living_ac", since=quiet["mark"]):
            quiet.update(mark=mqtt_client.mark(), since=time.monotonic())
        return time.monotonic() - quiet["since"] >= 1.0
    helpers.wait_until(first_poll_done, WAIT, interval=0.1, message="no state for 1 s after the first poll")
    queries = len(sim.log("living_ac", kind="request"))

    mark = mqtt_client.mark()
    sim.set_state("living_ac", target=21.0, indoor=25.2)  # by remote: only the push can tell the daemon
    assert sim.command("notify", ac="living_ac", kind="b5")["sent"] == 1
    d.wait_for_log(r"living_ac: ignored an unsolicited frame: body type 0xb5 \(capabilities_notification\), "
                   r"frame type 0x05", timeout=WAIT)
    assert sim.command("notify", ac="living_ac", kind="c0")["sent"] == 1
    state = wait_state(mqtt_client, "living_ac", lambda s: s["target_temperature"] == 21.0, since=mark)
    assert state["indoor_temperature"] == 25.2 and state["mode"] == "cool"
    # the B5 published nothing: every state since the mark is the pushed C0's
    assert [s["target_temperature"] for s in states(mqtt_client, "living_ac", since=mark)] == [21.0]
    assert len(sim.log("living_ac", kind="request")) == queries  # no poll, no capabilities query
    assert not log_has(d, r"living_ac: .*(rejected|capabilities: a B5)")
    assert_never_offline(mqtt_client, "living_ac", since)
    assert d.running
