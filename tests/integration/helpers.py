"""Shared helpers for cloudless' integration tests: a private mosquitto, an MQTT test client, the
miIO plug simulator (tests/sim/miio_plug_sim.py) and the cloudless daemon itself.

Rules every helper keeps: traffic on 127.0.0.0/8 only, every wait bounded by a deadline, every
process started here is stopped (SIGTERM, then SIGKILL after a bound) by its owner's stop().
Interpreter: Debian's /usr/bin/python3 (python3-miio, python3-paho-mqtt 1.6.1, pytest).
"""

import json
import os
import random
import re
import selectors
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho

PY = "/usr/bin/python3"
MOSQUITTO = "/usr/sbin/mosquitto"
TESTS_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = TESTS_DIR.parent
SIM_SCRIPT = TESTS_DIR / "sim" / "miio_plug_sim.py"
DEFAULT_CLOUDLESS_BIN = REPO_DIR / "build" / "daemon" / "cloudless"

BASE_TOPIC = "cloudless"
DISCOVERY_PREFIX = "homeassistant"
EXIT_CONFIG = 78

# Per-device miIO settings used by the daemon tests so that "3 missed polls" fits a 15 s wait:
# config.h's MiioDeviceConfig has `timeout` (per attempt) and `retries` (extra attempts per poll).
# If the YAML spelling of these keys changes, change it here only.
MIIO_FAST = {"poll_interval": "1s", "timeout": "1s", "retries": 1}


# ------------------------------------------------------------------------------------------------
# small utilities


def fake_bluez_problem():
    """Why the fake bluetoothd (fake_bluez.py) cannot run here, or None. Debian's /usr/bin/python3 with
    python3-dbusmock (dbus, gi) and python3-cryptography (the scripted GATT devices), and dbus-daemon."""
    if shutil.which("dbus-daemon") is None:
        return "dbus-daemon not installed"
    try:
        import dbus  # noqa: F401
        import dbusmock  # noqa: F401
        from gi.repository import GLib  # noqa: F401
        import cryptography  # noqa: F401
    except ImportError as exc:
        return "missing %s (run with /usr/bin/python3; python3-dbusmock, python3-cryptography)" % exc
    return None


def cloudless_bin_path():
    return Path(os.environ.get("CLOUDLESS_BIN") or DEFAULT_CLOUDLESS_BIN)


def cloudless_bin_problem():
    """None when the daemon binary is usable, else why not (for pytest.skip)."""
    path = cloudless_bin_path()
    if not path.exists():
        return "cloudless binary not found at %s (build it, or set CLOUDLESS_BIN)" % path
    if not os.access(path, os.X_OK):
        return "cloudless binary %s is not executable" % path
    return None


def free_tcp_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def udp_port_free(host, port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


_rng = random.Random()


def random_loopback_address(port=None, attempts=200):
    """A random 127.a.b.c host address (never 127.0.0.1); with `port`, one where UDP `port` is free.
    Distinct tests (and other engineers' tests running at the same time) then never collide, even
    on the fixed port 54321 that python-miio 0.5.0.1 insists on."""
    for _ in range(attempts):
        addr = "127.%d.%d.%d" % (_rng.randint(10, 250), _rng.randint(0, 255), _rng.randint(2, 254))
        if port is None or udp_port_free(addr, port):
            return addr
    raise RuntimeError("no free loopback address found for UDP port %s" % port)


def wait_until(predicate, timeout, interval=0.05, message="condition"):
    """Polls `predicate` until it returns a truthy value (returned) or `timeout` s pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, message))
        time.sleep(interval)


def stop_process(proc, timeout=5.0, sig=signal.SIGTERM):
    """Sends `sig`, waits up to `timeout`, then SIGKILLs. Returns the exit code (None if not started)."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return proc.returncode


def read_text(path, limit=200_000):
    try:
        data = Path(path).read_bytes()
    except OSError:
        return ""
    if len(data) > limit:
        data = b"...[truncated]...\n" + data[-limit:]
    return data.decode("utf-8", "replace")


# ------------------------------------------------------------------------------------------------
# YAML (a tiny emitter: every string double-quoted, which YAML reads exactly like JSON)

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


def _yaml_scalar(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value))


def _yaml_key(key):
    key = str(key)
    return key if _PLAIN_KEY.match(key) else json.dumps(key)


def to_yaml(value, indent=0):
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        out = []
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                out.append("%s%s:\n%s" % (pad, _yaml_key(k), to_yaml(v, indent + 1)))
            elif isinstance(v, dict):
                out.append("%s%s: {}\n" % (pad, _yaml_key(k)))
            elif isinstance(v, list):
                out.append("%s%s: []\n" % (pad, _yaml_key(k)))
            else:
                out.append("%s%s: %s\n" % (pad, _yaml_key(k), _yaml_scalar(v)))
        return "".join(out)
    if isinstance(value, list):
        out = []
        for v in value:
            if isinstance(v, (dict, list)) and v:
                body = to_yaml(v, indent + 1)
                out.append("%s- %s" % (pad, body.lstrip()))
            else:
                out.append("%s- %s\n" % (pad, _yaml_scalar(v) if not isinstance(v, (dict, list)) else "{}"))
        return "".join(out)
    return pad + _yaml_scalar(value) + "\n"


# ------------------------------------------------------------------------------------------------
# mosquitto


class Mosquitto:
    """A private broker on 127.0.0.1:<free port>. kill()/restart() keep the port (broker restart tests)."""

    def __init__(self, workdir, port=None, host="127.0.0.1", listener_options=(), anonymous=True):
        """`listener_options`: extra mosquitto.conf lines for the listener (TLS files, password_file)."""
        self.listener_options = list(listener_options)
        self.anonymous = anonymous
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port or free_tcp_port(host)
        self.conf_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        self.proc = None
        self._log = None
        self.starts = 0

    @property
    def url(self):
        return "mqtt://%s:%d" % (self.host, self.port)

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _accepts(self):
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def start(self, timeout=10.0):
        assert not self.running, "mosquitto already running"
        self.conf_path.write_text(
            "listener %d %s\nallow_anonymous %s\npersistence false\nlog_dest stderr\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
            "connection_messages true\n%s" % (self.port, self.host, "true" if self.anonymous else "false",
                                               "".join(line + "\n" for line in self.listener_options))
        )
        deadline = time.monotonic() + timeout
        while True:
            self._log = open(self.log_path, "ab")
            self._log.write(b"--- start %d ---\n" % (self.starts + 1))
            self._log.flush()
            self.proc = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.conf_path)],
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, start_new_session=True,
            )
            while time.monotonic() < deadline and self.proc.poll() is None and not self._accepts():
                time.sleep(0.05)
            if self.proc.poll() is None and self._accepts():
                self.starts += 1
                return self
            stop_process(self.proc, timeout=2)
            self._log.close()
            # a restart may race the old socket for the port: retry until the deadline
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    "mosquitto did not start on %s:%d:\n%s" % (self.host, self.port, read_text(self.log_path))
                )
            time.sleep(0.2)

    def stop(self, timeout=5.0):
        rc = stop_process(self.proc, timeout=timeout)
        if self._log:
            self._log.close()
            self._log = None
        return rc

    def kill(self):
        """SIGKILL: clients see the connection drop, nothing retained survives (persistence false)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        return self.stop()

    def restart(self, timeout=10.0):
        self.stop()
        return self.start(timeout=timeout)

    def log_text(self):
        return read_text(self.log_path)


# ------------------------------------------------------------------------------------------------
# MQTT test client (paho-mqtt 1.6.1: old Client() API)


@dataclass
class Msg:
    topic: str
    payload: bytes
    retain: bool
    qos: int
    seq: int
    t: float = field(default_factory=time.monotonic)

    @property
    def text(self):
        return self.payload.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.payload.decode("utf-8"))

    def __repr__(self):
        text = self.text
        if len(text) > 160:
            text = text[:160] + "..."
        return "Msg(%s%s: %s)" % (self.topic, " [retained]" if self.retain else "", text)


def _match(topic, pattern):
    return pattern == topic or paho.topic_matches_sub(pattern, topic)


class MqttClient:
    """Collects every message on its subscriptions as Msg(topic, payload, retain, qos, seq).

    Typical use:
        mark = client.mark()
        client.publish("cloudless/desk/set", '{"state":"OFF"}')
        msg = client.wait_for("cloudless/desk", lambda m: m.json().get("state") == "OFF", since=mark)
    """

    _counter = 0

    def __init__(self, host, port, client_id=None, subscribe=("#",), connect_timeout=10.0, username=None,
                 password=None, tls=None):
        """`tls`: dict of paho tls_set() arguments (ca_certs, certfile, keyfile) for a TLS listener."""
        MqttClient._counter += 1
        self.host = host
        self.port = port
        self.client_id = client_id or "pytest-%d-%d" % (os.getpid(), MqttClient._counter)
        self.topics = list(subscribe)
        self.messages = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._seq = 0
        self._connected = threading.Event()
        self._connect_rc = None
        self._subacks = set()
        self._client = paho.Client(client_id=self.client_id, clean_session=True)
        if username is not None:
            self._client.username_pw_set(username, password)
        if tls:
            self._client.tls_set(**tls)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = self._on_disconnect
        self._started = False
        self.connect(connect_timeout)

    # --- paho callbacks (network thread)
    def _on_connect(self, client, userdata, flags, rc):
        self._connect_rc = rc
        if rc == 0:
            self._connected.set()

    def _on_disconnect(self, client, userdata, rc):
        self._connected.clear()

    def _on_subscribe(self, client, userdata, mid, granted_qos):
        with self._cond:
            self._subacks.add(mid)
            self._cond.notify_all()

    def _on_message(self, client, userdata, message):
        with self._cond:
            self._seq += 1
            self.messages.append(
                Msg(message.topic, bytes(message.payload), bool(message.retain), message.qos, self._seq)
            )
            self._cond.notify_all()

    # --- connection
    def connect(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        self._client.connect(self.host, self.port, keepalive=30)
        self._client.loop_start()
        self._started = True
        if not self._connected.wait(max(0.0, deadline - time.monotonic())):
            self.disconnect()
            raise AssertionError(
                "MQTT test client could not connect to %s:%d (rc=%s)" % (self.host, self.port, self._connect_rc)
            )
        for topic in self.topics:
            self.subscribe(topic, timeout=max(0.5, deadline - time.monotonic()))

    def subscribe(self, topic, qos=1, timeout=5.0):
        rc, mid = self._client.subscribe(topic, qos)
        assert rc == paho.MQTT_ERR_SUCCESS, "subscribe %s failed: rc=%s" % (topic, rc)
        with self._cond:
            ok = self._cond.wait_for(lambda: mid in self._subacks, timeout)
        assert ok, "no SUBACK for %s within %.1f s" % (topic, timeout)
        if topic not in self.topics:
            self.topics.append(topic)

    def disconnect(self):
        if self._started:
            try:
                self._client.disconnect()
            except Exception:
                pass
            self._client.loop_stop()
            self._started = False

    @property
    def connected(self):
        return self._connected.is_set()

    # --- publishing
    def publish(self, topic, payload, retain=False, qos=1, timeout=5.0):
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload)
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if qos > 0:
            info.wait_for_publish(timeout)
            assert info.is_published(), "publish to %s not acknowledged within %.1f s" % (topic, timeout)
        return info

    # --- reading
    def mark(self):
        """A sequence number: pass it as `since` to look only at later messages."""
        with self._lock:
            return self._seq

    def clear(self):
        with self._lock:
            self.messages.clear()
            return self._seq

    def find(self, topic, predicate=None, since=0):
        with self._lock:
            msgs = [m for m in self.messages if m.seq > since and _match(m.topic, topic)]
        return [m for m in msgs if predicate is None or _safe(predicate, m)]

    def last(self, topic, predicate=None, since=0):
        found = self.find(topic, predicate, since)
        return found[-1] if found else None

    def wait_for(self, topic, predicate=None, timeout=10.0, since=0, payload=None):
        """First message on `topic` (wildcards allowed) after `since` for which predicate(msg) is true
        (and whose text equals `payload`, if given). Bounded by `timeout`; AssertionError otherwise."""

        def ok(m):
            if payload is not None and m.text != payload:
                return False
            return predicate is None or _safe(predicate, m)

        deadline = time.monotonic() + timeout
        checked = 0
        with self._cond:
            while True:
                for m in self.messages[checked:]:
                    if m.seq > since and _match(m.topic, topic) and ok(m):
                        return m
                checked = len(self.messages)
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.5))
        seen = [m for m in self.find(topic, since=since)][-8:]
        raise AssertionError(
            "no matching message on %r within %.1f s%s; last ones there: %s; topics seen: %s"
            % (topic, timeout, " (payload %r)" % payload if payload is not None else "", seen,
               sorted({m.topic for m in self.messages if m.seq > since})[:40])
        )

    def wait_for_json(self, topic, predicate=None, timeout=10.0, since=0):
        """Like wait_for, on JSON payloads: predicate(obj). Returns (msg, obj)."""

        def pred(m):
            obj = m.json()
            return predicate is None or predicate(obj)

        m = self.wait_for(topic, pred, timeout=timeout, since=since)
        return m, m.json()

    def assert_silent(self, topic, duration, predicate=None, since=None):
        """Waits `duration` s and fails if a matching message arrived (after `since`, default now)."""
        since = self.mark() if since is None else since
        time.sleep(duration)
        found = self.find(topic, predicate, since)
        assert not found, "unexpected message(s) on %r: %s" % (topic, found[:5])

    def topics_seen(self, since=0):
        with self._lock:
            return sorted({m.topic for m in self.messages if m.seq > since})

    # --- retained snapshot
    @staticmethod
    def retained(host, port, topic="#", settle=0.5, timeout=5.0):
        """{topic: Msg} of the retained messages the broker holds for `topic` right now (a fresh client:
        retained messages arrive first with retain=1; collection ends after `settle` s of quiet)."""
        c = MqttClient(host, port, subscribe=(topic,))
        try:
            deadline = time.monotonic() + timeout
            last_count, quiet_since = -1, time.monotonic()
            while time.monotonic() < deadline:
                n = len(c.messages)
                if n != last_count:
                    last_count, quiet_since = n, time.monotonic()
                elif time.monotonic() - quiet_since >= settle:
                    break
                time.sleep(0.05)
            return {m.topic: m for m in c.find(topic) if m.retain}
        finally:
            c.disconnect()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.disconnect()


def _safe(predicate, m):
    try:
        return bool(predicate(m))
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        return False


# ------------------------------------------------------------------------------------------------
# the miIO plug simulator


def make_plug(name, model="chuangmi.plug.v3", address=None, port=0, token=None, did=None, layout=None,
              state=None, behaviour=None, **extra):
    """A plug description for Simulator (see `miio_plug_sim.py --help`). A random 127.a.b.c address
    unless given; port 0 = a free port chosen by the simulator (the daemon config takes `port:`).
    For python-miio clients (fixed port 54321) pass port=54321: the address is then one where
    54321 is free."""
    if address is None:
        address = random_loopback_address(port if port else None)
    spec = {"name": name, "address": address, "port": port, "model": model}
    if token is None:
        token = "%032x" % _rng.getrandbits(128)
    spec["token"] = token
    if did is not None:
        spec["did"] = did
    if layout is not None:
        spec["layout"] = layout
    if state:
        spec["state"] = dict(state)
    if behaviour:
        spec["behaviour"] = dict(behaviour)
    spec.update(extra)
    return spec


class SimError(Exception):
    pass


class SimulatorProcess:
    """A device simulator under tests/sim/ run as a child process, and its control channel (JSON lines
    over TCP). stdin is a pipe (--exit-on-stdin-eof) and --max-runtime bounds it, so a killed test run
    leaves nothing behind; stop() ends it (SIGTERM, then SIGKILL). Subclasses name the script and the
    key under which the config and the ready line list the simulated devices."""

    SCRIPT = None
    DEVICES_KEY = None
    LABEL = "simulator"

    def __init__(self, specs, workdir, extra_args=(), max_runtime=900):
        self.specs = list(specs)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.extra_args = list(extra_args)
        self.max_runtime = max_runtime
        self.config_path = self.workdir / ("%s.json" % self.DEVICES_KEY)
        self.log_path = self.workdir / ("%s.stderr" % self.LABEL.replace(" ", "_"))
        self.proc = None
        self.ready = None
        self.devices = {}
        self._sock = None
        self._rfile = None
        self._log = None

    # --- process
    def start(self, timeout=10.0):
        self.config_path.write_text(json.dumps({self.DEVICES_KEY: self.specs}, indent=1))
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [PY, str(self.SCRIPT), "--config", str(self.config_path), "--exit-on-stdin-eof",
             "--max-runtime", str(self.max_runtime)] + self.extra_args,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, start_new_session=True,
        )
        line = self._read_ready_line(timeout)
        if not line:
            rc = stop_process(self.proc, timeout=2)
            raise SimError("%s did not become ready (exit %s):\n%s" % (self.LABEL, rc, read_text(self.log_path)))
        self.ready = json.loads(line)
        self.devices = {d["name"]: d for d in self.ready[self.DEVICES_KEY]}
        self._sock = socket.create_connection(("127.0.0.1", self.ready["control_port"]), timeout=10)
        self._rfile = self._sock.makefile("rb")
        return self

    def _read_ready_line(self, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not sel.select(max(0.0, min(0.2, deadline - time.monotonic()))):
                    if self.proc.poll() is not None:
                        return None
                    continue
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    return None
                buf += chunk
                if b"\n" in buf:
                    return buf.split(b"\n", 1)[0].decode()
        return None

    def stop(self, timeout=5.0):
        if self._sock is not None:
            try:
                self._rfile.close()
                self._sock.close()
            except OSError:
                pass
            self._sock = None
        rc = stop_process(self.proc, timeout=timeout)
        if self.proc is not None:
            for f in (self.proc.stdin, self.proc.stdout):
                try:
                    f.close()
                except (OSError, AttributeError):
                    pass
        if self._log:
            self._log.close()
            self._log = None
        return rc

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        return read_text(self.log_path)

    # --- control channel
    def command(self, cmd, **kw):
        if self._sock is None:
            raise SimError("%s not started" % self.LABEL)
        req = dict(kw, cmd=cmd)
        self._sock.sendall((json.dumps(req) + "\n").encode())
        line = self._rfile.readline()
        if not line:
            raise SimError("%s closed the control channel (exit %s)" % (self.LABEL, self.proc.poll()))
        reply = json.loads(line)
        if not reply.get("ok"):
            raise SimError("%s refused %s: %s" % (self.LABEL, req, reply.get("error")))
        return reply

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Simulator(SimulatorProcess):
    """tests/sim/miio_plug_sim.py: miIO plugs."""

    SCRIPT = SIM_SCRIPT
    DEVICES_KEY = "plugs"
    LABEL = "simulator"

    @property
    def plugs(self):
        return self.devices

    def plug(self, name):
        """The ready-line description of a plug: name, address, port, did, token, model, layout."""
        return self.plugs[name]

    def state(self, plug):
        return self.command("state", plug=plug)

    def set_state(self, plug, **state):
        return self.command("set_state", plug=plug, state=state)["state"]

    def set_behaviour(self, plug, **behaviour):
        return self.command("set_behaviour", plug=plug, behaviour=behaviour)["behaviour"]

    def reboot(self, plug, uptime=3, keep_energy=False):
        return self.command("reboot", plug=plug, uptime=uptime, keep_energy=keep_energy)

    def log(self, plug=None, since=0, kind=None, method=None):
        kw = {"since": since}
        if plug is not None:
            kw["plug"] = plug
        if kind is not None:
            kw["kind"] = kind
        if method is not None:
            kw["method"] = method
        return self.command("log", **kw)["entries"]

    def mark(self):
        """The current log sequence number: pass it as `since`."""
        return self.command("log", since=2**62)["next"]

    def requests(self, plug=None, method=None, since=0):
        return self.log(plug, since=since, kind="request", method=method)

    def wait_for_request(self, plug=None, method=None, predicate=None, since=0, timeout=10.0):
        """First logged request (kind "request") matching; bounded by `timeout` (AssertionError)."""
        deadline = time.monotonic() + timeout
        while True:
            for e in self.requests(plug, method, since):
                if predicate is None or _safe(predicate, e):
                    return e
            if time.monotonic() >= deadline:
                seen = [(e["method"], e["params"]) for e in self.log(plug, since=since)][-10:]
                raise AssertionError(
                    "plug %s got no %s request%s within %.1f s; last log entries: %s"
                    % (plug, method or "matching", " matching the predicate" if predicate else "", timeout, seen)
                )
            time.sleep(0.05)

    def wait_for_log(self, plug=None, kind=None, predicate=None, since=0, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            for e in self.log(plug, since=since, kind=kind):
                if predicate is None or _safe(predicate, e):
                    return e
            if time.monotonic() >= deadline:
                raise AssertionError("no %s log entry for plug %s within %.1f s" % (kind, plug, timeout))
            time.sleep(0.05)


# ------------------------------------------------------------------------------------------------
# the cloudless daemon


def miio_device(plug_info, model=True, **settings):
    """The `devices.<id>` YAML entry for a simulated plug (Simulator.plug(name) or a ready-line dict).
    model=True: the plug's model; a string: that model; None/False: omitted (daemon asks miIO.info).
    `settings` are added as-is (e.g. poll_interval="1s", miot={...}); MIIO_FAST is the usual base."""
    entry = {"protocol": "miio", "host": plug_info["address"], "port": int(plug_info["port"]),
             "token": plug_info["token"]}
    if model is True:
        entry["model"] = plug_info["model"]
    elif model:
        entry["model"] = model
    entry.update(settings)
    return entry


def daemon_config(broker_url, devices, state_dir, client_id=None, base_topic=BASE_TOPIC,
                  discovery_prefix=DISCOVERY_PREFIX, output=None, log_level="debug", mqtt_extra=None, **top):
    mqtt = {"server": broker_url, "client_id": client_id or "cloudless_test_%d" % _rng.randint(0, 10**9),
            "base_topic": base_topic, "discovery_prefix": discovery_prefix}
    if output is not None:
        mqtt["output"] = output
    if mqtt_extra:
        mqtt.update(mqtt_extra)
    cfg = {"mqtt": mqtt, "state_dir": str(state_dir), "log_level": log_level, "devices": dict(devices)}
    cfg.update(top)
    return cfg


class Daemon:
    """`cloudless run --config <workdir>/config.yaml`, stdout+stderr captured to <workdir>/cloudless.log."""

    def __init__(self, binary, workdir, broker=None, base_topic=BASE_TOPIC):
        self.binary = str(binary)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "config.yaml"
        self.state_dir = self.workdir / "state"
        self.state_dir.mkdir(mode=0o750, exist_ok=True)  # as systemd's StateDirectoryMode makes it
        self.log_path = self.workdir / "cloudless.log"
        self.broker = broker
        self.base_topic = base_topic
        self.proc = None
        self.returncode = None
        self.killed = False
        self._log = None
        self.config = None

    # --- configuration
    def write_config(self, config):
        """`config`: a dict (emitted as YAML) or raw YAML text."""
        self.config = config
        text = config if isinstance(config, str) else to_yaml(config)
        self.config_path.write_text(text)
        return self.config_path

    def configure(self, devices, **kw):
        """Writes the standard test config: the broker, state_dir in workdir, log_level debug."""
        assert self.broker is not None, "configure() needs a broker"
        self.base_topic = kw.setdefault("base_topic", self.base_topic)
        return self.write_config(daemon_config(self.broker.url, devices, self.state_dir, **kw))

    # --- process
    def start(self, wait_online=True, timeout=15.0, extra_args=()):
        assert not self.running, "daemon already running"
        self._log = open(self.log_path, "ab")
        self._log.write(b"--- cloudless run ---\n")
        self._log.flush()
        self.returncode = None
        self.killed = False
        online_client = None
        if wait_online and self.broker is not None:
            online_client = MqttClient(self.broker.host, self.broker.port,
                                       subscribe=(self.base_topic + "/bridge/state",))
        since = online_client.mark() if online_client else 0
        self.proc = subprocess.Popen(
            [self.binary, "run", "--config", str(self.config_path)] + list(extra_args),
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        if online_client is None:
            return self
        try:
            deadline = time.monotonic() + timeout
            while True:
                if online_client.find(self.base_topic + "/bridge/state", lambda m: m.text == "online", since):
                    return self
                if self.proc.poll() is not None:
                    self.returncode = self.proc.returncode
                    raise AssertionError(
                        "cloudless exited with %s before publishing %s/bridge/state online; log:\n%s"
                        % (self.returncode, self.base_topic, self.log_text())
                    )
                if time.monotonic() >= deadline:
                    raise AssertionError(
                        "cloudless did not publish %s/bridge/state online within %.0f s; log:\n%s"
                        % (self.base_topic, timeout, self.log_text())
                    )
                time.sleep(0.05)
        finally:
            online_client.disconnect()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def send_signal(self, sig):
        assert self.running, "daemon not running"
        self.proc.send_signal(sig)

    def sighup(self):
        self.send_signal(signal.SIGHUP)

    def wait_exit(self, timeout=10.0):
        """Waits for the process to end on its own; returns its exit code (AssertionError on timeout)."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("cloudless still running after %.1f s" % timeout) from None
        self._close_log()
        return self.returncode

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after `timeout` s (self.killed tells). Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.killed = True
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.returncode = self.proc.returncode
        self._close_log()
        return self.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.killed = True
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.returncode = self.proc.returncode if self.proc else None
        self._close_log()
        return self.returncode

    def restart(self, **kw):
        self.stop()
        return self.start(**kw)

    def _close_log(self):
        if self._log:
            self._log.close()
            self._log = None

    # --- other subcommands
    def run_command(self, *args, timeout=15.0, config=True):
        """Runs `cloudless <args> [--config <config.yaml>]` to completion (bounded); CompletedProcess."""
        argv = [self.binary] + list(args)
        if config:
            argv += ["--config", str(self.config_path)]
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, text=True)

    # --- log
    def log_text(self):
        return read_text(self.log_path)

    def wait_for_log(self, pattern, timeout=10.0, flags=re.IGNORECASE):
        rx = re.compile(pattern, flags)
        return wait_until(lambda: rx.search(self.log_text()), timeout, interval=0.1,
                          message="cloudless log line matching %r" % pattern)


# ------------------------------------------------------------------------------------------------
# Home Assistant discovery payloads (abbreviated or full keys)

HA_ABBREVIATIONS = {
    "dev": "device", "o": "origin", "cmps": "components", "p": "platform", "uniq_id": "unique_id",
    "avty": "availability", "avty_mode": "availability_mode", "avty_t": "availability_topic",
    "stat_t": "state_topic", "cmd_t": "command_topic", "dev_cla": "device_class",
    "unit_of_meas": "unit_of_measurement", "stat_cla": "state_class", "val_tpl": "value_template",
    "ids": "identifiers", "t": "topic", "mf": "manufacturer", "mdl": "model", "sw": "sw_version",
    "name": "name", "json_attr_t": "json_attributes_topic", "ent_cat": "entity_category",
    "pl_on": "payload_on", "pl_off": "payload_off", "stat_on": "state_on", "stat_off": "state_off",
    "cmd_tpl": "command_template", "mdl_id": "model_id", "hw": "hw_version",
}


def ha_expand(obj):
    """Expands HA's abbreviated discovery keys recursively (values untouched except nested dicts/lists)."""
    if isinstance(obj, dict):
        return {HA_ABBREVIATIONS.get(k, k): ha_expand(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [ha_expand(v) for v in obj]
    return obj


# ------------------------------------------------------------------------------------------------
# the Midea AC simulator (tests/sim/midea_ac_sim.py)

MIDEA_SIM_SCRIPT = TESTS_DIR / "sim" / "midea_ac_sim.py"


def make_ac(name, address=None, protocol="v3", port=0, discovery_port=0, discovery_port_alt=0, token=None,
            key=None, state=None, behaviour=None, capabilities=None, **extra):
    """An AC description for MideaSimulator (see `midea_ac_sim.py --help`). A random 127.a.b.c address
    when `address` is None; port 0 (TCP and both discovery ports) = free ports chosen by the simulator
    and reported by MideaSimulator.ac(name). V3 ACs get a random token/key unless given. `extra` is
    passed as-is (id, handshake_r, sn, ssid, mac, energy_format, ...)."""
    if address is None:
        address = random_loopback_address()
    spec = {"name": name, "address": address, "port": port, "protocol": protocol,
            "discovery_port": discovery_port, "discovery_port_alt": discovery_port_alt}
    if protocol == "v3":
        spec["token"] = token or "%0128x" % _rng.getrandbits(512)
        spec["key"] = key or "%064x" % _rng.getrandbits(256)
    if state:
        spec["state"] = dict(state)
    if behaviour:
        spec["behaviour"] = dict(behaviour)
    if capabilities:
        spec["capabilities"] = dict(capabilities)
    spec.update(extra)
    return spec


def midea_device(ac_info, **settings):
    """The `devices.<id>` YAML entry for a simulated AC (MideaSimulator.ac(name) or a ready-line dict);
    `settings` (poll_interval, timeout, energy_format, ...) are added as-is."""
    entry = {"protocol": "midea", "host": ac_info["address"], "port": int(ac_info["port"]),
             "id": int(ac_info["id"])}
    if ac_info.get("protocol") == "v3":
        entry["token"] = ac_info["token"]
        entry["key"] = ac_info["key"]
    entry.update(settings)
    return entry


class MideaSimulator(SimulatorProcess):
    """tests/sim/midea_ac_sim.py: Midea air conditioners."""

    SCRIPT = MIDEA_SIM_SCRIPT
    DEVICES_KEY = "acs"
    LABEL = "Midea simulator"

    @property
    def acs(self):
        return self.devices

    def ac(self, name):
        """The ready-line description of an AC: name, address, port, discovery_ports, protocol, id,
        udpid, token, key, sn, ssid, mac."""
        return self.acs[name]

    def state(self, ac):
        """Everything the simulator knows of `ac`: {"state", "behaviour", "capabilities",
        "connections", "requests", "handshakes", ...}."""
        return self.command("state", ac=ac)

    def set_state(self, ac, **state):
        return self.command("set_state", ac=ac, state=state)["state"]

    def set_behaviour(self, ac, **behaviour):
        return self.command("set_behaviour", ac=ac, behaviour=behaviour)["behaviour"]

    def set_capabilities(self, ac, **capabilities):
        return self.command("set_capabilities", ac=ac, capabilities=capabilities)["capabilities"]

    def log(self, ac=None, since=0, kind=None):
        kw = {"since": since}
        if ac is not None:
            kw["ac"] = ac
        if kind is not None:
            kw["kind"] = kind
        return self.command("log", **kw)["entries"]

    def mark(self):
        """The current log sequence number: pass it as `since`."""
        return self.command("log", since=2**62)["next"]

    def clear_log(self):
        return self.command("clear_log")["next"]

    def drop(self, ac):
        """Closes the AC's live TCP connections now; returns how many there were."""
        return self.command("drop", ac=ac)["closed"]

    def wait_for_log(self, ac=None, kind=None, predicate=None, since=0, timeout=10.0):
        """First log entry matching; bounded by `timeout` (AssertionError)."""
        deadline = time.monotonic() + timeout
        while True:
            for e in self.log(ac, since=since, kind=kind):
                if predicate is None or _safe(predicate, e):
                    return e
            if time.monotonic() >= deadline:
                seen = [(e["kind"], e.get("what") or e.get("reason") or e.get("why"))
                        for e in self.log(ac, since=since)][-10:]
                raise AssertionError("no %s log entry for AC %s within %.1f s; last entries: %s"
                                     % (kind or "matching", ac, timeout, seen))
            time.sleep(0.05)
