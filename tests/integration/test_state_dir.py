"""state_dir as someone else on the machine might leave it: made under a permissive umask, a FIFO
or a symbolic link where a state file belongs, a file of megabytes, a torn JSON file. The daemon must
start (never hang on a file), keep secrets private (0750 directory, 0600 files), never follow a link,
and never silently overwrite what it cannot read: a bad file is moved aside as
`<file>.corrupt-<UTC time>` with a warning. Real parts: mosquitto, the miIO plug simulator, the binary.
"""

import os
import stat

import pytest

import helpers
from helpers import MIIO_FAST

pytestmark = pytest.mark.usefixtures("cloudless_bin")

BASE = helpers.BASE_TOPIC
STATE_FILE = "miio_desk_plug.json"


def plug_daemon(simulator, daemon, state_dir=None):
    """A plug and a daemon configured for it, not started; state_dir defaults to the daemon's own."""
    sim = simulator([helpers.make_plug("desk_plug", "chuangmi.plug.v3")])
    d = daemon({"desk_plug": helpers.miio_device(sim.plug("desk_plug"), **MIIO_FAST)}, start=False)
    if state_dir is not None:
        d.state_dir = state_dir
        d.write_config(helpers.daemon_config(d.broker.url, d.config["devices"], state_dir))
    return sim, d


def wait_state_file(d, timeout=15.0):
    path = d.state_dir / STATE_FILE
    helpers.wait_until(lambda: path.is_file() and not path.is_symlink() and b'"did"' in path.read_bytes(), timeout,
                       message="the daemon's state file %s" % path)
    return path


def aside_files(d):
    return sorted(p for p in d.state_dir.iterdir() if p.name.startswith(STATE_FILE + ".corrupt-"))


def test_state_dir_is_made_0750_and_files_0600_whatever_the_umask(simulator, daemon, mqtt_client, tmp_path):
    sim, d = plug_daemon(simulator, daemon, state_dir=tmp_path / "fresh" / "state")
    old = os.umask(0)
    try:
        d.start()
    finally:
        os.umask(old)
    mqtt_client.wait_for_json("%s/desk_plug" % BASE, timeout=15)
    path = wait_state_file(d)
    assert stat.S_IMODE(os.stat(d.state_dir).st_mode) == 0o750
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_fifo_in_place_of_a_state_file_never_hangs_start_up(simulator, daemon, mqtt_client):
    sim, d = plug_daemon(simulator, daemon)
    os.mkfifo(d.state_dir / STATE_FILE)
    d.start()  # waits for bridge/state online: a blocking open of the FIFO never got there
    mqtt_client.wait_for_json("%s/desk_plug" % BASE, timeout=15)
    wait_state_file(d)
    moved = aside_files(d)
    assert len(moved) == 1 and stat.S_ISFIFO(os.lstat(moved[0]).st_mode), moved
    d.wait_for_log(r"state file .*miio_desk_plug\.json: it is not a regular file; moved it aside to .*\.corrupt-")


def test_an_oversized_state_file_is_moved_aside_not_read(simulator, daemon, mqtt_client):
    sim, d = plug_daemon(simulator, daemon)
    big = b'{"energy": {"total_kwh": 1.0}, "padding": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    (d.state_dir / STATE_FILE).write_bytes(big)
    d.start()
    wait_state_file(d)
    moved = aside_files(d)
    assert len(moved) == 1 and moved[0].read_bytes() == big
    d.wait_for_log(r"more than a state file ever holds; moved it aside")


def test_a_corrupt_state_file_is_kept_aside_not_overwritten(simulator, daemon, mqtt_client):
    sim, d = plug_daemon(simulator, daemon)
    torn = b'{"did": 1234, "energy": {"total_kwh": 12.5'
    (d.state_dir / STATE_FILE).write_bytes(torn)
    d.start()
    path = wait_state_file(d)
    moved = aside_files(d)
    assert len(moved) == 1 and moved[0].read_bytes() == torn, "the unreadable file was overwritten"
    assert path.read_bytes() != torn
    d.wait_for_log(r"state file .* is not a JSON object; moved it aside to")


def test_a_symlinked_state_file_is_not_followed(simulator, daemon, mqtt_client, tmp_path):
    sim, d = plug_daemon(simulator, daemon)
    elsewhere = tmp_path / "not_state.json"
    elsewhere.write_text('{"did": 42}\n')
    (d.state_dir / STATE_FILE).symlink_to(elsewhere)
    (d.state_dir / (STATE_FILE + ".tmp")).symlink_to(tmp_path / "planted_tmp_target")
    d.start()
    path = wait_state_file(d)
    assert not path.is_symlink()
    assert elsewhere.read_text() == '{"did": 42}\n', "the daemon wrote through a symbolic link"
    assert not (tmp_path / "planted_tmp_target").exists(), "the daemon followed a planted temp-file link"
    moved = aside_files(d)
    assert len(moved) == 1 and moved[0].is_symlink()
    d.wait_for_log(r"it is a symbolic link; moved it aside")
