"""The Debian package's life in a clean Debian 12 root: install, reinstall, remove, purge.

The root (CLOUDLESS_TEST_ROOT) is made beforehand by tests/package/make-test-root.sh: minbase plus the
package's dependencies, so nothing here touches the network. The package (CLOUDLESS_DEB) is installed
with dpkg in a chroot; systemd does not run there, so the unit is enabled but never started, as
debian/cloudless.postinst does when the configuration names no device yet. Run as root.
"""
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(os.environ.get("CLOUDLESS_TEST_ROOT", "/nonexistent"))
DEB = Path(os.environ.get("CLOUDLESS_DEB", "/nonexistent"))
# Not walked: mount points and scratch.
SKIPPED_TOP = {"proc", "sys", "dev", "run", "tmp"}
# What dpkg and the user database may keep after a purge: dpkg's own records and logs, and the system user
# (Debian keeps system users: files owned by its uid may remain elsewhere).
KEPT_AFTER_PURGE = ("/var/lib/dpkg/", "/var/log/dpkg.log", "/var/cache/debconf/", "/etc/passwd", "/etc/group",
                    "/etc/shadow", "/etc/gshadow", "/etc/subuid", "/etc/subgid")


def snapshot():
    """path -> (type, mode, uid, gid, size) of every file under ROOT (but SKIPPED_TOP)."""
    entries = {}
    for top in ROOT.iterdir():
        if top.name in SKIPPED_TOP:
            continue
        paths = [top] + (list(top.rglob("*")) if top.is_dir() and not top.is_symlink() else [])
        for path in paths:
            info = path.lstat()
            entries["/" + str(path.relative_to(ROOT))] = (stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode),
                                                          info.st_uid, info.st_gid, info.st_size)
    return entries


def in_root(*command, user=None, check=True):
    """Runs a command in the chroot; returns (exit code, stdout + stderr)."""
    prefix = ["chroot"] + ([f"--userspec={user}"] if user else []) + [str(ROOT)]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(prefix + list(command), capture_output=True, text=True, timeout=120, env=env)
    output = result.stdout + result.stderr
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {result.returncode}:\n{output}")
    return result.returncode, output


def user_entry(name):
    for line in (ROOT / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return fields
    return None


def group_members(name):
    for line in (ROOT / "etc/group").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return fields[3].split(",") if fields[3] else []
    return None


@pytest.fixture(scope="module")
def life():
    """Installs, checks in the root, reinstalls, removes and purges, recording what each step left."""
    if os.geteuid() != 0:
        pytest.fail("needs root (chroot, file owners)")
    if not (ROOT / "usr/bin/dpkg").exists() or not DEB.is_file():
        pytest.fail(f"CLOUDLESS_TEST_ROOT ({ROOT}) and CLOUDLESS_DEB ({DEB}) must name a root made by "
                    "tests/package/make-test-root.sh and the package")
    record = {"before": snapshot()}
    shutil.copy(DEB, ROOT / "tmp/cloudless.deb")
    # systemd-tmpfiles (the state directory) needs /proc, as on any running system.
    subprocess.run(["mount", "-t", "proc", "proc", str(ROOT / "proc")], check=True)
    try:
        record["install"] = in_root("dpkg", "--install", "/tmp/cloudless.deb")
        record["installed"] = snapshot()
        record["wants_link"] = os.readlink(ROOT / "etc/systemd/system/multi-user.target.wants/cloudless.service")
        record["unit"] = (ROOT / "lib/systemd/system/cloudless.service").read_text()
        record["passwd"] = user_entry("cloudless")
        record["bluetooth_members"] = group_members("bluetooth")
        record["version"] = in_root("cloudless", "--version", check=False)
        record["keys_help"] = in_root("cloudless", "keys", "--help", check=False)
        record["check_as_service_user"] = in_root("cloudless", "check-config", "--config", "/etc/cloudless/config.yaml",
                                                  user="cloudless:cloudless", check=False)
        record["check_as_other_user"] = in_root("cloudless", "check-config", "--config", "/etc/cloudless/config.yaml",
                                                user="nobody:nogroup", check=False)
        # The administrator adds a device and a password; a reinstall (an upgrade to the same version) keeps
        # both and runs the postinst again.
        config = ROOT / "etc/cloudless/config.yaml"
        text = config.read_text()
        assert "\ndevices:\n" in text
        config.write_text(text.replace("\ndevices:\n", "\ndevices:\n  desk_plug:\n    protocol: miio\n"
                                       "    host: 192.0.2.50\n    token: 00112233445566778899aabbccddeeff\n", 1))
        (ROOT / "etc/cloudless/mqtt.password").write_text("secret\n")
        record["edited_check"] = in_root("cloudless", "check-config", "--config", "/etc/cloudless/config.yaml",
                                         user="cloudless:cloudless", check=False)
        (ROOT / "var/lib/cloudless/energy_desk_plug.json").write_text("{}")
        record["reinstall"] = in_root("dpkg", "--install", "/tmp/cloudless.deb")
        record["reinstalled"] = snapshot()
        record["config_after_reinstall"] = config.read_text()
        record["remove"] = in_root("dpkg", "--remove", "cloudless")
        record["removed"] = snapshot()
        record["purge"] = in_root("dpkg", "--purge", "cloudless")
        record["purged"] = snapshot()
    finally:
        subprocess.run(["umount", str(ROOT / "proc")], check=True)
        (ROOT / "tmp/cloudless.deb").unlink(missing_ok=True)
    return record


def added(record, step):
    return {path: entry for path, entry in record[step].items() if path not in record["before"]}


def as_walked(path):
    """The path under which snapshot() sees a file: Debian 12 roots have /lib -> usr/lib (merged /usr)."""
    if path.startswith("/lib/") and (ROOT / "lib").is_symlink():
        return "/usr" + path
    return path


def test_installs_program_unit_user_and_state_directory(life):
    new = added(life, "installed")
    uid, gid = int(life["passwd"][2]), int(life["passwd"][3])
    expected = {
        "/usr/bin/cloudless": (stat.S_IFREG, 0o755, 0, 0),
        "/usr/libexec/cloudless/cloudless-keys": (stat.S_IFREG, 0o755, 0, 0),
        "/lib/systemd/system/cloudless.service": (stat.S_IFREG, 0o644, 0, 0),
        "/usr/lib/sysusers.d/cloudless.conf": (stat.S_IFREG, 0o644, 0, 0),
        "/usr/lib/tmpfiles.d/cloudless.conf": (stat.S_IFREG, 0o644, 0, 0),
        "/usr/share/man/man1/cloudless.1.gz": (stat.S_IFREG, 0o644, 0, 0),
        "/usr/share/doc/cloudless/copyright": (stat.S_IFREG, 0o644, 0, 0),
        "/etc/cloudless/config.yaml": (stat.S_IFREG, 0o640, 0, gid),
        "/etc/cloudless/mqtt.password": (stat.S_IFREG, 0o600, 0, 0),
        "/var/lib/cloudless": (stat.S_IFDIR, 0o750, uid, gid),
        "/etc/systemd/system/multi-user.target.wants/cloudless.service": (stat.S_IFLNK, 0o777, 0, 0),
    }
    for path, (kind, mode, owner, group) in expected.items():
        path = as_walked(path)
        assert path in new, f"{path} not installed"
        assert new[path][:4] == (kind, mode, owner, group), f"{path}: {new[path][:4]} != {(kind, mode, owner, group)}"
    assert life["wants_link"] == "/lib/systemd/system/cloudless.service"
    assert new["/etc/cloudless/mqtt.password"][4] == 0, "the password file starts empty (anonymous broker)"
    unit = life["unit"]
    assert "ExecStart=/usr/bin/cloudless run --config /etc/cloudless/config.yaml" in unit
    assert "/usr/local" not in unit


def test_system_user_for_the_service(life):
    name, _, uid, gid, _, home, shell = life["passwd"]
    assert 0 < int(uid) < 1000 and 0 < int(gid) < 1000, "a system user"
    assert home == "/var/lib/cloudless"
    assert shell.endswith("nologin")
    assert "cloudless" in life["bluetooth_members"], "in group bluetooth for BlueZ"


def test_postinst_enables_but_does_not_start_without_devices(life):
    code, output = life["install"]
    assert "OK (0 device(s))" in output
    assert "enabled but not started" in output
    assert "systemctl restart cloudless" in output


def test_version_and_key_program(life):
    code, output = life["version"]
    assert code == 0, output
    version = subprocess.run(["dpkg-deb", "--field", str(DEB), "Version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    assert version in output
    code, output = life["keys_help"]
    assert code == 0, output
    assert "xiaomi" in output and "backup" in output and "midea" in output


def test_check_config_as_the_service_user_and_not_as_others(life):
    code, output = life["check_as_service_user"]
    assert code == 0, output
    assert "/etc/cloudless/config.yaml: OK (0 device(s))" in output
    code, output = life["check_as_other_user"]
    assert code != 0, "config.yaml (device tokens) must not be readable by other users"
    code, output = life["edited_check"]
    assert code == 0, output
    assert "OK (1 device(s))" in output


def test_reinstall_keeps_configuration_password_and_state(life):
    assert "desk_plug:" in life["config_after_reinstall"]
    code, output = life["reinstall"]
    assert "enabled but not started" not in output, "a configuration with a device passes"
    entries = life["reinstalled"]
    assert entries["/etc/cloudless/config.yaml"][1:3] == (0o640, 0)
    assert entries["/etc/cloudless/mqtt.password"][4] == len("secret\n")
    assert "/var/lib/cloudless/energy_desk_plug.json" in entries


def test_remove_keeps_configuration_and_state(life):
    entries = life["removed"]
    assert "/usr/bin/cloudless" not in entries
    assert "/usr/libexec/cloudless/cloudless-keys" not in entries
    assert as_walked("/lib/systemd/system/cloudless.service") not in entries
    assert "/etc/cloudless/config.yaml" in entries
    assert "/var/lib/cloudless/energy_desk_plug.json" in entries


def test_purge_leaves_nothing(life):
    before, after = life["before"], life["purged"]
    left = sorted(p for p in after if p not in before and not p.startswith(KEPT_AFTER_PURGE))
    gone = sorted(p for p in before if p not in after and not p.startswith(KEPT_AFTER_PURGE))
    changed = sorted(p for p in before if p in after and before[p][:4] != after[p][:4]
                     and not p.startswith(KEPT_AFTER_PURGE))
    assert left == [], f"left behind: {left}"
    assert gone == [], f"removed what was not ours: {gone}"
    assert changed == [], f"changed: {changed}"
    assert not (ROOT / "etc/cloudless").exists()
    assert not (ROOT / "var/lib/cloudless").exists()
    code, overrides = in_root("dpkg-statoverride", "--list", check=False)  # exit 1: none at all
    assert "/etc/cloudless" not in overrides
