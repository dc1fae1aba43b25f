"""What anyone who can publish to the broker can throw at the daemon: payloads nested tens of
thousands deep, payloads of megabytes, thousands of "republish everything" requests, and a config
that names a device like the bridge itself. The daemon must stay up, answer, keep its journal small
and its traffic bounded. Real parts: mosquitto on a free loopback port, the miIO plug simulator,
the cloudless binary.
"""

import re
import subprocess
import time

import pytest

import helpers
from helpers import MIIO_FAST

pytestmark = pytest.mark.usefixtures("cloudless_bin")

BASE = helpers.BASE_TOPIC
DISC = helpers.DISCOVERY_PREFIX
MAX_PAYLOAD = 64 * 1024


def start_plug(simulator, daemon, **settings):
    sim = simulator([helpers.make_plug("desk_plug", "chuangmi.plug.v3")])
    device = dict(MIIO_FAST)
    device.update(settings)
    d = daemon({"desk_plug": helpers.miio_device(sim.plug("desk_plug"), **device)})
    return sim, d


def wait_state(client, since=0, timeout=15.0):
    return client.wait_for_json("%s/desk_plug" % BASE, since=since, timeout=timeout)


def publish_many(mosquitto, topic, payload, count):
    """`count` copies of `payload` on `topic` as fast as mosquitto_pub sends them (one connection)."""
    lines = (payload + "\n") * count
    subprocess.run(["mosquitto_pub", "-h", mosquitto.host, "-p", str(mosquitto.port), "-t", topic, "-l", "-q", "0"],
                   input=lines, text=True, check=True, timeout=60)


def longest_log_line(d):
    return max((len(line) for line in d.log_text().splitlines()), default=0)


def assert_still_commands(sim, client, since_sim):
    """The command path works after the abuse: a /set reaches the plug."""
    client.publish("%s/desk_plug/set" % BASE, '{"state":"OFF"}')
    sim.wait_for_request("desk_plug", method="set_power", since=since_sim, timeout=15)


def test_a_set_nested_60000_deep_does_not_kill_the_daemon(simulator, daemon, mqtt_client):
    # 120 KB of brackets: the daemon died with SIGSEGV dumping it into the "rejected" log line.
    sim, d = start_plug(simulator, daemon)
    wait_state(mqtt_client)
    sim_mark = sim.mark()
    deep = '{"x":' + "[" * 60000 + "]" * 60000 + "}"
    mqtt_client.publish("%s/desk_plug/set" % BASE, deep)
    mqtt_client.publish("%s/bridge/request/health_check" % BASE, '{"transaction":' + "[" * 60000 + "]" * 60000 + "}")
    time.sleep(1.0)
    assert d.running, "cloudless died on a deeply nested payload:\n" + d.log_text()[-3000:]
    assert_still_commands(sim, mqtt_client, sim_mark)
    assert longest_log_line(d) < 2000


def test_nesting_beyond_32_levels_is_refused_with_a_reason(simulator, daemon, mqtt_client):
    sim, d = start_plug(simulator, daemon)
    wait_state(mqtt_client)
    mark = mqtt_client.mark()
    nested = "[" * 40 + "]" * 40
    mqtt_client.publish("%s/bridge/request/health_check" % BASE, '{"transaction":"t-1","x":%s}' % nested)
    _, response = mqtt_client.wait_for_json("%s/bridge/response/health_check" % BASE, since=mark, timeout=10)
    assert response["status"] == "error", response
    assert "nested deeper than 32 levels" in response["error"], response
    mqtt_client.publish("%s/desk_plug/set" % BASE, '{"state":%s}' % nested)
    d.wait_for_log(r"desk_plug: ignoring cloudless/desk_plug/set: JSON nested deeper than 32 levels")
    # 32 levels are still fine: the same request answers ok.
    mark = mqtt_client.mark()
    ok = "[" * 31 + "]" * 31
    mqtt_client.publish("%s/bridge/request/health_check" % BASE, '{"transaction":"t-2","x":%s}' % ok)
    _, response = mqtt_client.wait_for_json("%s/bridge/response/health_check" % BASE, since=mark, timeout=10)
    assert response["status"] == "ok" and response["transaction"] == "t-2", response


def test_payloads_over_64_kib_are_dropped_before_parsing(simulator, daemon, mqtt_client):
    sim, d = start_plug(simulator, daemon)
    wait_state(mqtt_client)
    sim_mark, mark = sim.mark(), mqtt_client.mark()
    big_command = '{"state":"OFF","padding":"%s"}' % ("a" * (2 * 1024 * 1024))
    for _ in range(3):
        mqtt_client.publish("%s/desk_plug/set" % BASE, big_command)
    mqtt_client.publish("%s/bridge/request/health_check" % BASE, '{"transaction":"%s"}' % ("b" * (MAX_PAYLOAD + 10)))
    d.wait_for_log(r"mqtt: dropped 1 message\(s\) over the 65536 byte limit")
    time.sleep(1.0)
    assert d.running
    # None of them was acted on: no set_power, no health response.
    assert [e for e in sim.requests("desk_plug", since=sim_mark) if e["method"] == "set_power"] == []
    assert mqtt_client.find("%s/bridge/response/health_check" % BASE, since=mark) == []
    # One warning, not one per message (rate-limited), and the journal never sees the payload.
    assert len(re.findall(r"over the 65536 byte limit", d.log_text())) == 1
    assert longest_log_line(d) < 2000
    assert_still_commands(sim, mqtt_client, sim_mark)


def test_a_rejected_command_is_quoted_as_a_bounded_excerpt(simulator, daemon, mqtt_client):
    sim, d = start_plug(simulator, daemon)
    wait_state(mqtt_client)
    mqtt_client.publish("%s/desk_plug/set" % BASE, '{"no_such_attribute":"%s"}' % ("z" * 60000))
    line = d.wait_for_log(r'desk_plug: command .* rejected: unknown attribute "no_such_attribute"')
    assert line
    assert longest_log_line(d) < 2000
    assert re.search(r"zzz… \(\d+ bytes\)", d.log_text())


@pytest.mark.parametrize("ask", ["ha_status", "republish_request"])
def test_two_thousand_republish_asks_cost_at_most_a_few_republishes(simulator, daemon, mosquitto, mqtt_client, ask):
    sim, d = start_plug(simulator, daemon, poll_interval="60s")
    config_topic = "%s/device/%s/desk_plug/config" % (DISC, BASE)
    mqtt_client.wait_for(config_topic, timeout=15)
    wait_state(mqtt_client)
    time.sleep(6.0)  # past the coalescing interval of the connect's own republish
    mark = mqtt_client.mark()
    if ask == "ha_status":
        publish_many(mosquitto, "%s/status" % DISC, "online", 2000)
    else:
        publish_many(mosquitto, "%s/bridge/request/republish_discovery" % BASE, "{}", 2000)
    # The first ask is served at once, every later one by a single republish 5 s after it.
    mqtt_client.wait_for(config_topic, since=mark, timeout=10)
    time.sleep(8.0)
    configs = mqtt_client.find(config_topic, since=mark)
    assert 1 <= len(configs) <= 3, "%d discovery republishes for 2,000 asks" % len(configs)
    states = mqtt_client.find("%s/desk_plug" % BASE, since=mark)
    assert 1 <= len(states) <= 4, "%d state republishes for 2,000 asks" % len(states)
    assert d.running


def test_a_device_called_bridge_is_a_config_error(cloudless_bin, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(
        "mqtt:\n  server: mqtt://127.0.0.1:1\n"
        "devices:\n"
        "  bridge:\n"
        "    protocol: miio\n    host: 127.0.0.9\n    token: 00112233445566778899aabbccddeeff\n")
    out = subprocess.run([str(cloudless_bin), "check-config", "--config", str(config)], capture_output=True,
                         text=True, timeout=15)
    assert out.returncode == helpers.EXIT_CONFIG, out
    assert "config.yaml:4: devices.bridge: device id 'bridge' is reserved" in out.stderr + out.stdout
    out = subprocess.run([str(cloudless_bin), "run", "--config", str(config)], capture_output=True, text=True,
                         timeout=15)
    assert out.returncode == helpers.EXIT_CONFIG, out
