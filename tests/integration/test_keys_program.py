"""`cloudless keys …` runs the key commands' own program (cloudless-keys), so the daemon's executable
does not load the libraries only those commands need; without that program it says so in one line."""

import os
import shutil
import subprocess

CLOUDLESS = os.environ.get("CLOUDLESS_BIN", "cloudless")


def test_the_daemon_does_not_load_the_key_commands_libraries():
    linked = subprocess.run(["ldd", CLOUDLESS], capture_output=True, text=True, check=True).stdout
    for library in ("libarchive", "libsqlite3", "libqrencode", "libxml2", "libicu"):
        assert library not in linked, f"{CLOUDLESS} links {library}"
    keys_program = os.path.join(os.path.dirname(CLOUDLESS), "cloudless-keys")
    keys_linked = subprocess.run(["ldd", keys_program], capture_output=True, text=True, check=True).stdout
    assert "libarchive" in keys_linked and "libsqlite3" in keys_linked


def test_arguments_and_exit_codes_pass_through():
    shown = subprocess.run([CLOUDLESS, "keys", "--help"], capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0
    assert "Usage: cloudless keys [OPTIONS] SUBCOMMAND" in shown.stdout
    for command in ("xiaomi", "backup", "midea"):
        assert f"\n  {command} " in shown.stdout
    usage = subprocess.run([CLOUDLESS, "keys", "backup"], capture_output=True, text=True, timeout=30)
    assert usage.returncode == 2
    assert "FILE is required" in usage.stderr


def test_a_missing_key_program_is_one_line(tmp_path):
    lonely = tmp_path / "cloudless"
    shutil.copy(CLOUDLESS, lonely)
    result = subprocess.run([str(lonely), "keys", "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().split("\n")
    assert len(lines) == 1
    assert lines[0].startswith("cloudless: keys: cannot find the key commands' program (looked for "
                               f"{tmp_path}/cloudless-keys, ")
    # Then where the install puts it: <prefix>/libexec/cloudless (/usr for the package, /usr/local by hand).
    installed = lines[0].split(", ")[-1].rstrip(")")
    assert installed.startswith("/") and installed.endswith("/libexec/cloudless/cloudless-keys"), installed
