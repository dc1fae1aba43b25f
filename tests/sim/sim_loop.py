"""The event loop both device simulators run on: one selector, timers, and the control channel.

Single-threaded and non-blocking. A simulator subclasses SimLoop, registers its own device sockets
with `self.sel.register(sock, EVENT_READ, (kind, obj))`, keeps its simulated devices in
`self.devices` (each with name, address, port, summary(), full_state(), state, update_state(),
behaviour) and its request log in `self.log` / `self.seq`, and implements:
  DEVICE, DEVICES, DEVICE_NUMBER            "plug", "plugs", "did": how requests and answers name them
  handle_event(kind, obj, fileobj, events)  an event on one of its own sockets
  coerce_behaviour(key, value)              a behaviour switch's value, checked (UsageError if bad)
  control_command(cmd, req) -> dict         its own control commands beyond the common ones
  ready_line() -> dict                      what `serve` prints on stdout once everything is bound
and may implement:
  bind_devices() / close_devices()          open and close its device sockets (before the control channel)
  wake_within(now) -> seconds or None       wake up by then for work of its own (queued replies)
  after_wakeup()                            runs after each wake-up's events and timers

The control channel is TCP on a loopback address: one JSON request per line, one JSON answer per line,
any number of clients. Common commands: ping, list, state, set_state, set_behaviour, log (since, kind,
method), clear_log, shutdown; a device is named by its name, "address", "address:port" or number. With exit_on_stdin_eof the loop ends when stdin closes (the test that started the
simulator died); max_runtime bounds every run even when nobody stops it.
"""

import heapq
import ipaddress
import json
import os
import selectors
import signal
import socket
import sys
import time


class UsageError(Exception):
    pass


class SimLoop:
    NAME = "sim"  # the prefix of every stderr line
    MAX_CONTROL_BUFFER = 16 * 1024 * 1024

    def __init__(self, control_host="127.0.0.1", control_port=0, max_runtime=None, exit_on_stdin_eof=False):
        self.control_host = control_host
        self.control_port = control_port
        self.exit_on_stdin_eof = exit_on_stdin_eof
        self.deadline = time.monotonic() + max_runtime if max_runtime else None
        self.sel = selectors.DefaultSelector()
        self.timers = []
        self.timer_seq = 0
        self.stopping = False
        self.clients = {}
        self.listener = None

    # --- what a simulator provides
    def bind_devices(self):
        pass

    def close_devices(self):
        pass

    DEVICE, DEVICES, DEVICE_NUMBER = "device", "devices", "id"

    def handle_event(self, kind, obj, fileobj, events):
        raise NotImplementedError

    def coerce_behaviour(self, key, value):
        raise NotImplementedError

    def control_command(self, cmd, req):
        raise UsageError("unknown cmd %r" % (cmd,))

    def ready_line(self):
        raise NotImplementedError

    def wake_within(self, now):
        return None

    def after_wakeup(self):
        pass

    # --- setup and teardown
    def bind(self):
        self.bind_devices()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((self.control_host, self.control_port))
        self.listener.listen(16)
        self.listener.setblocking(False)
        self.control_port = self.listener.getsockname()[1]
        self.sel.register(self.listener, selectors.EVENT_READ, ("listen", None))
        if self.exit_on_stdin_eof:
            try:
                self.sel.register(sys.stdin.fileno(), selectors.EVENT_READ, ("stdin", None))
            except (ValueError, OSError):
                pass

    def close(self):
        self.close_devices()
        for conn in list(self.clients):
            self._drop_client(conn)
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        self.sel.close()

    def note(self, text):
        sys.stderr.write("%s: %s\n" % (self.NAME, text))
        sys.stderr.flush()

    # --- timers
    def call_later(self, delay, fn):
        self.timer_seq += 1
        heapq.heappush(self.timers, (time.monotonic() + delay, self.timer_seq, fn))

    # --- main loop
    def run(self):
        while not self.stopping:
            now = time.monotonic()
            if self.deadline is not None and now >= self.deadline:
                self.note("max runtime reached, exiting")
                break
            timeout = 0.2
            if self.timers:
                timeout = min(timeout, self.timers[0][0] - now)
            own = self.wake_within(now)
            if own is not None:
                timeout = min(timeout, own)
            for key, events in self.sel.select(max(0.0, timeout)):
                kind, obj = key.data
                try:
                    if kind == "listen":
                        self._on_accept()
                    elif kind == "client":
                        self._on_client(key.fileobj, events)
                    elif kind == "stdin":
                        if not os.read(key.fd, 4096):
                            self.note("stdin closed, exiting")
                            self.stopping = True
                    else:
                        self.handle_event(kind, obj, key.fileobj, events)
                except Exception as exc:  # keep serving whatever one handler did
                    self.note("handler error (%s): %r" % (kind, exc))
            now = time.monotonic()
            fired = 0
            while self.timers and self.timers[0][0] <= now and fired < 1000:
                _, _, fn = heapq.heappop(self.timers)
                fired += 1
                try:
                    fn()
                except Exception as exc:
                    self.note("timer error: %r" % (exc,))
            self.after_wakeup()

    # --- control channel: JSON lines over TCP
    def _on_accept(self):
        for _ in range(16):
            try:
                conn, _addr = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            conn.setblocking(False)
            self.clients[conn] = {"in": b"", "out": b""}
            self.sel.register(conn, selectors.EVENT_READ, ("client", None))

    def _drop_client(self, conn):
        self.clients.pop(conn, None)
        try:
            self.sel.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()

    def _on_client(self, conn, events):
        st = self.clients.get(conn)
        if st is None:
            return
        if events & selectors.EVENT_READ:
            try:
                chunk = conn.recv(65536)
            except (BlockingIOError, InterruptedError):
                chunk = None
            except OSError:
                self._drop_client(conn)
                return
            if chunk == b"":
                self._drop_client(conn)
                return
            if chunk:
                st["in"] += chunk
                if len(st["in"]) > self.MAX_CONTROL_BUFFER:
                    self._drop_client(conn)
                    return
                while b"\n" in st["in"]:
                    line, st["in"] = st["in"].split(b"\n", 1)
                    if line.strip():
                        st["out"] += (json.dumps(self.control(line), default=str) + "\n").encode()
        if st["out"]:
            try:
                sent = conn.send(st["out"])
                st["out"] = st["out"][sent:]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self._drop_client(conn)
                return
        mask = selectors.EVENT_READ | (selectors.EVENT_WRITE if st["out"] else 0)
        self.sel.modify(conn, mask, ("client", None))


    # --- control requests
    def find_device(self, ref):
        if ref is None:
            raise UsageError("'%s' is required" % self.DEVICE)
        for d in self.devices:
            if ref == d.name or ref == d.address or ref == "%s:%d" % (d.address, d.port) or (
                isinstance(ref, int) and not isinstance(ref, bool) and ref == getattr(d, self.DEVICE_NUMBER)
            ):
                return d
        raise UsageError("no %s %r" % (self.DEVICE, ref))

    def control(self, line):
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise UsageError("a request is a JSON object")
            cmd = req.get("cmd")
            if cmd == "ping":
                return {"ok": True}
            if cmd == "list":
                return {"ok": True, self.DEVICES: [d.summary() for d in self.devices]}
            if cmd == "state":
                return {"ok": True, **self.find_device(req.get(self.DEVICE)).full_state()}
            if cmd == "set_state":
                device = self.find_device(req.get(self.DEVICE))
                changes = req.get("state", {})
                if not isinstance(changes, dict):
                    raise UsageError("'state' must be an object")
                device.update_state(changes)
                return {"ok": True, "state": dict(device.state)}
            if cmd in ("set_behaviour", "set_behavior"):
                device = self.find_device(req.get(self.DEVICE))
                changes = req.get("behaviour", req.get("behavior", {}))
                if not isinstance(changes, dict):
                    raise UsageError("'behaviour' must be an object")
                coerced = {k: self.coerce_behaviour(k, v) for k, v in changes.items()}
                device.behaviour.update(coerced)
                return {"ok": True, "behaviour": dict(device.behaviour)}
            if cmd == "log":
                name = None
                if req.get(self.DEVICE) is not None:
                    name = self.find_device(req.get(self.DEVICE)).name
                since = int(req.get("since", 0))
                wanted = {field: req[field] for field in ("kind", "method") if req.get(field) is not None}
                entries = [
                    e for e in self.log
                    if e["seq"] > since and (name is None or e[self.DEVICE] == name)
                    and all(e.get(field) == value for field, value in wanted.items())
                ]
                return {"ok": True, "entries": entries, "next": self.seq}
            if cmd == "clear_log":
                self.log.clear()
                return {"ok": True, "next": self.seq}
            if cmd == "shutdown":
                self.stopping = True
                return {"ok": True}
            return self.control_command(cmd, req)
        except (UsageError, ValueError, TypeError, KeyError) as exc:
            return {"ok": False, "error": str(exc)}


def serve(sim):
    """Binds, prints the ready line, runs until SIGTERM/SIGINT (or stdin EOF, or max_runtime), closes.
    The process exit code: 0 after a run, 1 when binding failed."""

    def on_signal(signum, _frame):
        sim.stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        sim.bind()
    except (OSError, UsageError) as exc:
        sys.stderr.write("%s: error: %s\n" % (sim.NAME, exc))
        sim.close()
        return 1
    try:
        sys.stdout.write(json.dumps(sim.ready_line()) + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        pass
    try:
        sim.run()
    finally:
        sim.close()
    return 0


def add_loop_arguments(parser):
    """The options every simulator takes: its control channel, its log, and the bounds on its run."""
    parser.add_argument("--control-host", default="127.0.0.1", help="control channel address (loopback)")
    parser.add_argument("--control-port", type=int, default=None, help="control TCP port (default 0: free)")
    parser.add_argument("--log-max", type=int, default=200000, help="log entries kept")
    parser.add_argument("--verbose", action="store_true", help="print every log entry on stderr")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="exit when stdin closes")
    parser.add_argument("--max-runtime", type=float, default=None, metavar="S",
                        help="exit after S seconds (safety bound)")


def simulator_main(name, parser, argv, devices_key, specs_from_options, no_devices, make_simulator):
    """A simulator's main(): the device descriptions from --config (a JSON list, or an object with
    `devices_key` and "control_port"), then from the other options (`specs_from_options(args)`), then
    `make_simulator(args, specs, control_port)`, then serve(). Exit code 2 for bad options or
    descriptions, with `no_devices` when there are none."""
    args = parser.parse_args(argv)
    try:
        specs = []
        control_port = 0
        if args.config:
            with open(args.config, encoding="utf-8") as f:
                doc = json.load(f)
            if isinstance(doc, dict):
                specs.extend(doc.get(devices_key, []))
                control_port = int(doc.get("control_port", 0))
            elif isinstance(doc, list):
                specs.extend(doc)
            else:
                raise UsageError("%s: expected an object or a list" % args.config)
        specs.extend(specs_from_options(args))
        if not specs:
            raise UsageError(no_devices)
        if args.control_port is not None:
            control_port = args.control_port
        if not ipaddress.IPv4Address(args.control_host).is_loopback:
            raise UsageError("--control-host must be a loopback address")
        sim = make_simulator(args, specs, control_port)
    except (UsageError, ValueError, TypeError, OSError, json.JSONDecodeError) as exc:
        parser.print_usage(sys.stderr)
        sys.stderr.write("%s: error: %s\n" % (name, exc))
        return 2
    return serve(sim)
