#!/usr/bin/python3
"""cloudless BLE benchmarks (issue #5). Not a test: it measures and prints, it asserts nothing, and
ctest never runs it.

(a) codec: parse + decrypt + decode cost per encrypted MiBeacon advert, cloudless' decode_advert
    (bench_ble_codec, C++/OpenSSL EVP) against the same work in Python with python3-cryptography's
    AESCCM (bench/ble_codec_python.py), on docs/ble.md §3 vectors (v5 V16, V18; v4 S1); the ratio.
    Both sides report CPU time of their own process, so other load on the machine inflates them less.

(b) daemon: adverts per second from D-Bus to MQTT on one core. A fake bluetoothd (python-dbusmock's
    bluez5 template on a private bus used as the system bus, tests/integration/fake_bluez.py) gets an
    extra method, Flood, that emits one Device1 PropertiesChanged (ServiceData + RSSI, the real
    types) per frame it is given, as fast as libdbus sends them. The frames are v5 encrypted adverts
    of `--sensors` configured sensors with fresh frame counters (so none is a duplicate), made here
    with AESCCM before the clock starts. `cloudless run` bridges them to a private mosquitto; a
    counting MQTT client receives the state messages. Reported: adverts injected, state messages
    received, wall time, CPU seconds of the daemon, the mock (the injector), dbus-daemon and
    mosquitto, and from them the daemon's CPU per advert and the rate one core would sustain
    (1 / CPU per advert). Which process ran out of CPU first is the bottleneck, said plainly.

Usage: bench/ble_bench.py [--build build] [--codec-only] [--sensors 4] [--adverts 20000] [--batch 50]
Environment: BLE_BENCH_LOG_LEVEL=debug runs the daemon at debug level (to see why states went missing:
"publish to ... failed: No more messages can be buffered"); the default info level is what is measured.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

PY = "/usr/bin/python3"
BASE_TOPIC = "cloudless"
KEY = bytes.fromhex("e9ea895fac7cca6d30532432a516f3a8")  # docs/ble.md §3.2 V16's key, reused for every sensor
PRODUCT_ID = 0x055B  # LYWSD03MMC


# ------------------------------------------------------------------------------------------------
# (a) codec


def codec(build, iterations_cpp, iterations_py):
    ours = json.loads(subprocess.check_output([str(build / "bench" / "bench_ble_codec"), str(iterations_cpp)]))
    theirs = json.loads(subprocess.check_output([PY, str(ROOT / "bench" / "ble_codec_python.py"),
                                                 str(iterations_py)]))
    result = {"cloudless_ns": ours["decode_ns"], "python_fresh_key_ns": theirs["fresh_key_ns"],
              "python_cached_cipher_ns": theirs["cached_cipher_ns"], "ratio_fresh": {}, "ratio_cached": {}}
    for name, ns in ours["decode_ns"].items():
        result["ratio_fresh"][name] = round(theirs["fresh_key_ns"][name] / ns, 1)
        result["ratio_cached"][name] = round(theirs["cached_cipher_ns"][name] / ns, 1)
    return result


# ------------------------------------------------------------------------------------------------
# (b) daemon


def sensor_macs(count):
    return ["A4:C1:38:BE:%02X:%02X" % (i // 256, i % 256) for i in range(count)]


def make_frames(macs, per_sensor):
    """v5 encrypted frames (FC 0x5858: MAC, object, encrypted, auth 2), alternating a temperature
    (0x1004) and a humidity (0x1006) object, counter 1, 2, 3... per sensor (docs/ble.md §2.1 layout)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM
    cipher = AESCCM(KEY, tag_length=4)
    frames = {mac: [] for mac in macs}
    for mac in macs:
        mac_rev = bytes.fromhex(mac.replace(":", ""))[::-1]
        for counter in range(1, per_sensor + 1):
            if counter % 2:
                objects = (0x1004).to_bytes(2, "little") + b"\x02" + (200 + counter % 50).to_bytes(2, "little", signed=True)
            else:
                objects = (0x1006).to_bytes(2, "little") + b"\x02" + (400 + counter % 100).to_bytes(2, "little")
            head = b"\x58\x58" + PRODUCT_ID.to_bytes(2, "little") + bytes([counter & 0xFF])
            ext = (counter >> 8).to_bytes(3, "little")
            nonce = mac_rev + head[2:5] + ext
            sealed = cipher.encrypt(nonce, objects, b"\x11")
            frames[mac].append(head + mac_rev + sealed[:-4] + ext + sealed[-4:])
    return frames


# Runs inside the mock (dbusmock AddMethod: `args`, `self`, `dbus` in scope). args: paths (ao),
# frames (aay), rssi (n). One PropertiesChanged per frame, built and queued by libdbus directly
# (the mock's EmitSignal logs every signal: far too slow for a flood), then one flush.
FLOOD_CODE = """
import dbus.lowlevel
conn = self.connection
for path, frame in zip(args[0], args[1]):
    msg = dbus.lowlevel.SignalMessage(path, 'org.freedesktop.DBus.Properties', 'PropertiesChanged')
    msg.append('org.bluez.Device1',
               dbus.Dictionary({'ServiceData': dbus.Dictionary(
                                    {'0000fe95-0000-1000-8000-00805f9b34fb': dbus.ByteArray(bytes(frame), variant_level=1)},
                                    signature='sv', variant_level=1),
                                'RSSI': dbus.Int16(args[2], variant_level=1)}, signature='sv'),
               dbus.Array([], signature='s'), signature='sa{sv}as')
    conn.send_message(msg)
conn.flush()
"""


def cpu_seconds(pid):
    try:
        fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Counter:
    """An MQTT client that only counts state messages per sensor topic (no list of messages: at tens
    of thousands per second, keeping them would measure Python, not the daemon)."""

    def __init__(self, host, port, topics):
        import paho.mqtt.client as mqtt
        self.topics = set(topics)
        self.count = 0
        self.last = None
        self.lock = threading.Lock()
        self.client = mqtt.Client(client_id="ble_bench_counter")
        self.client.on_message = self._on_message
        self.client.connect(host, port, keepalive=30)
        self.client.subscribe(BASE_TOPIC + "/+", qos=0)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg):
        if msg.topic in self.topics:
            with self.lock:
                self.count += 1
                self.last = time.monotonic()

    def snapshot(self):
        with self.lock:
            return self.count, self.last

    def stop(self):
        self.client.loop_stop()
        self.client.disconnect()


def daemon_bench(build, sensors, adverts, batch, workdir, perf_path=None):
    import helpers
    from fake_bluez import FakeBluez, device_path

    binary = build / "daemon" / "cloudless"
    macs = sensor_macs(sensors)
    per_sensor = max(1, adverts // sensors)
    warmup = 20
    frames = make_frames(macs, per_sensor + warmup)

    fake = FakeBluez(workdir / "bus")
    broker = helpers.Mosquitto(workdir / "mosquitto")
    daemon = None
    counter = None
    try:
        fake.start()
        fake.add_adapter("hci0")
        for mac in macs:
            fake.add_device(mac, name="LYWSD03MMC")
        fake._call("/", "org.freedesktop.DBus.Mock", "AddMethod", "sssss",
                   ["org.cloudless.Bench", "Flood", "aoaayn", "", FLOOD_CODE])
        broker.start()
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = fake.address  # the daemon inherits it
        daemon = helpers.Daemon(binary, workdir / "cloudless", broker=broker)
        devices = {"s%d" % i: {"protocol": "xiaomi_ble", "mac": mac, "bindkey": KEY.hex()} for i, mac in enumerate(macs)}
        daemon.configure(devices, log_level=os.environ.get("BLE_BENCH_LOG_LEVEL", "info"), ble={"adapter": "hci0"})
        daemon.start(wait_online=True, timeout=30)
        helpers.wait_until(lambda: "StartDiscovery" in fake.adapter_calls("hci0"), 30,
                           message="the daemon starting discovery")
        counter = Counter(broker.host, broker.port, [BASE_TOPIC + "/s%d" % i for i in range(sensors)])
        time.sleep(0.5)

        def flood(start, stop):
            """Interleaves the sensors (s0 c, s1 c, ..., s0 c+1, ...) in calls of `batch` frames."""
            order = [(mac, frames[mac][c]) for c in range(start, stop) for mac in macs]
            for i in range(0, len(order), batch):
                chunk = order[i:i + batch]
                fake._conn.call_blocking("org.bluez", "/", "org.cloudless.Bench", "Flood", "aoaayn",
                                         [[device_path("hci0", m) for m, _ in chunk],
                                          [bytearray(f) for _, f in chunk], -60], timeout=300)
            return len(order)

        # warm-up: entities declared, discovery published, first states out
        sent = flood(0, warmup)
        helpers.wait_until(lambda: counter.snapshot()[0] >= sent * 0.9, 30, message="warm-up states")
        time.sleep(1.0)
        base_count = counter.snapshot()[0]

        pids = {"daemon": daemon.pid, "injector (bluez mock)": fake.mock_proc.pid,
                "dbus-daemon": fake.bus_proc.pid, "mosquitto": broker.proc.pid}
        cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        own0 = sum(os.times()[:2])
        perf = None
        if perf_path:
            # Where the daemon's CPU goes, sampled during the measured flood only.
            perf = subprocess.Popen(["perf", "record", "-q", "-F", "999", "-g", "-p", str(daemon.pid), "-o",
                                     str(perf_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        t0 = time.monotonic()
        injected = flood(warmup, warmup + per_sensor)
        t_injected = time.monotonic()
        # drain: until every state arrived, or nothing new for 3 s (bounded to 120 s)
        deadline = t_injected + 120
        while time.monotonic() < deadline:
            count, last = counter.snapshot()
            if count - base_count >= injected:
                break
            if last is not None and time.monotonic() - max(last, t_injected) > 3:
                break
            time.sleep(0.1)
        count, last = counter.snapshot()
        cpu1 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        own1 = sum(os.times()[:2])
        if perf is not None:
            perf.send_signal(signal.SIGINT)
            try:
                perf.wait(timeout=30)
            except subprocess.TimeoutExpired:
                perf.kill()
                perf.wait(timeout=5)
        received = count - base_count
        t_end = max(last or t_injected, t_injected)
        wall = t_end - t0
        cpu = {name: round(cpu1[name] - cpu0[name], 2) for name in pids if cpu0[name] is not None and cpu1[name] is not None}
        cpu["this script (flood client, MQTT counter)"] = round(own1 - own0, 2)
        daemon_cpu = cpu["daemon"]
        result = {
            "sensors": sensors,
            "adverts_injected": injected,
            "state_messages_received": received,
            "injection_seconds": round(t_injected - t0, 2),
            "wall_seconds_to_last_state": round(wall, 2),
            "injected_per_s": round(injected / max(t_injected - t0, 1e-9)),
            "bridged_per_s": round(received / max(wall, 1e-9)),
            "cpu_seconds": cpu,
            "cpu_share_of_wall": {name: round(value / max(wall, 1e-9), 2) for name, value in cpu.items()},
            "daemon_cpu_us_per_advert": round(daemon_cpu * 1e6 / max(injected, 1), 1),
            "daemon_one_core_adverts_per_s": round(injected / daemon_cpu) if daemon_cpu > 0 else None,
            "daemon_vmhwm_kb": helpers_vm(daemon.pid, "VmHWM"),
        }
        result["states_missing"] = injected - received
        result["load_average_1min"] = os.getloadavg()[0]
        result["cpus"] = os.cpu_count()
        busiest = max(result["cpu_share_of_wall"].items(), key=lambda kv: kv[1])
        # A process that used most of a core during the run limited it; if none did, the limit was
        # elsewhere (other load on the machine taking the CPU, or latency between the processes).
        if busiest[1] >= 0.8:
            result["bottleneck"] = busiest[0]
        else:
            result["bottleneck"] = ("none of the measured processes used a whole core (busiest: %s at %.0f%%); "
                                    "load average %.1f on %d CPUs" % (busiest[0], busiest[1] * 100,
                                                                     result["load_average_1min"], result["cpus"]))
        # What the daemon said about the flood (drops are logged, rate-limited): warnings and errors.
        log = daemon.log_text().splitlines()
        result["daemon_log_problems"] = [line for line in log if "warn" in line.lower() or "error" in line.lower()][-10:]
        result["daemon_log_publish_failures"] = sum(1 for line in log if "publish to" in line and "failed" in line)
        result["daemon_log_sample"] = [line for line in log if "failed" in line][:3]
        return result
    finally:
        if counter is not None:
            counter.stop()
        if daemon is not None:
            daemon.stop()
        broker.stop()
        fake.stop()


def helpers_vm(pid, key):
    try:
        for line in Path("/proc/%d/status" % pid).read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=str(ROOT / "build"), help="build directory (default build/)")
    parser.add_argument("--codec-only", action="store_true", help="skip (b)")
    parser.add_argument("--daemon-only", action="store_true", help="skip (a)")
    parser.add_argument("--iterations", type=int, default=200000, help="(a) C++ iterations per vector")
    parser.add_argument("--py-iterations", type=int, default=20000, help="(a) Python iterations per vector")
    parser.add_argument("--sensors", type=int, default=4, help="(b) configured sensors")
    parser.add_argument("--adverts", type=int, default=20000, help="(b) adverts to inject (measured part)")
    parser.add_argument("--perf", metavar="FILE", help="(b) also `perf record -g` the daemon during the flood into FILE")
    parser.add_argument("--batch", type=int, default=50,
                        help="(b) frames per Flood call: the burst the daemon drains at once (the daemon's MQTT "
                             "client buffers 100 messages: larger bursts lose states, see states_missing)")
    args = parser.parse_args()
    build = Path(args.build).resolve()
    report = {}
    if not args.daemon_only:
        report["codec"] = codec(build, args.iterations, args.py_iterations)
        print(json.dumps({"codec": report["codec"]}, indent=2), flush=True)
    if not args.codec_only:
        with tempfile.TemporaryDirectory(prefix="cloudless-ble-bench-") as tmp:
            report["daemon"] = daemon_bench(build, args.sensors, args.adverts, args.batch, Path(tmp),
                                            perf_path=Path(args.perf).resolve() if args.perf else None)
        print(json.dumps({"daemon": report["daemon"]}, indent=2), flush=True)
    if "daemon" in report:
        d = report["daemon"]
        print("daemon: %d adverts injected in %.2f s (%d/s), %d states on MQTT (%d missing); daemon CPU %.1f µs "
              "per advert, so one core would sustain ~%s adverts/s; limited by: %s" % (
                  d["adverts_injected"], d["injection_seconds"], d["injected_per_s"], d["state_messages_received"],
                  d["states_missing"], d["daemon_cpu_us_per_advert"], d["daemon_one_core_adverts_per_s"],
                  d["bottleneck"]))
    if "codec" in report:
        c = report["codec"]
        for name, ns in c["cloudless_ns"].items():
            print("codec %s: cloudless %.2f µs, Python AESCCM %.2f µs (cipher cached: %.2f µs): x%.1f (x%.1f)" % (
                name, ns / 1000, c["python_fresh_key_ns"][name] / 1000, c["python_cached_cipher_ns"][name] / 1000,
                c["ratio_fresh"][name], c["ratio_cached"][name]))


if __name__ == "__main__":
    main()
