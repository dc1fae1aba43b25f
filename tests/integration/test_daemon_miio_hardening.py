"""End-to-end tests of the miIO field-hardening fixes: `cloudless run` against a private mosquitto and
the plug simulator (tests/sim/miio_plug_sim.py), which behaves here like a real plug where it must:
it drops request ids that are not above the last one it handled (strict_ids, remembered across
restarts of the daemon), answers -30012 "busy." or -9999 "user ack timeout" on request
(inject_error), and can send forged hello replies (garbage forged_hello).

Every wait is bounded; poll_interval is 1 s (helpers.MIIO_FAST unless a test needs the timeout and
retries that follow the poll interval).
"""

import datetime
import json
import os
import re
import time

import pytest

import helpers
from helpers import MIIO_FAST
from test_daemon_miio import BASE, WAIT, availability_topic, start_bridge, states, wait_state

pytestmark = pytest.mark.usefixtures("cloudless_bin")

COMMAND_LIFETIME = 5.0  # MiioPlug::kCommandLifetime
SWITCH_SPACING = 0.25  # MiioPlug::kSwitchSpacing
STATE_WRITE_INTERVAL = 30.0  # MiioPlug::kStateWriteInterval


def set_topic(name):
    return "%s/%s/set" % (BASE, name)


def switch_requests(sim, name, since=0):
    return [e for e in sim.requests(name, since=since) if e["method"].startswith("set")]


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def id_above(new, last):
    """The simulator's rule: ids 1..9998 wrap to 1; `new` is above `last` up to half the ring ahead."""
    return 1 <= (new - last) % 9998 <= 4999


# ------------------------------------------------------------------------------------------------
# commands


def test_a_burst_of_set_commands_is_latest_wins_and_polls_go_on(simulator, daemon, mqtt_client):
    sim, d = start_bridge(simulator, daemon, [helpers.make_plug("desk_plug", "chuangmi.plug.v3")])
    wait_state(mqtt_client, "desk_plug", lambda s: s["state"] == "ON")
    sim_mark = sim.mark()
    started = time.monotonic()
    for i in range(5000):
        mqtt_client.publish(set_topic("desk_plug"), '{"state":"%s"}' % ("ON" if i % 2 else "OFF"), qos=0)
    mqtt_client.publish(set_topic("desk_plug"), '{"state":"OFF"}')  # the last word, acknowledged
    burst_end = sim.mark()
    helpers.wait_until(lambda: sim.state("desk_plug")["state"]["power"] is False, WAIT, interval=0.1,
                       message="the plug to end up OFF")
    # polls were not starved behind the commands
    sim.wait_for_request("desk_plug", method="get_prop", since=burst_end, timeout=5)
    mark = mqtt_client.mark()
    wait_state(mqtt_client, "desk_plug", lambda s: s["state"] == "OFF", since=mark)
    assert d.running
    sent = switch_requests(sim, "desk_plug", since=sim_mark)
    # the newest command wins, and switch calls start at least 250 ms apart (MiioPlug::kSwitchSpacing)
    bound = (time.monotonic() - started) / SWITCH_SPACING + 2
    assert 1 <= len(sent) <= bound, "%d switch calls for 5001 commands (at most %.0f)" % (len(sent), bound)


def test_commands_to_an_unreachable_plug_expire_and_are_never_replayed(simulator, daemon, mqtt_client):
    sim, d = start_bridge(simulator, daemon, [helpers.make_plug("desk_plug", "chuangmi.plug.v3")])
    wait_state(mqtt_client, "desk_plug", lambda s: s["state"] == "ON")
    sim.set_behaviour("desk_plug", silent=True)  # unplugged
    for i in range(11):
        mqtt_client.publish(set_topic("desk_plug"), '{"state":"%s"}' % ("OFF" if i % 2 == 0 else "ON"))
        time.sleep(0.1)
    time.sleep(COMMAND_LIFETIME + 2.0)  # every command is older than its lifetime now
    sim_mark, mark = sim.mark(), mqtt_client.mark()
    sim.set_behaviour("desk_plug", silent=False)  # plugged in again
    wait_state(mqtt_client, "desk_plug", since=mark)
    time.sleep(2.0)
    replayed = [e for e in switch_requests(sim, "desk_plug", since=sim_mark) if e["answered"]]
    assert replayed == [], "stale commands replayed: %s" % [(e["method"], e["params"]) for e in replayed]
    assert sim.state("desk_plug")["state"]["power"] is True
    assert re.search(r"desk_plug: (set state \w+ dropped|setting state failed)", d.log_text()), \
        "no warning about the failed or dropped commands"


def test_failing_commands_count_for_availability_and_never_freshen_last_seen(simulator, daemon, mqtt_client):
    sim, d = start_bridge(simulator, daemon, [helpers.make_plug("desk_plug", "chuangmi.plug.v3")])
    wait_state(mqtt_client, "desk_plug")
    mqtt_client.wait_for(availability_topic("desk_plug"), payload="online", timeout=WAIT)
    mark = mqtt_client.mark()
    sim.set_behaviour("desk_plug", silent=True)
    silent_since = datetime.datetime.now(datetime.timezone.utc)
    # an automation keeps commanding the plug that no longer answers
    offline = []
    deadline = time.monotonic() + WAIT
    i = 0
    while not offline and time.monotonic() < deadline:
        mqtt_client.publish(set_topic("desk_plug"), '{"state":"%s"}' % ("OFF" if i % 2 == 0 else "ON"))
        i += 1
        time.sleep(0.5)
        offline = mqtt_client.find(availability_topic("desk_plug"), lambda m: m.text == "offline", since=mark)
    assert offline, "still online %.0f s after the plug fell silent, commands failing all along" % WAIT
    # The plug's poll may go offline a moment before the switch call in flight gives up (each has its
    # own attempts); the real state follows when that call fails, within the command's lifetime.
    published = helpers.wait_until(lambda: states(mqtt_client, "desk_plug", since=mark), COMMAND_LIFETIME + 5.0,
                                   message="the failed commands to put subscribers back on the real state")
    for state in published:
        # last_seen says when the plug was last heard (whole seconds), never later
        assert parse_time(state["last_seen"]) <= silent_since + datetime.timedelta(seconds=1), state
        assert state["state"] == "ON", state


def test_a_set_during_a_two_call_read_does_not_bounce_back(simulator, daemon, mqtt_client):
    # v3 reads with get_prop, then get_power; every answer takes 0.3 s
    plug = helpers.make_plug("desk_plug", "chuangmi.plug.v3", behaviour={"delay": 0.3})
    sim, d = start_bridge(simulator, daemon, [plug])
    wait_state(mqtt_client, "desk_plug", lambda s: s["state"] == "ON")
    # the /set lands while a get_prop is being answered: the reading from before it comes after it
    sim.wait_for_request("desk_plug", method="get_prop", since=sim.mark(), timeout=WAIT)
    mark = mqtt_client.mark()
    mqtt_client.publish(set_topic("desk_plug"), '{"state":"OFF"}')
    wait_state(mqtt_client, "desk_plug", lambda s: s["state"] == "OFF", since=mark)
    time.sleep(3.0)
    seen = [s["state"] for s in states(mqtt_client, "desk_plug", since=mark)]
    assert "ON" not in seen[seen.index("OFF"):], "the switch bounced back: %s" % seen
    assert sim.state("desk_plug")["state"]["power"] is False


def test_a_busy_plug_is_asked_again(simulator, daemon, mqtt_client):
    busy_once = {"code": -30012, "message": "busy.", "count": 1, "method": "set_power"}
    plug = helpers.make_plug("desk_plug", "chuangmi.plug.v3", behaviour={"inject_error": busy_once})
    sim, d = start_bridge(simulator, daemon, [plug])
    wait_state(mqtt_client, "desk_plug", lambda s: s["state"] == "ON")
    sim_mark, mark = sim.mark(), mqtt_client.mark()
    mqtt_client.publish(set_topic("desk_plug"), '{"state":"OFF"}')
    wait_state(mqtt_client, "desk_plug", lambda s: s["state"] == "OFF", since=mark)
    assert sim.state("desk_plug")["state"]["power"] is False
    replies = [e["reply"] for e in sim.requests("desk_plug", method="set_power", since=sim_mark)]
    assert len(replies) == 2 and replies[0]["error"]["code"] == -30012 and replies[1]["result"] == ["ok"], replies
    assert "setting state failed" not in d.log_text()


# ------------------------------------------------------------------------------------------------
# sessions


def test_a_restarted_daemon_resumes_above_the_last_id_the_plug_saw(simulator, daemon, mqtt_client):
    plug = helpers.make_plug("desk_plug", "chuangmi.plug.v3", behaviour={"strict_ids": True})
    sim, d = start_bridge(simulator, daemon, [plug])
    wait_state(mqtt_client, "desk_plug")
    for how in ("stop", "kill", "stop"):
        time.sleep(1.5)  # a few more polls: the ids move on
        d.kill() if how == "kill" else d.stop()
        last = sim.state("desk_plug")["last_id"]
        sim_mark, mark = sim.mark(), mqtt_client.mark()
        d.start()
        wait_state(mqtt_client, "desk_plug", since=mark)
        log = sim.log("desk_plug", since=sim_mark)
        dropped = [e["id"] for e in log if e["dropped"] == "id_not_above_last"]
        assert dropped == [], "after %s: ids %s dropped, the plug had seen %s" % (how, dropped, last)
        first = [e["id"] for e in log if e["kind"] == "request"][0]
        assert id_above(first, last), (how, first, last)


def test_a_forged_hello_does_not_change_the_session(simulator, daemon, mqtt_client):
    # Before every answer, "someone" sends a hello reply with another did and a far stamp from the
    # plug's address; the plug ignores requests under another did.
    plug = helpers.make_plug("desk_plug", "chuangmi.plug.v3",
                             behaviour={"strict_did": True, "garbage": ["forged_hello"]})
    sim, d = start_bridge(simulator, daemon, [plug])
    wait_state(mqtt_client, "desk_plug")
    mark = mqtt_client.mark()
    time.sleep(4.0)
    assert len(states(mqtt_client, "desk_plug", since=mark)) >= 2
    wrong_did = [e["id"] for e in sim.log("desk_plug") if e["dropped"] == "did"]
    assert wrong_did == [], "requests sent under the forged did: %s" % wrong_did


def test_offline_within_three_poll_intervals_at_a_one_second_poll(simulator, daemon, mosquitto, mqtt_client):
    # No timeout or retries in the config: they follow the 1 s poll interval.
    sim = simulator([helpers.make_plug("desk_plug", "chuangmi.plug.v3")])
    d = daemon({"desk_plug": helpers.miio_device(sim.plug("desk_plug"), poll_interval="1s")})
    mqtt_client.wait_for(availability_topic("desk_plug"), payload="online", timeout=WAIT)
    wait_state(mqtt_client, "desk_plug")
    # one lost datagram is never enough
    mark = mqtt_client.mark()
    sim.set_behaviour("desk_plug", silent=True)
    time.sleep(0.8)
    sim.set_behaviour("desk_plug", silent=False)
    mqtt_client.assert_silent(availability_topic("desk_plug"), 3.0, lambda m: m.text == "offline", since=mark)
    # unplugged: offline within 10 s (three intervals and the retry of the poll under way)
    mark = mqtt_client.mark()
    sim.set_behaviour("desk_plug", silent=True)
    mqtt_client.wait_for(availability_topic("desk_plug"), payload="offline", since=mark, timeout=10.0)
    mark = mqtt_client.mark()
    sim.set_behaviour("desk_plug", silent=False)
    mqtt_client.wait_for(availability_topic("desk_plug"), payload="online", since=mark, timeout=WAIT)


def test_an_unknown_legacy_plug_is_not_switched_to_miot_by_a_transient_error(simulator, daemon, mqtt_client):
    ack_timeouts = {"code": -9999, "message": "user ack timeout", "count": 4, "method": "get_prop"}
    plug = helpers.make_plug("odd_plug", "acme.plug.l1", layout="chuangmi.plug.m1",
                             behaviour={"inject_error": ack_timeouts})
    sim, d = start_bridge(simulator, daemon, [plug])
    wait_state(mqtt_client, "odd_plug", lambda s: s.get("state") == "ON")
    sim_mark, mark = sim.mark(), mqtt_client.mark()
    mqtt_client.publish(set_topic("odd_plug"), '{"state":"OFF"}')
    sim.wait_for_request("odd_plug", method="set_power", since=sim_mark, timeout=10)
    wait_state(mqtt_client, "odd_plug", lambda s: s["state"] == "OFF", since=mark)
    assert sim.state("odd_plug")["state"]["power"] is False


def test_an_unknown_miot_plug_is_found_out_despite_a_transient_error(simulator, daemon, mqtt_client):
    ack_timeouts = {"code": -9999, "message": "user ack timeout", "count": 2, "method": "get_properties"}
    plug = helpers.make_plug("odd_plug", "acme.plug.m2", layout="chuangmi.plug.212a01",
                             behaviour={"inject_error": ack_timeouts})
    sim, d = start_bridge(simulator, daemon, [plug])
    wait_state(mqtt_client, "odd_plug", lambda s: s.get("state") == "ON")
    sim_mark, mark = sim.mark(), mqtt_client.mark()
    mqtt_client.publish(set_topic("odd_plug"), '{"state":"OFF"}')
    sim.wait_for_request("odd_plug", method="set_properties", since=sim_mark, timeout=10)
    wait_state(mqtt_client, "odd_plug", lambda s: s["state"] == "OFF", since=mark)


# ------------------------------------------------------------------------------------------------
# energy


def energies(client, name, since=0):
    return [s["energy"] for s in states(client, name, since=since) if "energy" in s]


def test_a_counter_back_at_an_older_value_adds_no_jump(simulator, daemon, mqtt_client):
    plug = helpers.make_plug("power_plug", "chuangmi.plug.212a01", state={"load_w": 0.0, "energy_wh": 5000.0})
    sim, d = start_bridge(simulator, daemon, [plug])
    first = wait_state(mqtt_client, "power_plug", lambda s: "energy" in s)["energy"]
    assert first == pytest.approx(5.0, abs=0.002)
    sim_mark, mark = sim.mark(), mqtt_client.mark()
    sim.set_state("power_plug", energy_wh=4000.0)  # the plug's counter shows an older value
    sim.wait_for_request("power_plug", method="get_properties", since=sim_mark, timeout=5)
    wait_state(mqtt_client, "power_plug", since=mark)
    time.sleep(3.0)
    later = energies(mqtt_client, "power_plug", since=mark)
    assert later and all(first - 1e-9 <= e <= first + 0.002 for e in later), later
    d.wait_for_log(r"power_plug: the plug's energy counter went back from 5 to 4 kWh", timeout=5)


def test_energy_never_goes_backwards_after_sigkill(simulator, daemon, mqtt_client):
    # v3 reports only power: energy is integrated here (3600 W: 1 Wh a second)
    plug = helpers.make_plug("desk_plug", "chuangmi.plug.v3", state={"load_w": 3600.0, "power_jitter": 0})
    sim, d = start_bridge(simulator, daemon, [plug])
    wait_state(mqtt_client, "desk_plug", lambda s: s.get("energy", 0) > 0, timeout=STATE_WRITE_INTERVAL + WAIT)
    time.sleep(3.0)  # a few more readings, each published
    before = max(energies(mqtt_client, "desk_plug"))
    d.kill()  # no chance to write anything
    mark = mqtt_client.mark()
    d.start()
    after = wait_state(mqtt_client, "desk_plug", lambda s: "energy" in s, since=mark)["energy"]
    assert after >= before, "energy went back from %s to %s" % (before, after)
    all_energies = energies(mqtt_client, "desk_plug")
    assert all(b >= a for a, b in zip(all_energies, all_energies[1:])), all_energies


def test_a_negative_saved_energy_is_not_restored(simulator, daemon, mqtt_client):
    sim = simulator([helpers.make_plug("power_plug", "chuangmi.plug.212a01",
                                       state={"load_w": 0.0, "energy_wh": 5000.0})])
    d = daemon({"power_plug": helpers.miio_device(sim.plug("power_plug"), **MIIO_FAST)}, start=False)
    path = d.state_dir / "miio_power_plug.json"
    path.write_text(json.dumps({"did": sim.plug("power_plug")["did"], "model": "chuangmi.plug.212a01",
                                "energy": {"total_kwh": -5.0, "last_device_counter_kwh": 5.0}}))
    os.chmod(path, 0o600)
    d.start()
    state = wait_state(mqtt_client, "power_plug", lambda s: "energy" in s)
    assert state["energy"] == pytest.approx(5.0, abs=0.002)  # afresh from the plug's own counter
    d.wait_for_log(r"power_plug: saved energy not restored \(total_kwh -5\.0 is not a meter reading\)", timeout=5)
