#!/usr/bin/python3
"""cloudless benchmarks (issue #3). Not a test: it measures and prints, it asserts nothing.

1. miIO codec cost per packet, ours (bench_miio_codec) against python3-miio's Message.build/parse on
   the same payloads, and the ratio.
2. The daemon bridging N simulated plugs (default 50, on 127.0.1.x) polled every second for S seconds
   (default 60) through a local mosquitto: resident memory (VmRSS, VmHWM) and CPU time as a share of
   one core, plus how many state messages reached the broker. The CPU time is the run time of all the
   daemon's threads (/proc/<pid>/task/*/schedstat, in nanoseconds): /proc/<pid>/stat counts 10 ms
   ticks, a 4 % step on the quarter second 50 plugs take in a minute.
3. Then, against the same simulated plugs, python3-miio sending the very requests the daemon's polls
   sent (bench/miio_python_poller.py) for S seconds: its CPU per answered poll, and the ratio to ours
   (our CPU per state message: each answered poll publishes one).
4. The floor (bench_poll_floor): the daemon's sockets, Asio loop and Paho publishes with our code taken
   out (no crypto, no JSON), through the same broker: what a poll costs when our work costs nothing,
   and so the most any change to our code could gain against python-miio.

Usage: bench/run_bench.py [--build build] [--plugs 50] [--seconds 60]
Midea air conditioners (/set and state latency, memory with 20 units): bench/midea_bench.py.
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import helpers  # noqa: E402  (Mosquitto, Simulator, MqttClient, to_yaml)

def token(i):
    """Each plug its own token, as in a real home: no per-token cache can serve two plugs."""
    return "%032x" % (0x00112233445566778899aabbccdd0000 + i)
MODELS = ["chuangmi.plug.v3", "chuangmi.plug.212a01", "cuco.plug.v3", "chuangmi.plug.m1"]


def codec(build):
    ours = json.loads(subprocess.check_output([str(build / "bench" / "bench_miio_codec"), "200000"]))
    theirs = json.loads(subprocess.check_output(["/usr/bin/python3", str(ROOT / "bench" / "miio_codec_python.py"), "5000"]))
    result = {
        "cloudless_ns": {"build_encrypt": ours["build_encrypt_ns"], "decrypt_parse": ours["decrypt_parse_ns"]},
        "python_miio_ns": {"build_encrypt": theirs["build_encrypt_ns"], "decrypt_parse": theirs["decrypt_parse_ns"]},
        "ratio": {
            "build_encrypt": round(theirs["build_encrypt_ns"] / ours["build_encrypt_ns"], 1),
            "decrypt_parse": round(theirs["decrypt_parse_ns"] / ours["decrypt_parse_ns"], 1),
        },
    }
    return result


def thread_cpu_seconds(pid):
    """Run time of all the process's threads (schedstat, nanoseconds), finer than stat's clock ticks."""
    total = 0
    for task in Path("/proc/%d/task" % pid).iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended between listing and reading
    return total / 1e9


def proc_status(pid, key):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])  # kB
    return None


def smaps_rollup(pid):
    """Rss split into what the daemon allocates (anonymous) and shared-library code pages (file)."""
    out = {}
    for line in Path("/proc/%d/smaps_rollup" % pid).read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "kB":
            out[parts[0].rstrip(":")] = int(parts[1])
    return {"pss_kb": out.get("Pss"), "anonymous_kb": out.get("Anonymous"), "file_backed_kb":
            (out.get("Rss", 0) - out.get("Anonymous", 0))}


def mappings(pid, top=15):
    """The mappings holding most of the resident set: which libraries the peak is made of."""
    rss, name = {}, None
    for line in Path("/proc/%d/smaps" % pid).read_text().splitlines():
        parts = line.split()
        if "-" in parts[0] and len(parts) >= 5 and not parts[0].endswith(":"):
            name = parts[5] if len(parts) > 5 else "[anonymous]"
        elif parts[0] == "Rss:":
            rss[name] = rss.get(name, 0) + int(parts[1])
    return dict(sorted(rss.items(), key=lambda kv: -kv[1])[:top])


def poll_calls(entries):
    """The requests of one poll of a plug: its logged requests up to the next repeat of the first."""
    calls = []
    for entry in entries:
        call = [entry["method"], entry.get("params") or []]
        if calls and call[0] == calls[0][0]:
            break
        calls.append(call)
    return calls


def python_miio(sim, since, seconds, work):
    plugs = []
    for p in sim.ready["plugs"]:
        calls = poll_calls(sim.requests(p["name"], since=since))
        if calls:
            plugs.append({"address": p["address"], "port": int(p["port"]), "token": p["token"], "calls": calls})
    spec = work / "python_plugs.json"
    spec.write_text(json.dumps(plugs))
    out = subprocess.check_output(["/usr/bin/python3", str(ROOT / "bench" / "miio_python_poller.py"), str(spec),
                                   str(seconds)], timeout=seconds + 120)
    result = json.loads(out)
    result["calls_per_poll"] = sorted({len(p["calls"]) for p in plugs})
    return result


def daemon(build, plugs, seconds, show_mappings=False):
    work = Path(tempfile.mkdtemp(prefix="cloudless_bench_"))
    broker = helpers.Mosquitto(work / "mosquitto")
    broker.start()
    specs = [helpers.make_plug("plug%d" % i, model=MODELS[i % len(MODELS)], address="127.0.1.%d" % (i + 1),
                               port=54321, token=token(i)) for i in range(plugs)]
    sim = helpers.Simulator(specs, work / "sim", max_runtime=2 * seconds + 180)
    daemon = None
    counter = None
    try:
        sim.start(timeout=30)
        devices = {p["name"]: {"protocol": "miio", "host": p["address"], "port": int(p["port"]), "token": p["token"],
                               "model": p["model"], "poll_interval": "1s"} for p in sim.ready["plugs"]}
        daemon = helpers.Daemon(build / "daemon" / "cloudless", work / "daemon", broker=broker)
        daemon.configure(devices, log_level="warning")
        counter = helpers.MqttClient(broker.host, broker.port, subscribe=("cloudless/+",))
        daemon.start(timeout=30)
        time.sleep(5)  # warm-up: handshakes, miIO.info, first discovery
        since = counter.mark()
        sim_mark = sim.mark()
        cpu0, t0 = thread_cpu_seconds(daemon.pid), time.monotonic()
        time.sleep(seconds)
        cpu1, t1 = thread_cpu_seconds(daemon.pid), time.monotonic()
        states = len([m for m in counter.find("cloudless/+", since=since)])
        ours = {
            "plugs": plugs,
            "poll_interval_s": 1,
            "seconds": round(t1 - t0, 1),
            "rss_kb": proc_status(daemon.pid, "VmRSS"),
            "peak_rss_kb": proc_status(daemon.pid, "VmHWM"),
            **smaps_rollup(daemon.pid),
            "cpu_seconds": round(cpu1 - cpu0, 4),
            "cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / (t1 - t0), 3),
            "state_messages": states,
            "state_messages_per_plug_per_second": round(states / plugs / (t1 - t0), 2),
            **({"mappings_kb": mappings(daemon.pid)} if show_mappings else {}),
            "cpu_us_per_answered_poll": round(1e6 * (cpu1 - cpu0) / states, 1) if states else None,
        }
        daemon.stop()
        theirs = python_miio(sim, sim_mark, seconds, work)
        ratio = None
        if ours["cpu_us_per_answered_poll"] and theirs.get("cpu_us_per_answered_poll"):
            ratio = round(theirs["cpu_us_per_answered_poll"] / ours["cpu_us_per_answered_poll"], 1)
        floor = json.loads(subprocess.check_output(
            [str(build / "bench" / "bench_poll_floor"), "tcp://%s:%d" % (broker.host, broker.port), str(plugs),
             str(int(seconds))], timeout=seconds + 60))
        ceiling = None
        if floor.get("cpu_us_per_answered_poll") and theirs.get("cpu_us_per_answered_poll"):
            ceiling = round(theirs["cpu_us_per_answered_poll"] / floor["cpu_us_per_answered_poll"], 1)
        return {"cloudless": ours, "python_miio": theirs, "python_miio_cpu_per_poll_over_ours": ratio,
                "floor": floor, "python_miio_cpu_per_poll_over_floor": ceiling}
    finally:
        if counter:
            counter.disconnect()
        if daemon and daemon.running:
            daemon.stop()
        sim.stop()
        broker.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=str(ROOT / "build"), help="build directory (RelWithDebInfo)")
    parser.add_argument("--plugs", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--mappings", action="store_true", help="list the mappings with the most resident memory")
    args = parser.parse_args()
    build = Path(args.build)
    report = {"codec": codec(build), "daemon": daemon(build, args.plugs, args.seconds, args.mappings)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
