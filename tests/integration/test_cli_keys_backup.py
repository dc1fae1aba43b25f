"""`cloudless keys backup` (docs/mihome_backup.md) on backups this file builds with
tests/tools/make_mihome_backups.py, cross-checked against Debian's `miio-extract-tokens` (python3-miio):
both must report the same tokens. Then: the --yaml block pasted under a minimal config passes
check-config, --output writes 0600, and every bad input exits 1 with one line and writes nothing.

`miio-extract-tokens` opens .ab files with the `android_backup` package, which Debian does not ship; the
stand-in `make_mihome_backups.AndroidBackup` (python3-cryptography, written from the format) is put in its
place, so the databases, the iOS token decryption and miot.xml are still read by python-miio's own code."""

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import helpers

sys.path.insert(0, str(helpers.TESTS_DIR / "tools"))
import make_mihome_backups as backups  # noqa: E402

pytestmark = pytest.mark.usefixtures("cloudless_bin")

# miio-extract-tokens' entry point, with the android_backup stand-in registered first.
EXTRACT_TOKENS = ("import sys; sys.path.insert(0, %r); import make_mihome_backups; "
                  "sys.modules['android_backup'] = make_mihome_backups; "
                  "from miio.extract_tokens import main; sys.argv[0] = 'miio-extract-tokens'; main()"
                  % str(helpers.TESTS_DIR / "tools"))


def cloudless(binary, *args, timeout=60):
    return subprocess.run([str(binary)] + [str(a) for a in args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


def extract_tokens(path, password=None):
    """The tokens python-miio finds (--dump-all: devices without an address too)."""
    args = [helpers.PY, "-c", EXTRACT_TOKENS, str(path), "--dump-all"]
    if password is not None:
        args += ["--password", password]
    out = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return sorted(re.findall(r"^\tToken: (\S+)$", out.stdout, re.MULTILINE))


def table_tokens(table):
    """The TOKEN column of our table ('-' for none)."""
    lines = table.splitlines()
    start, end = lines[0].index("TOKEN"), lines[0].index("BIND KEY")
    return sorted(t for t in (line[start:end].strip() for line in lines[1:]) if t != "-")


@pytest.fixture
def files(tmp_path):
    """{name: path} of the backups of make_mihome_backups.fixtures(), written afresh."""
    paths = {}
    for name, data in backups.fixtures().items():
        paths[name] = tmp_path / name
        paths[name].write_bytes(data)
    password = tmp_path / "password.txt"
    password.write_text(backups.PASSWORD + "\n")
    paths["password"] = password
    return paths


@pytest.mark.parametrize("name", ["android_plain.ab", "android_uncompressed.ab", "android_encrypted.ab",
                                  "android_encrypted_v1.ab", "android_wal_database.ab", "yeelight_only.ab", "miio2.db",
                                  "ios_mihome.sqlite"])
def test_same_tokens_as_miio_extract_tokens(cloudless_bin, files, name):
    encrypted = "encrypted" in name
    args = ["keys", "backup", files[name]] + (["--password-file", files["password"]] if encrypted else [])
    out = cloudless(cloudless_bin, *args)
    assert out.returncode == 0, out.stderr
    ours = table_tokens(out.stdout)
    theirs = extract_tokens(files[name], backups.PASSWORD if encrypted else None)
    assert ours, out.stdout
    assert ours == theirs
    assert out.stderr == ""


def test_ios_tokens_are_decrypted(cloudless_bin, files):
    out = cloudless(cloudless_bin, "keys", "backup", files["ios_mihome.sqlite"])
    assert out.returncode == 0, out.stderr
    assert table_tokens(out.stdout) == sorted(device[5] for device in backups.IOS_DEVICES)


def test_yaml_block_passes_check_config(cloudless_bin, files, tmp_path):
    out = cloudless(cloudless_bin, "keys", "backup", files["android_encrypted.ab"], "--password-file",
                    files["password"], "--yaml")
    assert out.returncode == 0, out.stderr
    assert "  desk_plug:\n    protocol: miio\n    host: 192.168.1.50\n" in out.stdout
    assert "    product_id: 131" in out.stdout  # the kettle
    assert "roborock.vacuum.s5" in out.stdout  # unsupported, listed as a comment
    config = tmp_path / "config.yaml"
    config.write_text("mqtt:\n  server: mqtt://127.0.0.1:1883\nstate_dir: %s\n%s" % (tmp_path, out.stdout))
    check = cloudless(cloudless_bin, "check-config", "--config", config)
    assert check.returncode == 0, check.stdout + check.stderr


def test_output_file_is_0600_and_holds_what_stdout_would(cloudless_bin, files, tmp_path):
    printed = cloudless(cloudless_bin, "keys", "backup", files["android_plain.ab"], "--yaml")
    target = tmp_path / "keys.yaml"
    out = cloudless(cloudless_bin, "keys", "backup", files["android_plain.ab"], "--yaml", "--output", target)
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert target.read_text() == printed.stdout
    assert out.stdout == ""  # the tokens went to the file only
    assert out.stderr == "wrote 6 devices to %s (mode 0600)\n" % target


def truncated(path, tmp_path):
    data = path.read_bytes()
    short = tmp_path / "truncated.ab"
    short.write_bytes(data[:len(data) * 2 // 3])
    return short


def corrupted(path, tmp_path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad = tmp_path / "corrupt.ab"
    bad.write_bytes(bytes(data))
    return bad


@pytest.mark.parametrize("case, expected", [
    ("wrong password", "wrong password"),
    ("no password file", "--password-file"),
    ("truncated", "truncated"),
    ("truncated encrypted", "truncated or corrupt"),
    ("corrupt", "corrupt"),
    ("no Mi Home data", "no Mi Home data in the archive"),
    ("no tables", "neither devicerecord nor ZDEVICE"),
    ("not a backup", "not a Mi Home backup"),
    ("missing file", "cannot open"),
])
def test_bad_input_exits_1_with_one_line_and_writes_nothing(cloudless_bin, files, tmp_path, case, expected):
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the password\n")
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n" * 200)
    args = {
        "wrong password": [files["android_encrypted.ab"], "--password-file", wrong],
        "no password file": [files["android_encrypted.ab"]],
        "truncated": [truncated(files["android_plain.ab"], tmp_path)],
        "truncated encrypted": [truncated(files["android_encrypted.ab"], tmp_path), "--password-file",
                                files["password"]],
        "corrupt": [corrupted(files["android_plain.ab"], tmp_path)],
        "no Mi Home data": [files["no_mihome.ab"]],
        "no tables": [files["no_tables.sqlite"]],
        "not a backup": [junk],
        "missing file": [tmp_path / "absent.ab"],
    }[case]
    target = tmp_path / "keys.yaml"
    out = cloudless(cloudless_bin, "keys", "backup", *args, "--yaml", "--output", target)
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("cloudless: keys backup: ")
    assert expected in lines[0]
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("keys.yaml")]


def test_help(cloudless_bin):
    out = cloudless(cloudless_bin, "keys", "backup", "--help")
    assert out.returncode == 0, out.stderr
    for word in ("FILE", "--password-file", "--yaml", "--output", "0600", "docs/mihome_backup.md"):
        assert word in out.stdout


def test_file_is_required(cloudless_bin):
    out = cloudless(cloudless_bin, "keys", "backup")
    assert out.returncode == 2
    assert "FILE" in out.stderr
