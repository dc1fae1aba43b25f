#!/usr/bin/python3
"""The daemon bridging all three families at once (issue #12's combined memory figure). Not a test: it
measures and prints, it asserts nothing, and ctest never runs it.

Everything on loopback or a private D-Bus: a private mosquitto; --plugs simulated miIO plugs
(tests/sim/miio_plug_sim.py on 127.0.1.x, the four models of bench/run_bench.py, each its own token)
and --acs simulated Midea V3 units (tests/sim/midea_ac_sim.py on 127.0.4.x), all polled every second;
--sensors LYWSD03MMC sensors behind a fake bluetoothd (python-dbusmock, tests/integration/fake_bluez.py)
that each send one encrypted v5 advert a second (bench/ble_bench.py's frames and Flood method). After
every device has answered and --seconds of steady work: VmHWM and VmRSS (/proc/<pid>/status), Pss,
anonymous and file-backed memory (/proc/<pid>/smaps_rollup), the mappings holding most of it, the
state messages per family and the daemon's CPU time (its threads' run time) as a share of one core. Every
process started here is stopped at the end, whatever happens.

Usage: bench/mixed_bench.py [--build build] [--plugs 50] [--acs 20] [--sensors 50] [--seconds 60]
Build with the default RelWithDebInfo (not the ASan build) for meaningful figures.
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "bench"))
import helpers  # noqa: E402
import ble_bench  # noqa: E402  (sensor_macs, make_frames, FLOOD_CODE, KEY)
import run_bench  # noqa: E402  (MODELS, token, proc_status, smaps_rollup, mappings, thread_cpu_seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build", type=Path)
    parser.add_argument("--plugs", type=int, default=50)
    parser.add_argument("--acs", type=int, default=20)
    parser.add_argument("--sensors", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    report = run(args.build.resolve() / "daemon" / "cloudless", args.plugs, args.acs, args.sensors, args.seconds)
    print(json.dumps(report, indent=2))


def run(binary, plugs_wanted, acs_wanted, sensors_wanted, seconds, warm_up_rounds=25):
    """Runs the daemon (binary: the program, or a script that execs it under a tool) against the families
    wanted (a count of 0 leaves one out) for `seconds` after a warm-up; returns the report main() prints."""
    seconds = max(1.0, seconds)
    from fake_bluez import FakeBluez, device_path

    work = Path(tempfile.mkdtemp(prefix="cloudless-mixed-"))
    broker = helpers.Mosquitto(work / "mosquitto")
    plug_specs = [helpers.make_plug("plug%d" % i, model=run_bench.MODELS[i % len(run_bench.MODELS)],
                                    address="127.0.1.%d" % (i + 1), token=run_bench.token(i))
                  for i in range(plugs_wanted)]
    plugs = plugs_wanted and helpers.Simulator(plug_specs, work / "plugs", max_runtime=seconds + 600)
    acs = acs_wanted and helpers.MideaSimulator([helpers.make_ac("ac%02d" % i, address="127.0.4.%d" % (i + 2),
                                                  state={"power": i % 2 == 0, "indoor": 20 + i * 0.3})
                                  for i in range(acs_wanted)], work / "acs", max_runtime=seconds + 600)
    fake = sensors_wanted and FakeBluez(work / "bus")
    macs = ble_bench.sensor_macs(sensors_wanted)
    rounds = int(seconds) + warm_up_rounds + 5  # one advert per sensor and second: warm-up and measured run
    frames = ble_bench.make_frames(macs, rounds)
    daemon = client = None
    try:
        broker.start()
        plugs and plugs.start(timeout=30)
        acs and acs.start(timeout=30)
        if fake:
            fake.start()
            fake.add_adapter("hci0")
            for mac in macs:
                fake.add_device(mac, name="LYWSD03MMC")
            fake._call("/", "org.freedesktop.DBus.Mock", "AddMethod", "sssss",
                       ["org.cloudless.Bench", "Flood", "aoaayn", "", ble_bench.FLOOD_CODE])
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = fake.address  # the daemon inherits it

        ready_plugs = plugs.ready["plugs"] if plugs else []
        ready_acs = acs.ready["acs"] if acs else []
        devices = {p["name"]: {"protocol": "miio", "host": p["address"], "port": int(p["port"]), "token": p["token"],
                               "model": p["model"], "poll_interval": "1s"} for p in ready_plugs}
        devices.update({a["name"]: helpers.midea_device(a, poll_interval="1s") for a in ready_acs})
        devices.update({"s%d" % i: {"protocol": "xiaomi_ble", "mac": mac, "bindkey": ble_bench.KEY.hex()}
                        for i, mac in enumerate(macs)})
        client = helpers.MqttClient(broker.host, broker.port, subscribe=("cloudless/+",))
        daemon = helpers.Daemon(binary, work / "daemon", broker=broker)
        daemon.configure(devices, log_level="warning", **({"ble": {"adapter": "hci0"}} if fake else {}))
        daemon.start(timeout=120)  # a daemon run under callgrind (bench/text_order.py) starts slowly
        if fake:
            helpers.wait_until(lambda: "StartDiscovery" in fake.adapter_calls("hci0"), 30,
                               message="the daemon starting discovery")

        def advertise(round_):
            if not fake:
                return
            fake._conn.call_blocking("org.bluez", "/", "org.cloudless.Bench", "Flood", "aoaayn",
                                     [[device_path("hci0", mac) for mac in macs],
                                      [bytearray(frames[mac][round_]) for mac in macs], -60], timeout=60)

        # Warm-up: every plug and AC answered (a state each), every sensor's first advert bridged.
        wanted = set(devices)
        for round_ in range(warm_up_rounds):
            advertise(round_)
            time.sleep(1)
            if wanted <= {m.topic.split("/")[1] for m in client.find("cloudless/+")}:
                break
        seen = {m.topic.split("/")[1] for m in client.find("cloudless/+")}
        since = client.mark()
        cpu0, t0 = run_bench.thread_cpu_seconds(daemon.pid), time.monotonic()
        for i in range(int(seconds)):
            advertise(min(warm_up_rounds + i, rounds - 1))
            time.sleep(max(0.0, t0 + i + 1 - time.monotonic()))
        cpu1, t1 = run_bench.thread_cpu_seconds(daemon.pid), time.monotonic()
        states = client.find("cloudless/+", since=since)
        per_family = {family: sum(1 for m in states if m.topic.split("/")[1].startswith(prefix))
                      for family, prefix in (("miio", "plug"), ("midea", "ac"), ("ble", "s"))}
        report = {
            "plugs": plugs_wanted, "acs": acs_wanted, "sensors": sensors_wanted,
            "devices_with_a_state_before_measuring": "%d of %d" % (len(seen & wanted), len(wanted)),
            "seconds": round(t1 - t0, 1),
            "vmhwm_kb": run_bench.proc_status(daemon.pid, "VmHWM"),
            "vmrss_kb": run_bench.proc_status(daemon.pid, "VmRSS"),
            **run_bench.smaps_rollup(daemon.pid),
            "largest_mappings_kb": run_bench.mappings(daemon.pid, 10),
            "state_messages": per_family,
            "cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / (t1 - t0), 3),
        }
        return report
    finally:
        for step in (lambda: client and client.disconnect(), lambda: daemon and daemon.stop(),
                     lambda: fake and fake.stop(), lambda: acs and acs.stop(), lambda: plugs and plugs.stop(),
                     broker.stop):
            try:
                step()
            except Exception as exc:  # stop everything even if one stop fails
                print("warning: stopping: %r" % (exc,), file=sys.stderr)


if __name__ == "__main__":
    main()
