"""systemd integration without systemd: the test plays the service manager. It listens on a
NOTIFY_SOCKET datagram socket and sets WATCHDOG_USEC, then checks that cloudless reports READY=1 as soon
as its config is loaded even with the broker down (docs/bridges.md §4.1), pings WATCHDOG=1 from its event
loop, publishes STATUS= lines, says STOPPING=1 on SIGTERM; and that under journald (JOURNAL_STREAM set)
its log lines carry sd-daemon <N> priority prefixes."""

import os
import socket
import subprocess
import time

import pytest

import helpers

pytestmark = pytest.mark.usefixtures("cloudless_bin")


class NotifySocket:
    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []

    def collect(self, until, timeout):
        """Reads datagrams until one contains `until` (a line) or the timeout; returns all lines seen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            self.messages.extend(data.splitlines())
            if until in data.splitlines() or any(line.startswith(until) for line in data.splitlines()):
                return True
        return False

    def close(self):
        self.sock.close()


def run_daemon(cloudless_bin, tmp_path, env_extra):
    # A broker address where nothing listens: readiness must not wait for it.
    port = helpers.free_tcp_port()
    config = tmp_path / "config.yaml"
    config.write_text("mqtt:\n  server: mqtt://127.0.0.1:%d\nstate_dir: %s\nlog_level: debug\n" % (port, tmp_path))
    env = dict(os.environ)
    env.update(env_extra)
    log = open(tmp_path / "cloudless.log", "wb")
    proc = subprocess.Popen([str(cloudless_bin), "run", "--config", str(config)], stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return proc, log


def test_ready_watchdog_status_and_stopping(cloudless_bin, tmp_path):
    notify = NotifySocket(tmp_path / "notify.sock")
    proc, log = run_daemon(cloudless_bin, tmp_path, {"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"})
    try:
        assert notify.collect("READY=1", timeout=10), notify.messages
        # Pinged at half the interval: several pings within 1.5 s.
        start = len([m for m in notify.messages if m == "WATCHDOG=1"])
        notify.collect("never", timeout=1.5)
        pings = len([m for m in notify.messages if m == "WATCHDOG=1"]) - start
        assert pings >= 3, notify.messages
        assert any(m.startswith("STATUS=MQTT not connected") for m in notify.messages), notify.messages
        proc.terminate()
        assert notify.collect("STOPPING=1", timeout=10), notify.messages
        assert proc.wait(timeout=15) == 0
    finally:
        helpers.stop_process(proc)
        log.close()
        notify.close()


def test_no_watchdog_without_watchdog_usec(cloudless_bin, tmp_path):
    notify = NotifySocket(tmp_path / "notify.sock")
    proc, log = run_daemon(cloudless_bin, tmp_path, {"NOTIFY_SOCKET": notify.path})
    try:
        assert notify.collect("READY=1", timeout=10), notify.messages
        notify.collect("WATCHDOG=1", timeout=1.0)
        assert "WATCHDOG=1" not in notify.messages
    finally:
        helpers.stop_process(proc)
        log.close()
        notify.close()


def test_journald_priority_prefixes(cloudless_bin, tmp_path):
    proc, log = run_daemon(cloudless_bin, tmp_path, {"JOURNAL_STREAM": "8:12345"})
    try:
        text = helpers.wait_until(lambda: helpers.read_text(tmp_path / "cloudless.log")
                                  if "<6>cloudless" in helpers.read_text(tmp_path / "cloudless.log") else None,
                                  10, message="an info line with the <6> prefix")
        lines = [line for line in text.splitlines() if line]
        assert all(line[:1] == "<" and line[2:3] == ">" for line in lines), lines
    finally:
        helpers.stop_process(proc)
        log.close()
