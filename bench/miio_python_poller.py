#!/usr/bin/python3
"""python-miio doing what the cloudless daemon does, for a side-by-side CPU figure (issue #12).

Reads a JSON list of plugs, each {"address", "port", "token", "calls": [[method, params], ...]}: the
requests one cloudless poll of that plug sent (run_bench.py copies them from the simulator's log).
Polls every plug once per interval with python3-miio's Device.send, one plug after the other like a
single-threaded bridge, for the given number of seconds after one warm-up round (handshakes), and
prints JSON: answered polls, CPU seconds of this process (user + system) and CPU per answered poll.
MQTT is left out: python-miio has none, so its figure is a lower bound for a Python bridge.

Usage: miio_python_poller.py PLUGS.json SECONDS [INTERVAL]
"""
import json
import logging
import resource
import sys
import time

from miio import Device
from miio.exceptions import DeviceException


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def poll(device, calls):
    """One poll: every call of the plug's poll; True when each was answered."""
    for method, params in calls:
        try:
            device.send(method, params)
        except DeviceException:
            return False
    return True


def main():
    logging.disable(logging.CRITICAL)  # python-miio logs every retry at warning
    plugs = json.loads(open(sys.argv[1]).read())
    seconds = float(sys.argv[2])
    interval = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
    if any(p["port"] != 54321 for p in plugs):
        sys.exit("python-miio's Device always talks to port 54321")
    devices = [(Device(p["address"], p["token"]), p["calls"]) for p in plugs]
    for device, calls in devices:  # warm-up: the hello handshake of each plug, outside the measurement
        poll(device, calls)
    answered = failed = 0
    cpu0, start = cpu_seconds(), time.monotonic()
    rounds = max(1, int(seconds / interval))
    for round_index in range(rounds):
        for device, calls in devices:
            if poll(device, calls):
                answered += 1
            else:
                failed += 1
        next_round = start + (round_index + 1) * interval
        time.sleep(max(0.0, next_round - time.monotonic()))
    cpu = cpu_seconds() - cpu0
    print(json.dumps({
        "plugs": len(devices),
        "seconds": round(time.monotonic() - start, 1),
        "answered_polls": answered,
        "failed_polls": failed,
        "cpu_seconds": round(cpu, 3),
        "cpu_us_per_answered_poll": round(1e6 * cpu / answered, 1) if answered else None,
    }))


if __name__ == "__main__":
    main()
