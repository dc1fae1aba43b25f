#!/usr/bin/python3
"""cloudless benchmarks (issue #3). Not a test: it measures and prints, it asserts nothing.

1. miIO codec cost per packet, ours (bench_miio_codec) against python3-miio's Message.build/parse on
   the same payloads, and the ratio.
2. The daemon bridging N simulated plugs (default 50, on 127.0.1.x) polled every second for S seconds
   (default 60) through a local mosquitto: resident memory (VmRSS, VmHWM) and CPU time (utime+stime)
   as a share of one core, plus how many state messages reached the broker.

Usage: bench/run_bench.py [--build build] [--plugs 50] [--seconds 60]
Midea air conditioners (/set and state latency, memory with 20 units): bench/midea_bench.py.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import helpers  # noqa: E402  (Mosquitto, Simulator, MqttClient, to_yaml)

TOKEN = "00112233445566778899aabbccddeeff"
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


def proc_stat(pid):
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime, seconds


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


def daemon(build, plugs, seconds):
    work = Path(tempfile.mkdtemp(prefix="cloudless_bench_"))
    broker = helpers.Mosquitto(work / "mosquitto")
    broker.start()
    specs = [helpers.make_plug("plug%d" % i, model=MODELS[i % len(MODELS)], address="127.0.1.%d" % (i + 1),
                               port=54321, token=TOKEN) for i in range(plugs)]
    sim = helpers.Simulator(specs, work / "sim", max_runtime=seconds + 120)
    daemon = None
    counter = None
    try:
        sim.start(timeout=30)
        devices = {p["name"]: {"protocol": "miio", "host": p["address"], "port": int(p["port"]), "token": TOKEN,
                               "model": p["model"], "poll_interval": "1s"} for p in sim.ready["plugs"]}
        daemon = helpers.Daemon(build / "daemon" / "cloudless", work / "daemon", broker=broker)
        daemon.configure(devices, log_level="warning")
        counter = helpers.MqttClient(broker.host, broker.port, subscribe=("cloudless/+",))
        daemon.start(timeout=30)
        time.sleep(5)  # warm-up: handshakes, miIO.info, first discovery
        since = counter.mark()
        cpu0, t0 = proc_stat(daemon.pid), time.monotonic()
        time.sleep(seconds)
        cpu1, t1 = proc_stat(daemon.pid), time.monotonic()
        states = len([m for m in counter.find("cloudless/+", since=since)])
        return {
            "plugs": plugs,
            "poll_interval_s": 1,
            "seconds": round(t1 - t0, 1),
            "rss_kb": proc_status(daemon.pid, "VmRSS"),
            "peak_rss_kb": proc_status(daemon.pid, "VmHWM"),
            **smaps_rollup(daemon.pid),
            "cpu_seconds": round(cpu1 - cpu0, 3),
            "cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / (t1 - t0), 2),
            "state_messages": states,
            "state_messages_per_plug_per_second": round(states / plugs / (t1 - t0), 2),
        }
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
    args = parser.parse_args()
    build = Path(args.build)
    report = {"codec": codec(build), "daemon": daemon(build, args.plugs, args.seconds)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
