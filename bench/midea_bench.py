#!/usr/bin/python3
"""Midea benchmark (issue #4). Not a test: it measures and prints, it asserts nothing; ctest never runs it.

Everything runs on loopback: a private mosquitto, the Midea AC simulator (tests/sim/midea_ac_sim.py,
V3 units with the token/key handshake) on 127.0.x.y, and the cloudless daemon of --build. Every
process started here is stopped at the end, whatever happens.

1. Latency, one V3 unit, --commands round trips each (default 200), p50/p99/max:
   * command: `{"target_temperature": X}` published on cloudless/<id>/set  ->  the simulator applying
     the 0x40 set. Both ends are wall-clock timestamps of this host (time.time() just before the
     publish; the "wall" field of the simulator's "set" log entry, taken when it decoded the frame).
     The next command waits until the state topic shows X, so commands never queue.
   * state: the indoor temperature changed in the simulator (control command set_state, "by remote")
     ->  the first cloudless/<id> message carrying it, as received by an MQTT client here
     (time.monotonic() on both sides). Trigger: `/get` published right after the change (default),
     or --trigger poll: nothing is published and the daemon's own poll (poll_interval 1 s) finds it,
     so the figure includes the wait for the next poll (each change is made at a random point of the
     interval: expect a p50 near 500 ms).
   The unit's poll_interval is 60 s with --trigger get, so no background poll competes.
   mosquitto runs with set_tcp_nodelay and the measuring client sets TCP_NODELAY (--nagle: neither),
   so the figures are the daemon's own: a state published right after the daemon's PUBACK of the
   /get waits for the broker's delayed ACK when the daemon's own MQTT socket keeps Nagle on.
2. Memory: the daemon bridging --acs simulated V3 units (default 20) polled every --poll-interval
   (default 1 s), after all of them answered and --seconds (default 30) of steady polling:
   VmRSS and VmHWM from /proc/<pid>/status; Pss, Anonymous and the file-backed rest of Rss from
   /proc/<pid>/smaps_rollup; CPU time over the steady period, as a share of one core (utime+stime) and
   per AC poll (the run time of all the daemon's threads from /proc/<pid>/task/*/schedstat, in
   nanoseconds, over the state messages: each answered poll publishes one). For comparison the same daemon with
   the same config but no device (the fixed cost: libraries, Paho, loggers).

Usage: bench/midea_bench.py [--build build] [--commands 200] [--trigger get|poll] [--nagle] [--acs 20]
                            [--seconds 30] [--poll-interval 1s] [--json]
Build with the default RelWithDebInfo (not the ASan build) for meaningful figures.
"""
import argparse
import json
import os
import random
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import helpers  # noqa: E402  (Mosquitto, MideaSimulator, MqttClient, Daemon, make_ac, midea_device)
from run_bench import thread_cpu_seconds  # noqa: E402

BASE = helpers.BASE_TOPIC


# ------------------------------------------------------------------------------------------------
# /proc readers


def proc_status(pid, key):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])  # kB
    return None


def smaps_rollup(pid):
    out = {}
    for line in Path("/proc/%d/smaps_rollup" % pid).read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "kB":
            out[parts[0].rstrip(":")] = int(parts[1])
    return {"pss_kb": out.get("Pss"), "anonymous_kb": out.get("Anonymous"),
            "file_backed_kb": out.get("Rss", 0) - out.get("Anonymous", 0)}


def cpu_seconds(pid):
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def memory(pid):
    return {"rss_kb": proc_status(pid, "VmRSS"), "peak_rss_kb": proc_status(pid, "VmHWM"), **smaps_rollup(pid)}


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n·p/100)
    return ordered[int(rank) - 1]


def summary_ms(seconds):
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 1), "p99_ms": round(percentile(ms, 99), 1),
            "max_ms": round(max(ms), 1), "mean_ms": round(statistics.fmean(ms), 1)}


# ------------------------------------------------------------------------------------------------
# the pieces, each stopped by the caller's finally


class Rig:
    def __init__(self, build, work):
        self.build = build
        self.work = work
        self.broker = None
        self.sim = None
        self.daemon = None
        self.client = None

    def start_broker(self, nodelay=True):
        # Nagle's algorithm on the broker's and on this client's sockets adds up to one delayed-ACK
        # period (40 ms on Linux) per hop to a small message that follows another; with nodelay the
        # figures show what the daemon itself adds (including its own Paho socket, as shipped).
        self.broker = helpers.Mosquitto(self.work / "mosquitto",
                                        listener_options=["set_tcp_nodelay true"] if nodelay else ())
        self.broker.start()
        self.client = helpers.MqttClient(self.broker.host, self.broker.port, subscribe=("%s/#" % BASE,))
        if nodelay:
            self.client._client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def start_sim(self, acs, max_runtime):
        self.sim = helpers.MideaSimulator(acs, self.work / ("sim%d" % time.monotonic_ns()), max_runtime=max_runtime)
        self.sim.start(timeout=30)
        return self.sim

    def start_daemon(self, devices, name="daemon", wait_online=True):
        self.daemon = helpers.Daemon(self.build / "daemon" / "cloudless", self.work / name, broker=self.broker)
        # warnings only: the daemon's own logging is not what is measured
        self.daemon.configure(devices, log_level="warning")
        self.daemon.start(wait_online=wait_online, timeout=30)
        return self.daemon

    def stop_daemon(self):
        if self.daemon is not None:
            self.daemon.stop()
            self.daemon = None

    def stop(self):
        for step in (self.stop_daemon,
                     lambda: self.client and self.client.disconnect(),
                     lambda: self.sim and self.sim.stop(),
                     lambda: self.broker and self.broker.stop()):
            try:
                step()
            except Exception as exc:  # stop everything even if one stop fails
                print("warning: stopping: %r" % (exc,), file=sys.stderr)


def wait_available(client, names, timeout):
    def all_online():
        return all(client.find("%s/%s/availability" % (BASE, n), lambda m: m.text == "online") for n in names)
    helpers.wait_until(all_online, timeout, interval=0.1, message="every unit online")


# ------------------------------------------------------------------------------------------------
# 1. latency


def latency(build, work, commands, trigger, nodelay):
    rig = Rig(build, work / "latency")
    try:
        rig.start_broker(nodelay)
        sim = rig.start_sim([helpers.make_ac("bench_ac", address="127.0.3.2",
                                             state={"power": True, "mode": "cool", "target": 22.0,
                                                    "indoor": 25.0})], max_runtime=3600)
        poll = "60s" if trigger == "get" else "1s"
        rig.start_daemon({"bench_ac": helpers.midea_device(sim.ac("bench_ac"), poll_interval=poll)})
        client = rig.client
        state_topic = "%s/bench_ac" % BASE
        client.wait_for(state_topic, timeout=20)
        wait_available(client, ["bench_ac"], 20)

        # commands: /set -> the simulator applies it
        set_lat = []
        for i in range(commands):
            target = 17.0 + (i % 27) * 0.5  # 17.0 .. 30.0: never the value just before (22.0 at start)
            sim_mark, mark = sim.mark(), client.mark()
            t0 = time.time()
            client.publish("%s/bench_ac/set" % BASE, json.dumps({"target_temperature": target}))
            entry = sim.wait_for_log("bench_ac", kind="set", since=sim_mark, timeout=10,
                                     predicate=lambda e, t=target: e["fields"]["target"] == t)
            set_lat.append(entry["wall"] - t0)
            client.wait_for_json(state_topic, lambda s, t=target: s.get("target_temperature") == t,
                                 since=mark, timeout=10)

        # state: a change in the simulator -> the state topic
        state_lat = []
        rng = random.Random(4)
        for i in range(commands):
            indoor = round(10.0 + (i % 150) * 0.1, 1)  # 10.0 .. 24.9: never the value just before (25.0 at start)
            if trigger == "poll":
                # the loop would otherwise lock onto the poll phase (each change made right after the
                # poll that reported the previous one): change at a random point of the interval
                time.sleep(rng.uniform(0.0, 1.0))
            mark = client.mark()
            sim.set_state("bench_ac", indoor=indoor)
            t0 = time.monotonic()
            if trigger == "get":
                client.publish("%s/bench_ac/get" % BASE, "{}")
            msg, _ = client.wait_for_json(state_topic, lambda s, v=indoor: s.get("indoor_temperature") == v,
                                          since=mark, timeout=10)
            state_lat.append(msg.t - t0)
        counters = sim.state("bench_ac")
        return {
            "set_to_unit": summary_ms(set_lat),
            "unit_to_state_topic": dict(summary_ms(state_lat), trigger="/get" if trigger == "get"
                                        else "1 s poll"),
            "broker_and_client_tcp_nodelay": nodelay,
            "tcp_connections": len(sim.log("bench_ac", kind="connect")),
            "handshakes": counters["handshakes"],
        }
    finally:
        rig.stop()


# ------------------------------------------------------------------------------------------------
# 2. memory


def resident(build, work, acs, seconds, poll_interval):
    rig = Rig(build, work / "memory")
    try:
        rig.start_broker()
        # the fixed cost: the daemon with an empty device list
        d = rig.start_daemon({}, name="empty")
        time.sleep(3)
        empty = memory(d.pid)
        rig.stop_daemon()

        specs = [helpers.make_ac("ac%02d" % i, address="127.0.4.%d" % (i + 2),
                                 state={"power": i % 2 == 0, "indoor": 20 + i * 0.3}) for i in range(acs)]
        sim = rig.start_sim(specs, max_runtime=seconds + 600)
        names = [s["name"] for s in specs]
        devices = {n: helpers.midea_device(sim.ac(n), poll_interval=poll_interval) for n in names}
        d = rig.start_daemon(devices, name="full")
        wait_available(rig.client, names, 60)
        time.sleep(2)  # every unit's capabilities, first group queries and discovery done
        since = rig.client.mark()
        cpu0, run0, t0 = cpu_seconds(d.pid), thread_cpu_seconds(d.pid), time.monotonic()
        time.sleep(seconds)
        cpu1, run1, t1 = cpu_seconds(d.pid), thread_cpu_seconds(d.pid), time.monotonic()
        full = memory(d.pid)
        states = len(rig.client.find("%s/+" % BASE, lambda m: m.topic.split("/")[1] in names, since))
        connections = sum(sim.state(n)["connections"] for n in names)
        offline = len(rig.client.find("%s/+/availability" % BASE, lambda m: m.text == "offline"))
        return {
            "acs": acs,
            "poll_interval": poll_interval,
            "steady_seconds": round(t1 - t0, 1),
            "daemon_with_acs": full,
            "daemon_without_devices": empty,
            "per_ac_rss_kb": round((full["rss_kb"] - empty["rss_kb"]) / acs, 1) if acs else None,
            "per_ac_anonymous_kb": round((full["anonymous_kb"] - empty["anonymous_kb"]) / acs, 1) if acs else None,
            "cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / (t1 - t0), 2),
            "state_messages": states,
            # each poll an AC answers publishes one state message
            "cpu_us_per_ac_poll": round(1e6 * (run1 - run0) / states, 1) if states else None,
            "state_messages_per_ac_per_second": round(states / acs / (t1 - t0), 2) if acs else None,
            "open_tcp_connections": connections,
            "availability_offline_messages": offline,
        }
    finally:
        rig.stop()


# ------------------------------------------------------------------------------------------------


def table(report):
    lines = []
    lat = report.get("latency")
    if lat:
        lines.append("Midea end-to-end latency, one V3 unit on loopback, %d round trips each"
                     % lat["set_to_unit"]["n"])
        lines.append("  %-44s %8s %8s %8s %8s" % ("", "p50 ms", "p99 ms", "max ms", "mean ms"))
        for label, key in (("/set published -> simulator applied the set", "set_to_unit"),
                           ("simulator change -> state topic (%s)" % lat["unit_to_state_topic"]["trigger"],
                            "unit_to_state_topic")):
            s = lat[key]
            lines.append("  %-44s %8.1f %8.1f %8.1f %8.1f" % (label, s["p50_ms"], s["p99_ms"], s["max_ms"],
                                                              s["mean_ms"]))
        lines.append("  (TCP connections opened: %d, V3 handshakes: %d; TCP_NODELAY on mosquitto and the measuring "
                     "client: %s)" % (lat["tcp_connections"], lat["handshakes"],
                                      "yes" if lat["broker_and_client_tcp_nodelay"] else "no"))
    mem = report.get("memory")
    if mem:
        full, empty = mem["daemon_with_acs"], mem["daemon_without_devices"]
        lines.append("")
        lines.append("Daemon memory: %d V3 units connected, polled every %s, after %.0f s steady"
                     % (mem["acs"], mem["poll_interval"], mem["steady_seconds"]))
        lines.append("  %-24s %10s %10s %10s %10s %10s" % ("", "VmRSS kB", "VmHWM kB", "Pss kB", "anon kB",
                                                           "file kB"))
        for label, m in (("%d ACs" % mem["acs"], full), ("no device", empty)):
            lines.append("  %-24s %10d %10d %10d %10d %10d" % (label, m["rss_kb"], m["peak_rss_kb"], m["pss_kb"],
                                                                m["anonymous_kb"], m["file_backed_kb"]))
        lines.append("  per AC: %.1f kB RSS, %.1f kB anonymous; CPU %.2f %% of one core, %.1f us per AC poll "
                     "(all threads' run time over state messages); %.2f states/AC/s; "
                     "%d TCP connections open; %d offline messages"
                     % (mem["per_ac_rss_kb"], mem["per_ac_anonymous_kb"], mem["cpu_percent_of_one_core"],
                        mem["cpu_us_per_ac_poll"] or 0.0,
                        mem["state_messages_per_ac_per_second"], mem["open_tcp_connections"],
                        mem["availability_offline_messages"]))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=str(ROOT / "build"), help="build directory (RelWithDebInfo)")
    parser.add_argument("--commands", type=int, default=200, help="round trips per latency figure")
    parser.add_argument("--trigger", choices=("get", "poll"), default="get",
                        help="how the daemon learns of a simulator change: /get, or its 1 s poll")
    parser.add_argument("--nagle", action="store_true",
                        help="leave Nagle on in mosquitto and the measuring client (mosquitto's default)")
    parser.add_argument("--acs", type=int, default=20, help="simulated units for the memory figure")
    parser.add_argument("--seconds", type=float, default=30, help="steady polling before memory is read")
    parser.add_argument("--poll-interval", default="1s", help="poll_interval of the units in the memory run")
    parser.add_argument("--skip", choices=("latency", "memory"), action="append", default=[])
    parser.add_argument("--json", action="store_true", help="print the report as JSON too")
    args = parser.parse_args()
    build = Path(args.build)
    binary = build / "daemon" / "cloudless"
    if not binary.exists():
        sys.exit("no daemon at %s: build it first (cmake -S . -B build -G Ninja && cmake --build build)" % binary)
    work = Path(tempfile.mkdtemp(prefix="cloudless_midea_bench_"))
    report = {}
    try:
        if "latency" not in args.skip:
            report["latency"] = latency(build, work, args.commands, args.trigger, not args.nagle)
        if "memory" not in args.skip:
            report["memory"] = resident(build, work, args.acs, args.seconds, args.poll_interval)
    except BaseException:
        print("logs kept in %s" % work, file=sys.stderr)
        raise
    shutil.rmtree(work, ignore_errors=True)
    print(table(report))
    if args.json:
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
