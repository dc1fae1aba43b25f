#!/usr/bin/python3
"""Makes the Mi Home backup fixtures of tests/data/backups/ (docs/mihome_backup.md), independently of
the C++ readers: Python's sqlite3, tarfile and zlib, and python3-cryptography for the Android backup
encryption and the iOS token column.

    /usr/bin/python3 tests/tools/make_mihome_backups.py [OUT_DIR]   # default: tests/data/backups

Every token, key, MAC and address here is made up. Also importable: the integration test builds its own
backups with these functions, and `AndroidBackup` stands in for the `android_backup` module that
`miio-extract-tokens` imports to open .ab files (not packaged by Debian), so that the cross-check can run.
"""

import hashlib
import io
import json
import os
import sqlite3
import sys
import tarfile
import tempfile
import zlib
from xml.sax.saxutils import escape

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MIHOME_DB = "apps/com.xiaomi.smarthome/db/miio2.db"
YEELIGHT_XML = "apps/com.yeelight.cherry/sp/miot.xml"
PASSWORD = "correct horse"

# (did, name, model, localIP, mac, token): what the Android Mi Home app keeps in devicerecord.
ANDROID_DEVICES = [
    ("100000001", "Desk plug", "chuangmi.plug.v3", "192.168.1.50", "78:11:DC:00:00:01",
     "00112233445566778899aabbccddeeff"),
    ("100000002", "Hallway plug", "chuangmi.plug.212a01", "192.168.1.51", "78:11:DC:00:00:02",
     "0123456789abcdef0123456789abcdef"),
    ("blt.3.1a2b3c4d5e6f", "Bedroom sensor", "miaomiaoce.sensor_ht.t2", "", "A4:C1:38:00:00:03",
     "aabbccddeeff001122334455"),
    ("blt.4.kettle000001", "Kettle", "yunmi.kettle.v2", "", "F8:24:41:00:00:04", "112233445566778899aabbcc"),
    ("100000005", "Vacuum \"Rocky\"", "roborock.vacuum.s5", "192.168.1.60", "64:90:C1:00:00:05",
     "fedcba9876543210fedcba9876543210"),
    ("100000006", "Gateway (no token)", "lumi.gateway.v3", "192.168.1.61", "04:CF:8C:00:00:06", ""),
]

# What the Yeelight app keeps in its shared preferences (deviceList, JSON per entry).
YEELIGHT_DEVICES = [
    {"did": "200000001", "name": "Lamp & <shade>", "model": "yeelink.light.color1", "localip": "192.168.1.70",
     "mac": "7C:49:EB:00:00:07", "token": "99887766554433221100ffeeddccbbaa"},
]

# (ZDID, ZNAME, ZMODEL, ZLOCALIP, ZMAC, plain token, ZTOKEN form): the iOS app's ZDEVICE.
IOS_DEVICES = [
    ("100000001", "Desk plug", "chuangmi.plug.v3", "192.168.1.50", "78:11:DC:00:00:01",
     "00112233445566778899aabbccddeeff", "ecb64"),
    ("100000002", "Hallway plug", "chuangmi.plug.212a01", "192.168.1.51", "78:11:DC:00:00:02",
     "0123456789abcdef0123456789abcdef", "ecb96"),
    ("100000009", "Old plug", "chuangmi.plug.m1", "192.168.1.59", "78:11:DC:00:00:09",
     "0f0e0d0c0b0a09080706050403020100", "plain"),
]


def ios_ztoken(token, form):
    """The iOS app's ZTOKEN: hex of AES-128-ECB under 16 zero bytes; 'ecb64' drops the padding block."""
    if form == "plain":
        return token
    padder = padding.PKCS7(128).padder()
    padded = padder.update(token.encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(bytes(16)), modes.ECB()).encryptor()
    ciphertext = (encryptor.update(padded) + encryptor.finalize()).hex()
    return ciphertext[:64] if form == "ecb64" else ciphertext


def sqlite_bytes(build):
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "db.sqlite")
        connection = sqlite3.connect(path)
        build(connection)
        connection.commit()
        connection.close()
        with open(path, "rb") as f:
            return f.read()


def android_database(devices=ANDROID_DEVICES, wal=False):
    def build(connection):
        if wal:
            connection.execute("PRAGMA journal_mode=WAL")
        # The real table has some forty columns; these are the ones readers use, plus two others.
        connection.execute("CREATE TABLE devicerecord (_id INTEGER PRIMARY KEY, did TEXT, name TEXT, model TEXT, "
                           "localIP TEXT, mac TEXT, token TEXT, ssid TEXT, pid INTEGER)")
        connection.executemany("INSERT INTO devicerecord (did, name, model, localIP, mac, token, ssid, pid) "
                               "VALUES (?, ?, ?, ?, ?, ?, 'home', 0)", devices)
    data = sqlite_bytes(build)
    if wal:
        assert data[18] == 2 and data[19] == 2, "expected a WAL-mode header"
    return data


def ios_database(devices=IOS_DEVICES):
    def build(connection):
        connection.execute("CREATE TABLE ZDEVICE (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, ZDID VARCHAR, "
                           "ZNAME VARCHAR, ZMODEL VARCHAR, ZLOCALIP VARCHAR, ZMAC VARCHAR, ZTOKEN VARCHAR)")
        for did, name, model, ip, mac, token, form in devices:
            connection.execute("INSERT INTO ZDEVICE (Z_ENT, ZDID, ZNAME, ZMODEL, ZLOCALIP, ZMAC, ZTOKEN) "
                               "VALUES (3, ?, ?, ?, ?, ?, ?)", (did, name, model, ip, mac, ios_ztoken(token, form)))
    return sqlite_bytes(build)


def database_without_tables():
    return sqlite_bytes(lambda c: c.execute("CREATE TABLE settings (key TEXT, value TEXT)"))


def yeelight_preferences(devices=YEELIGHT_DEVICES):
    quote = {'"': "&quot;"}  # Android's XmlSerializer escapes quotes in text too
    entries = "".join("\n        <string>" + escape(json.dumps(d), quote) + "</string>" for d in devices)
    return ("<?xml version='1.0' encoding='utf-8' standalone='yes' ?>\n<map>\n"
            "    <string name=\"userId\">12345</string>\n"
            f"    <set name=\"deviceList\">{entries}\n    </set>\n</map>\n").encode()


def tar_bytes(members):
    """A deterministic tar of {path: bytes}, as the backup service writes it (paths under apps/)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path, data in members.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 1700000000
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def java_utf8(key):
    """Android's checksum input: each byte as Java's (char) cast of a signed byte, UTF-8 encoded."""
    return "".join(chr(b) if b < 0x80 else chr(0xFF00 | b) for b in key).encode("utf-8")


def aes256_cbc(key, iv, data):
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()


def android_backup(tar, password=None, compressed=True, version=5, rounds=10000):
    """An .ab file around `tar` (docs/mihome_backup.md §1); fixed salts, IVs and keys: reproducible."""
    payload = zlib.compress(tar, 9) if compressed else tar
    header = f"ANDROID BACKUP\n{version}\n{1 if compressed else 0}\n"
    if password is None:
        return (header + "none\n").encode() + payload
    user_salt = bytes(range(64))
    checksum_salt = bytes(range(64, 128))
    user_iv = bytes(range(0xA0, 0xB0))
    master_iv = bytes(range(0xB0, 0xC0))
    master_key = bytes(range(0xE0, 0x100))  # every byte ≥ 0x80: the Java conversion matters
    user_key = hashlib.pbkdf2_hmac("sha1", password.encode(), user_salt, rounds, 32)
    checksum_input = java_utf8(master_key) if version >= 2 else master_key
    checksum = hashlib.pbkdf2_hmac("sha1", checksum_input, checksum_salt, rounds, 32)
    blob = bytes([16]) + master_iv + bytes([32]) + master_key + bytes([32]) + checksum
    header += "AES-256\n" + "\n".join([user_salt.hex().upper(), checksum_salt.hex().upper(), str(rounds),
                                       user_iv.hex().upper(), aes256_cbc(user_key, user_iv, blob).hex().upper()])
    return (header + "\n").encode() + aes256_cbc(master_key, master_iv, payload)


class AndroidBackup:
    """Just what miio-extract-tokens uses of the `android_backup` package: AndroidBackup(path, stream=False)
    as a context manager, and read_data(password) returning the tarfile. Written from the format, with
    python3-cryptography; it shares no code with the C++ reader."""

    def __init__(self, path, stream=False):
        with open(path, "rb") as f:
            self.data = f.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def read_data(self, password):
        lines = self.data.split(b"\n", 9)
        assert lines[0] == b"ANDROID BACKUP"
        compressed, encryption = lines[2] == b"1", lines[3]
        if encryption == b"none":
            payload = b"\n".join(lines[4:])
        else:
            user_salt, checksum_salt = bytes.fromhex(lines[4].decode()), bytes.fromhex(lines[5].decode())
            rounds, user_iv = int(lines[6]), bytes.fromhex(lines[7].decode())
            blob, payload = bytes.fromhex(lines[8].decode()), lines[9]
            user_key = hashlib.pbkdf2_hmac("sha1", password.encode(), user_salt, rounds, 32)
            decryptor = Cipher(algorithms.AES(user_key), modes.CBC(user_iv)).decryptor()
            unpadder = padding.PKCS7(128).unpadder()
            plain = unpadder.update(decryptor.update(blob) + decryptor.finalize()) + unpadder.finalize()
            iv, key = plain[1:17], plain[18:50]
            decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
            unpadder = padding.PKCS7(128).unpadder()
            payload = unpadder.update(decryptor.update(payload) + decryptor.finalize()) + unpadder.finalize()
        if compressed:
            payload = zlib.decompress(payload)
        return tarfile.open(fileobj=io.BytesIO(payload))


def fixtures():
    """{file name: bytes} of tests/data/backups/."""
    both = tar_bytes({"apps/com.xiaomi.smarthome/_manifest": b"com.xiaomi.smarthome\n",
                      MIHOME_DB: android_database(), YEELIGHT_XML: yeelight_preferences()})
    return {
        "android_plain.ab": android_backup(both),
        "android_uncompressed.ab": android_backup(both, compressed=False),
        "android_encrypted.ab": android_backup(both, password=PASSWORD),
        "android_encrypted_v1.ab": android_backup(both, password=PASSWORD, version=1),
        "android_wal_database.ab": android_backup(tar_bytes({MIHOME_DB: android_database(wal=True)})),
        "yeelight_only.ab": android_backup(tar_bytes({YEELIGHT_XML: yeelight_preferences()})),
        "no_mihome.ab": android_backup(tar_bytes({"apps/com.example.notes/db/notes.db": b"not ours"})),
        "unpacked.tar": both,
        "miio2.db": android_database(),
        "ios_mihome.sqlite": ios_database(),
        "no_tables.sqlite": database_without_tables(),
    }


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "data", "backups")
    os.makedirs(out_dir, exist_ok=True)
    for name, data in fixtures().items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
