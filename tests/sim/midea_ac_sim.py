#!/usr/bin/python3
"""Midea air-conditioner simulator: many Midea ACs (LAN protocol V2 "5A5A" or V3 "8370") on loopback
addresses, one process.

An implementation independent of cloudless' C++ codecs, written from the docs
(docs/midea.md, "§N" below): Python 3.11 stdlib plus Debian's
python3-cryptography for AES and SHA. Single-threaded, non-blocking (selectors).

Every simulated AC listens on its own TCP address (127.x.y.z, default port 6444; port 0 picks a free
port, reported in the ready line) and answers the discovery request on UDP 6445 and 20086 of the same
address. Only 127.0.0.0/8 addresses are accepted: this tool never broadcasts and never binds a wildcard
address.

Run `/usr/bin/python3 tests/sim/midea_ac_sim.py --help` for the full reference (CLI, AC description,
state, capabilities, behaviour switches and the control protocol); the text is in HELP_EPILOG below.

The codec functions (build_frame, v2_packet, v3_packet, handshake_reply, discovery_reply, encode_c0,
...) are plain module-level functions so that tests can check them against the docs/midea.md vectors by
importing this file; the server never shares state with them.
"""

import argparse
import hashlib
import ipaddress
import json
import os
import random
import selectors
import socket
import struct
import sys
import time
from collections import deque

try:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
except ImportError as exc:  # pragma: no cover - environment problem
    sys.stderr.write(
        "midea_ac_sim: needs Debian's python3-cryptography; run it with /usr/bin/python3 (%s)\n" % exc
    )
    sys.exit(3)

# sim_loop.py lies beside this file, also when a test loads this file as a module.
if os.path.dirname(os.path.abspath(__file__)) not in sys.path:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sim_loop import SimLoop, UsageError, add_loop_arguments, simulator_main  # noqa: E402

HELP_EPILOG = r"""
AC DESCRIPTION
  A JSON file (--config) holds {"acs": [AC, ...], "control_port": N} or just [AC, ...].
  --ac takes the same keys as comma-separated key=value pairs; nested keys use a dot and lists a "+":
    --ac name=living,address=127.0.0.2,protocol=v3,state.power=on,cap.modes=cool+heat,garbage=junk+bad_crc
  A bare STATE or BEHAVIOUR key (power=on, silent=true) is accepted too.
  AC keys (all optional except address):
    name        control-channel name (default "<address>:<port>")
    address     127.x.y.z to bind (required; anything outside 127.0.0.0/8 is refused)
    port        TCP port (default 6444; 0 = a free one, reported in the ready line)
    discovery_port, discovery_port_alt
                UDP discovery ports (default 6445 and 20086; 0 = a free one; null = none)
    protocol    "v3" (8370 framing + token/key handshake; default) or "v2" (plain 5A5A, no auth)
    id          appliance id, int or "0x..." (6 bytes; default derived from the name). The V2 header
                carries it LE; the V3 discovery trailer is udpid(6-byte BE id), docs/midea.md §1.2, §5.2.
    token       128 hex digits (V3; default derived from the name)
    key         64 hex digits (V3; default derived from the name)
    handshake_r 64 hex digits: the "random" R of every handshake (tests; default: os.urandom)
    sn          32 ASCII chars (default 000000P0000000Q1 + MAC + 0000)
    ssid        discovery name (default net_ac_ + last 4 hex digits of the MAC)
    mac         12 hex digits (default from the id); firmware: 12 hex digits (default 150023082122)
    subtype     int (default 0xACAC); device_type: int (default 0xAC)
    energy_format  "bcd" (default) or "binary": group-4 energy/power encoding (docs/midea.md §4.8)
    state {STATE}, capabilities (alias cap) {CAPABILITIES}, behaviour {BEHAVIOUR}
  STATE keys (set_state changes them "by remote"; a 0x40 set or a display toggle changes them too):
    power (bool, default false), mode (auto|cool|dry|heat|fan|smart_dry or 1..6, default cool),
    target (°C, 0.5 steps, default 24.0), fan_speed (1..100, 102 = auto; default 102),
    swing (off|vertical|horizontal|both or the raw nibble; default off), eco, turbo, sleep,
    freeze_protection, purifier, follow_me, aux_heat, fahrenheit (display in °F), filter_alert (bools,
    default false), display (bool, default true), error_code (0..255), target_humidity (0..100,
    default 0), indoor, outdoor (°C with tenths or null; default 23.5 / 18.0), indoor_humidity (% or
    null; default 45), energy_kwh (lifetime, default 123.45), current_energy_kwh (default 1.5),
    power_w (default 850.0). While power is on, power_w is reported and both energy counters grow
    with it; while off the reported power is 0.
  CAPABILITIES keys (the 0xB5 answer, docs/midea.md §4.6; each key may be null = entry left out):
    modes (list of auto|cool|dry|heat; default all four), fan_speeds (list of
    silent|low|medium|high|auto, or [custom]; default low+medium+high+auto), swing (list of
    vertical|horizontal; default both), eco, turbo, freeze_protection, display_control (bools,
    default true), humidity (false|auto|manual|both, default false), energy (bool or the raw 0x0216
    value; true = 2 with energy_format bcd, 4 with binary; default true), temperatures
    ({"cool": [16, 30], "auto": [16, 30], "heat": [16, 30], "decimals": true}), extra (list of
    [id, "hex value"] raw entries), pages (1 or 2; default 1), page_split (entries on page 1;
    default half). With pages 2 the first page ends with the trailer 01 00 ("more"), the second
    (asked with B5 01 01 01) with 00 00; a page-2 request to a one-page AC gets an empty page.
  BEHAVIOUR keys (settable at runtime with set_behaviour):
    silent            true: accept TCP, read and log, never write anything (handshake included)
    refuse            true: close every new TCP connection at once
    drop_after_replies N: close the connection after its Nth reply (the "drops every few minutes"
                      quirk, docs/midea.md §8 item 2; handshake answers are not counted; 0/null = never)
    error_after_replies N: instead of the Nth reply send the 13-byte ERROR packet, then close
                      (V3 mid-session re-authentication, msmart #65; a V2 AC just closes)
    garbage           true | list of kinds sent (each its own write) before every reply:
                      junk (random bytes without a magic), bad_sign (a reply packet with a wrong
                      SHA256 / MD5), bad_crc (a valid packet whose C0 frame has a wrong body CRC),
                      unsolicited (the notification frame); true = all four
    notification      b5 (the real frame-type-0x05 B5 notification, docs/midea.md §7.3; default) or c0
                      (the current state as a frame-type-0x04 C0): the "unsolicited" frame
    merge             true: send the notification and the reply in ONE write
    delay             seconds to wait before every answer (handshake and discovery included)
    split_writes      true: send answers one byte per write, split_pause s apart (default 0.001)
    checksum_body     true: end reply bodies with the additive checksum instead of CRC-8
    handshake         normal | error (answer ERROR even to the right token, then close) |
                      corrupt (answer a 64-byte body whose SHA256 does not match)
    ignore_discovery  true: never answer discovery
    discovery_body    auto (v2: short 52-byte body, v3: extended) | short | extended
    discovery_trailer udpid (default) | zeros (a never-cloud-bound module, msmart #151)
    Wire quirks of the 0xC0 answer (docs/midea.md §7.3 shows each on real units):
    frame_version     frame byte 8 of replies (default 3; real replies show 2, 3, 8)
    c0_length         payload bytes incl. the trailing message-id echo (23 or 24..32; default 24)
    temperature_tenths  true (default): indoor/outdoor tenths in byte 15; false: 0.5 °C steps only
    alt_target        auto (byte 13 = T-12 only outside 17..30, as msmart sends) | always
    swing_base        byte 7 = swing_base | swing (default 0x30; some units send 0x00)
    timer_bytes       hex of bytes 4..6 (default 000000; some units send 7f7f00)

WIRE SUMMARY (docs/midea.md §2-§4)
  V2: 5A5A packets, AES-128-ECB(MD5(SIGN_KEY)), MD5 signature; replies carry flags 20 80, the AC id
  LE at [20..27], and 01 at [36] (V2) or 01 80 at [34..35] (inside V3), as real modules do. Heartbeats (type 01 10) get a 56-byte
  heartbeat answer. V3: 8370 header; type 0 handshake (64-byte token) -> type 1 with
  AES-256-CBC(key, IV 0)(R) || SHA256(R), session key = R xor key; wrong token -> ERROR
  (83 70 00 05 20 0F 00 00 "ERROR") and close; type 6 requests -> type 3 responses with the request's
  counter, random pad. Requests with a bad SHA256/MD5 are logged (bad_sign) and ignored; frames with
  a bad checksum/CRC or not for 0xAC are logged (malformed) and ignored.
  Frames: 0x41 81 query -> C0 (its last byte echoes the request's message id); 0x40 set -> apply,
  C0; 0x41 with byte1 & 0x80 == 0 and bytes 3..4 = FF 02 -> display toggle, C0; 0xB5 -> capability
  page; 0x41 21 01 4g -> C1 group g (4: energy in energy_format, 5: indoor humidity; others are
  logged and not answered); 0xB1/0xB0 -> every asked id with result 0 (B1: the value where known:
  0x0015 humidity, 0x0017 display, else absent). Replies keep the request's frame type.

CONTROL CHANNEL
  TCP on 127.0.0.1:<control_port>, JSON lines both ways: one request object per line, one reply object
  per line ({"ok": true, ...} or {"ok": false, "error": "..."}). Readiness: after every socket is bound
  the simulator prints ONE JSON line on stdout:
    {"control_port": N, "control_host": "127.0.0.1", "pid": P, "acs": [{"name", "address", "port",
     "discovery_ports", "protocol", "id", "udpid", "token", "key", "sn", "ssid", "mac"}, ...]}
  An AC is named by "ac": its name, "address", "address:port" or id (int).
  Commands ("cmd"):
    ping                                   -> {"ok": true}
    list                                   -> {"acs": [...summary...]}
    state      ac                          -> {"state", "behaviour", "capabilities", "connections",
                                               "requests", "handshakes", ...summary}
    set_state  ac, state: {STATE keys}     -> {"state": {...}}  (e.g. {"indoor": 26.5}: the room warmed)
    set_behaviour ac, behaviour: {BEHAVIOUR keys} -> {"behaviour": {...}}  (alias: set_behavior)
    set_capabilities ac, capabilities: {CAPABILITIES keys} -> {"capabilities": {...}}
    log        [ac] [, since: seq] [, kind]  -> {"entries": [...], "next": seq}
               entry: {seq, t (time.monotonic), wall (time.time), ac, kind, conn, ...}; kinds:
                 connect (refused: bool), close (reason), handshake_ok, handshake_bad (reason),
                 request (what: query|set|display_toggle|capabilities|group|properties_get|
                 properties_set|heartbeat|unknown, frame, msg_id, counter, answered, dropped, reply),
                 set (fields: every decoded field of the 0x40 body; display for a toggle),
                 bad_sign (layer v2|v3), malformed (why), discovery (src, answered), error_sent,
                 notify (notification: b5|c0, frame)
    clear_log                              -> {"next": seq}
    drop       ac                          -> {"closed": N}: close the AC's live connections now
    notify     ac [, kind: b5|c0]          -> {"sent": N}: push the unsolicited notification (kind
                                              default: the AC's "notification" behaviour) now, on
                                              every live connection (V3: authenticated ones), as a
                                              unit does unasked; logged as kind "notify"
    shutdown                               -> {"ok": true}, then exits 0
EXIT
  SIGTERM/SIGINT/shutdown: exit 0. Bad arguments: 2. A socket that cannot be bound: 1.
  --exit-on-stdin-eof: exit when stdin closes (tests pass a pipe so a killed test run leaves nothing).
  --max-runtime S: exit after S seconds whatever happens (a safety bound for tests).
"""

# ----------------------------------------------------------------------------------------------
# Constants (docs/midea.md §1.3, §2, §3)

SIGN_KEY = b"xhdiwjnchekd4d512chdjx5d8e4c394D2D7S"
ENC_KEY = hashlib.md5(SIGN_KEY).digest()  # 6a92ef406bad2f0359baad994171ea6d
DISCOVERY_REQUEST = bytes.fromhex(
    "5a5a01114800920000000000000000000000000000000000000000000000000000000000000000007f75bd6b3e4f8b76"
    "2e849c6e578d6590036e9d4342a50f1f569eb8ec918e92e5"
)
ERROR_PACKET = bytes.fromhex("83700005200f00004552524f52")
# The real frame-type-0x05 B5 notification (docs/midea.md §7.3): clients must not take it for capabilities.
B5_NOTIFICATION = bytes.fromhex("aa1aac00000000000205b50310060101090001010a000101dcbcb4")

V3_HANDSHAKE_REQUEST = 0x0
V3_HANDSHAKE_RESPONSE = 0x1
V3_ENCRYPTED_RESPONSE = 0x3
V3_ENCRYPTED_REQUEST = 0x6
V3_ERROR = 0xF

MODES = {"auto": 1, "cool": 2, "dry": 3, "heat": 4, "fan": 5, "smart_dry": 6}
MODE_NAMES = {v: k for k, v in MODES.items()}
SWINGS = {"off": 0x0, "vertical": 0xC, "horizontal": 0x3, "both": 0xF}
SWING_NAMES = {v: k for k, v in SWINGS.items()}

GARBAGE_KINDS = ("junk", "bad_sign", "bad_crc", "unsolicited")


# ----------------------------------------------------------------------------------------------
# Crypto (OpenSSL through python3-cryptography; nothing hand-written)


def aes128_ecb_encrypt(key, data):
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(data) + enc.finalize()


def aes128_ecb_decrypt(key, data):
    dec = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
    return dec.update(data) + dec.finalize()


def aes_cbc_encrypt(key, data, iv=bytes(16)):
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def aes_cbc_decrypt(key, data, iv=bytes(16)):
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def pkcs7_pad(data):
    n = 16 - len(data) % 16
    return data + bytes([n]) * n


def pkcs7_unpad(data):
    if not data or len(data) % 16:
        raise ValueError("not a whole number of blocks")
    n = data[-1]
    if not 1 <= n <= 16 or data[-n:] != bytes([n]) * n:
        raise ValueError("bad PKCS7 padding")
    return data[:-n]


def sha256(data):
    return hashlib.sha256(data).digest()


def udpid(appliance_id, variant="be6"):
    """docs/midea.md §5.2: SHA256 of the id bytes, first half xor second half (16 bytes)."""
    if variant == "be6":
        raw = appliance_id.to_bytes(6, "big")
    elif variant == "le6":
        raw = appliance_id.to_bytes(6, "little")
    else:
        raw = appliance_id.to_bytes(8, "little")
    h = sha256(raw)
    return bytes(a ^ b for a, b in zip(h[:16], h[16:]))


# ----------------------------------------------------------------------------------------------
# 0xAA application frames (docs/midea.md §4.1)


def _crc8_table():
    # CRC-8/MAXIM: reflected polynomial 0x8C, init 0, no final xor.
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x8C if c & 1 else c >> 1
        table.append(c)
    return table


CRC8_TABLE = _crc8_table()


def crc8(data):
    c = 0
    for b in data:
        c = CRC8_TABLE[c ^ b]
    return c


def additive_checksum(data):
    """Two's complement of the byte sum: the frame checksum, and some V3 units' body "CRC"."""
    return (-sum(data)) & 0xFF


def build_frame(payload, frame_type, version=3, appliance=0xAC, checksum_body=False, corrupt_crc=False):
    """payload: body bytes without the final CRC. Returns AA len type 00 00 00 00 00 ver ftype body crc sum."""
    crc = additive_checksum(payload) if checksum_body else crc8(payload)
    if corrupt_crc:
        crc ^= 0x5A
    body = bytes(payload) + bytes([crc])
    head = bytes([0xAA, len(body) + 10, appliance, 0, 0, 0, 0, 0, version & 0xFF, frame_type & 0xFF])
    frame = head + body
    return frame + bytes([additive_checksum(frame[1:])])


def parse_frame(frame):
    """-> (frame_type, body incl. CRC) or raises ValueError with the reason."""
    if len(frame) < 13:
        raise ValueError("frame too short (%d)" % len(frame))
    if frame[0] != 0xAA:
        raise ValueError("no 0xAA start")
    if frame[1] != len(frame) - 1:
        raise ValueError("length byte %d for a %d-byte frame" % (frame[1], len(frame)))
    if additive_checksum(frame[1:-1]) != frame[-1]:
        raise ValueError("frame checksum")
    if frame[2] != 0xAC:
        raise ValueError("appliance type 0x%02X is not 0xAC" % frame[2])
    body = frame[10:-1]
    if crc8(body[:-1]) != body[-1] and additive_checksum(body[:-1]) != body[-1]:
        raise ValueError("body CRC")
    return frame[9], body


# ----------------------------------------------------------------------------------------------
# V2 "5A5A" packets (docs/midea.md §2)


def v2_timestamp(now=None):
    """8 bytes: centiseconds, second, minute, hour, day, month, year%100, year/100."""
    t = time.time() if now is None else now
    lt = time.localtime(t)
    cs = int((t - int(t)) * 100) % 100
    return bytes([cs, lt.tm_sec % 60, lt.tm_min, lt.tm_hour, lt.tm_mday, lt.tm_mon,
                  lt.tm_year % 100, lt.tm_year // 100])


# Bytes [28..39] of device-sent V2 packets: V3 modules put 01 80 at [34..35] (msmart test_lan.py and
# test_discover.py, midea-ac-py #60, msmart #151), a V2 module 01 at [36] (msmart test_lan.py V2).
RESERVED_V3 = bytes.fromhex("000000000000018000000000")
RESERVED_V2 = bytes.fromhex("000000000000000001000000")


def v2_packet(frame, appliance_id, flags=b"\x20\x80", msg_type=b"\x01\x11", timestamp=bytes(8),
              msg_id=0, reserved=RESERVED_V2, corrupt_sign=False):
    """A V2 packet carrying `frame` (b"" = header only, e.g. a heartbeat).
    Layout: 5A5A | type(2) | length LE16 | flags(2) | msg id LE32 | timestamp(8) | id LE64 |
    reserved(12) | AES-128-ECB(PKCS7(frame)) | MD5(everything before || SIGN_KEY)."""
    enc = aes128_ecb_encrypt(ENC_KEY, pkcs7_pad(frame)) if frame else b""
    length = 40 + len(enc) + 16
    assert len(reserved) == 12 and len(timestamp) == 8
    head = (b"\x5a\x5a" + msg_type + struct.pack("<H", length) + flags + struct.pack("<I", msg_id)
            + timestamp + struct.pack("<Q", appliance_id) + reserved)
    sign = hashlib.md5(head + enc + SIGN_KEY).digest()
    if corrupt_sign:
        sign = bytes([sign[0] ^ 0xFF]) + sign[1:]
    return head + enc + sign


def v2_parse(packet):
    """-> dict(msg_type, flags, id, frame) or raises ValueError("sign") / ValueError(other reason)."""
    if len(packet) < 56 or packet[:2] != b"\x5a\x5a":
        raise ValueError("not a V2 packet")
    length = struct.unpack("<H", packet[4:6])[0]
    if length != len(packet) or (length - 56) % 16:
        raise ValueError("V2 length field %d for %d bytes" % (length, len(packet)))
    if hashlib.md5(packet[:-16] + SIGN_KEY).digest() != packet[-16:]:
        raise ValueError("sign")
    enc = packet[40:-16]
    frame = pkcs7_unpad(aes128_ecb_decrypt(ENC_KEY, enc)) if enc else b""
    return {"msg_type": packet[2:4], "flags": packet[6:8],
            "id": struct.unpack("<Q", packet[20:28])[0], "frame": frame}


# ----------------------------------------------------------------------------------------------
# V3 "8370" transport (docs/midea.md §3)


def v3_packet(key, ptype, counter, data, pad_bytes=None, corrupt_sign=False):
    """Encrypted type 3/6 packet: 83 70 size(BE, = len(data)+pad+32) 20 (pad<<4|type) ||
    AES-256-CBC(key, IV 0)(counter BE16 || data || pad) || SHA256(header6 || plaintext)."""
    pad = (16 - (len(data) + 2) % 16) % 16
    if pad_bytes is None:
        pad_bytes = os.urandom(pad)
    assert len(pad_bytes) == pad, "pad must be %d bytes" % pad
    header = b"\x83\x70" + struct.pack(">H", len(data) + pad + 32) + bytes([0x20, (pad << 4) | ptype])
    plain = struct.pack(">H", counter & 0xFFFF) + data + pad_bytes
    sign = sha256(header + plain)
    if corrupt_sign:
        sign = bytes([sign[0] ^ 0xFF]) + sign[1:]
    return header + aes_cbc_encrypt(key, plain) + sign


def v3_decrypt(key, packet):
    """-> (counter, data) of a type 3/6 packet; ValueError("sign") or another reason."""
    if len(packet) < 8 + 32 + 14 or (len(packet) - 6 - 32) % 16:
        raise ValueError("V3 encrypted packet of %d bytes" % len(packet))
    pad = packet[5] >> 4
    plain = aes_cbc_decrypt(key, packet[6:-32])
    if sha256(packet[:6] + plain) != packet[-32:]:
        raise ValueError("sign")
    return struct.unpack(">H", plain[:2])[0], plain[2:len(plain) - pad]


def handshake_reply(key, r, counter=0, corrupt=False):
    """Type 1: 83 70 00 40 20 01 counter(2) || AES-256-CBC(key, IV 0)(R) || SHA256(R) (docs/midea.md §3.3).
    Returns (packet, session key = R xor key)."""
    digest = sha256(r)
    if corrupt:
        digest = sha256(r + b"corrupt")
    body = aes_cbc_encrypt(key, r) + digest
    packet = b"\x83\x70\x00\x40\x20\x01" + struct.pack(">H", counter & 0xFFFF) + body
    return packet, bytes(a ^ b for a, b in zip(r, key))


# ----------------------------------------------------------------------------------------------
# Discovery (docs/midea.md §1)


def discovery_body(ip, port, sn, ssid, extended=True, device_type=0xAC, subtype=0xACAC,
                   mac=bytes(6), firmware=bytes(6), version=3):
    """The decrypted reply body of docs/midea.md §1.4 (N = len(ssid)):
    0 IP reversed | 4 port LE32 | 8 SN (32) | 40 N | 41 SSID | 41+N: 00 00 | 43+N: 87 00 02 |
    46+N: 9 zero bytes | 55+N: device type, 00 | 57+N: subtype LE16 | 59+N: 4 zero bytes |
    63+N: MAC (6) | 69+N: firmware (6) | 75+N: 00, version, 01 | 78+N: 33 zero bytes (randomkey...).
    Bytes 43+N.. copy the real V3 capture of msmart's test_discover.py; the short form (older V2
    modules, 52 bytes for N = 11) stops after the SSID."""
    sn_bytes = sn.encode("ascii")
    ssid_bytes = ssid.encode("ascii")
    if len(sn_bytes) != 32:
        raise ValueError("sn must be 32 ASCII characters")
    out = bytes(reversed(ipaddress.IPv4Address(ip).packed)) + struct.pack("<I", port)
    out += sn_bytes + bytes([len(ssid_bytes)]) + ssid_bytes
    if not extended:
        return out
    out += b"\x00\x00" + b"\x87\x00\x02" + bytes(9)
    out += bytes([device_type & 0xFF, 0]) + struct.pack("<H", subtype & 0xFFFF) + bytes(4)
    out += mac + firmware + bytes([0, version & 0xFF, 1]) + bytes(33)
    return out


def discovery_reply(protocol, appliance_id, body, timestamp=bytes(8), trailer=None):
    """V2: the 5A5A packet (flags 7A 80). V3: 83 70 size 20 0F 00 00 || that packet || 16-byte trailer
    (udpid of the 6-byte BE id unless `trailer` is given)."""
    inner = v2_packet(body, appliance_id, flags=b"\x7a\x80", timestamp=timestamp,
                      reserved=RESERVED_V3 if protocol == "v3" else RESERVED_V2)
    if protocol != "v3":
        return inner
    if trailer is None:
        trailer = udpid(appliance_id)
    return b"\x83\x70" + struct.pack(">H", len(inner) + 16) + b"\x20\x0f\x00\x00" + inner + trailer


def is_discovery_request(data):
    """The 72-byte request of docs/midea.md §1.1: a signed V2 packet with flags 92 00 carrying FF 00."""
    if len(data) != 72:
        return False
    try:
        parsed = v2_parse(data)
    except ValueError:
        return False
    return parsed["flags"] == b"\x92\x00" and parsed["frame"] == b"\xff\x00"


# ----------------------------------------------------------------------------------------------
# AC bodies (docs/midea.md §4.2-§4.8)


def encode_temperature(value, tenths=True):
    """Indoor/outdoor: raw = 50 + 2·|T| rounded toward zero to 0.5 °C (sign kept), plus the tenths
    digit in byte 15. That is what msmart's decoder inverts: trunc((raw-50)/2) ± tenths/10
    (docs/midea.md §4.4); -0.4..-0.1 cannot be represented (their raw reads as +0.0). None -> 0xFF."""
    if value is None:
        return 0xFF, 0
    n = int(round(abs(float(value)) * 10))
    halves = (n * 2) // 10
    raw = 50 + halves if value >= 0 else 50 - halves
    raw = max(0, min(0xFE, raw))
    return raw, (n % 10 if tenths else 0)


def _bcd(n):
    return ((n // 10) % 10) << 4 | (n % 10)


def encode_energy(kwh, fmt):
    """4 bytes. bcd: 10000·b0 + 100·b1 + b2 + 0.01·b3 with every byte BCD; binary: u32 BE of kWh·10."""
    if fmt == "binary":
        return struct.pack(">I", max(0, int(round(kwh * 10))) & 0xFFFFFFFF)
    n = max(0, int(round(kwh * 100)))
    return bytes([_bcd(n // 1000000), _bcd(n // 10000), _bcd(n // 100), _bcd(n)])


def encode_power(watts, fmt):
    """3 bytes. bcd: 1000·b0 + 10·b1 + 0.1·b2 (BCD bytes); binary: u24 BE of W·10."""
    n = max(0, int(round(watts * 10)))
    if fmt == "binary":
        return (n & 0xFFFFFF).to_bytes(3, "big")
    return bytes([_bcd(n // 10000), _bcd(n // 100), _bcd(n)])


def target_bytes(target):
    """(byte-2 low five bits, alternate byte 18/13) for a target temperature, as msmart encodes it:
    17 <= int(T) <= 30 -> (T-16) in bits 3-0, else alternate (int(T)-12) & 0x1F; 0x10 = +0.5 °C."""
    integral = int(target)
    half = 0x10 if target - integral > 0 else 0
    if 17 <= integral <= 30:
        return ((integral - 16) & 0x0F) | half, 0
    return half, (integral - 12) & 0x1F


def encode_c0(state, quirks, msg_id=0):
    """The 0xC0 state payload (without CRC), docs/midea.md §4.4; the last byte echoes the request's
    message id (real answers end in 01, 02, 04, 38, 69, 8b: the id the client sent [inference])."""
    length = quirks["c0_length"]
    b = bytearray(length)
    b[0] = 0xC0
    b[1] = 0x01 if state["power"] else 0x00
    low, alt = target_bytes(state["target"])
    mode = MODES[state["mode"]] if isinstance(state["mode"], str) else int(state["mode"])
    b[2] = (mode & 0x07) << 5 | low
    b[3] = state["fan_speed"] & 0x7F
    b[4:7] = quirks["timer_bytes"]
    swing = SWINGS[state["swing"]] if isinstance(state["swing"], str) else state["swing"]
    b[7] = (quirks["swing_base"] | swing) & 0xFF
    b[8] = (0x20 if state["turbo"] else 0) | (0x80 if state["follow_me"] else 0)
    b[9] = (0x10 if state["eco"] else 0) | (0x20 if state["purifier"] else 0) | (0x08 if state["aux_heat"] else 0)
    b[10] = (0x01 if state["sleep"] else 0) | (0x02 if state["turbo"] else 0) | (0x04 if state["fahrenheit"] else 0)
    tenths = quirks["temperature_tenths"]
    b[11], indoor_d = encode_temperature(state["indoor"], tenths)
    b[12], outdoor_d = encode_temperature(state["outdoor"], tenths)
    if quirks["alt_target"] == "always" and not alt:
        alt = (int(state["target"]) - 12) & 0x1F
    b[13] = alt | (0x20 if state["filter_alert"] else 0)
    b[14] = 0x00 if state["display"] else 0x70
    b[15] = (outdoor_d << 4) | indoor_d
    b[16] = state["error_code"] & 0xFF
    b[19] = state["target_humidity"] & 0x7F
    b[21] = 0x80 if state["freeze_protection"] else 0
    b[length - 1] = msg_id & 0xFF
    return bytes(b)


def decode_set(body):
    """Every field a 0x40 set body carries (docs/midea.md §4.3); `body` without message id and CRC.
    Fields past the end of a short body are absent."""
    def at(i):
        return body[i] if i < len(body) else None

    f = {}
    if at(1) is not None:
        f["power"] = bool(body[1] & 0x01)
        f["beep"] = bool(body[1] & 0x40)
    if at(2) is not None:
        f["mode"] = (body[2] >> 5) & 0x07
        target = 16 + (body[2] & 0x0F) if body[2] & 0x0F else None
        alt = at(18)
        if alt:
            target = 12 + (alt & 0x1F)
        if target is None:
            target = 16
        f["target"] = target + (0.5 if body[2] & 0x10 else 0.0)
    if at(3) is not None:
        f["fan_speed"] = body[3] & 0x7F
    if at(7) is not None:
        f["swing"] = body[7] & 0x0F
    if at(8) is not None:
        f["follow_me"] = bool(body[8] & 0x80)
        f["turbo"] = bool(body[8] & 0x20)
    if at(9) is not None:
        f["eco"] = bool(body[9] & 0x80)
        f["purifier"] = bool(body[9] & 0x20)
        f["aux_heat"] = bool(body[9] & 0x08)
    if at(10) is not None:
        f["sleep"] = bool(body[10] & 0x01)
        f["turbo"] = f.get("turbo", False) or bool(body[10] & 0x02)
        f["fahrenheit"] = bool(body[10] & 0x04)
    if at(19) is not None:
        f["target_humidity"] = body[19] & 0x7F
    if at(21) is not None:
        f["freeze_protection"] = bool(body[21] & 0x80)
    if at(22) is not None:
        f["independent_aux_heat"] = bool(body[22] & 0x08)
    return f


def encode_c1(group, state, fmt, reported_power):
    """0xC1 group data payload (docs/midea.md §4.8): C1 21 01 (0x40|g) then the group's bytes, 20 bytes."""
    b = bytearray(20)
    b[0:4] = bytes([0xC1, 0x21, 0x01, 0x40 | group])
    if group == 4:
        b[4:8] = encode_energy(state["energy_kwh"], fmt)
        # [8..11] "total running" energy: unreliable on real units, left zero
        b[12:16] = encode_energy(state["current_energy_kwh"], fmt)
        b[16:19] = encode_power(reported_power, fmt)
    elif group == 5:
        b[4] = int(state["indoor_humidity"] or 0) & 0xFF
    return bytes(b)


MODE_CAP_SETS = {  # 0x0214 value -> modes it announces (docs/midea.md §4.6)
    v: frozenset(
        m for m, ok in (
            ("heat", v in (1, 2, 4, 6, 7, 9, 10, 11, 12, 13)),
            ("cool", v in (0, 1, 3, 4, 5, 6, 7, 8, 9, 11, 13, 14, 15)),
            ("dry", v in (0, 1, 5, 6, 9, 11, 13, 14, 15)),
            ("auto", v in (0, 1, 2, 7, 8, 9, 13, 14)),
        ) if ok)
    for v in range(16)
}
FAN_CAP_SETS = {
    v: frozenset(
        s for s, ok in (
            ("silent", v in (6, 9)),
            ("low", v in (3, 4, 5, 6, 7, 9)),
            ("medium", v in (5, 6, 7)),
            ("high", v in (3, 4, 5, 6, 7, 9)),
            ("auto", v in (4, 5, 6, 9)),
        ) if ok)
    for v in (0, 2, 3, 4, 5, 6, 7, 9)
}

CAPABILITY_DEFAULTS = {
    "modes": ["auto", "cool", "dry", "heat"],
    "fan_speeds": ["low", "medium", "high", "auto"],
    "swing": ["vertical", "horizontal"],
    "eco": True,
    "turbo": True,
    "freeze_protection": True,
    "display_control": True,
    "humidity": False,
    "energy": True,
    "temperatures": {"cool": [16, 30], "auto": [16, 30], "heat": [16, 30], "decimals": True},
    "extra": [],
    "pages": 1,
    "page_split": None,
}


def capability_entries(caps, energy_format):
    """[(id, value bytes)] in the order real units send them (eco, freeze, modes, swing, energy,
    turbo, fan, humidity, display, temperatures), then `extra`."""
    out = []
    if caps["eco"] is not None:
        out.append((0x0212, bytes([1 if caps["eco"] else 0])))
    if caps["freeze_protection"] is not None:
        out.append((0x0213, bytes([1 if caps["freeze_protection"] else 0])))
    if caps["modes"] is not None:
        wanted = frozenset(m for m in caps["modes"] if m != "fan")
        value = next((v for v in range(16) if MODE_CAP_SETS[v] == wanted), None)
        if value is None:
            raise UsageError("capabilities.modes: no 0x0214 value announces exactly %s" % sorted(wanted))
        out.append((0x0214, bytes([value])))
    if caps["swing"] is not None:
        s = frozenset(caps["swing"])
        value = {frozenset(["vertical", "horizontal"]): 1, frozenset(["vertical"]): 0,
                 frozenset(["horizontal"]): 3, frozenset(): 2}[s]
        out.append((0x0215, bytes([value])))
    if caps["energy"] is not None and caps["energy"] is not False:
        value = caps["energy"]
        if value is True:
            value = 2 if energy_format == "bcd" else 4  # stats (+ "bcd" hint for 2)
        out.append((0x0216, bytes([int(value) & 0xFF])))
    elif caps["energy"] is False:
        out.append((0x0216, b"\x00"))
    if caps["turbo"] is not None:
        out.append((0x021A, bytes([1 if caps["turbo"] else 2])))
    if caps["fan_speeds"] is not None:
        speeds = frozenset(caps["fan_speeds"])
        if "custom" in speeds:
            value = 1
        else:
            value = next((v for v, s in FAN_CAP_SETS.items() if s == speeds), None)
            if value is None:
                raise UsageError("capabilities.fan_speeds: no 0x0210 value announces exactly %s" % sorted(speeds))
        out.append((0x0210, bytes([value])))
    if caps["humidity"] is not None:
        h = caps["humidity"]
        value = {False: 0, "none": 0, "auto": 1, "both": 2, True: 3, "manual": 3}[h]
        out.append((0x021F, bytes([value])))
    if caps["display_control"] is not None:
        out.append((0x0224, bytes([1 if caps["display_control"] else 0])))
    if caps["temperatures"] is not None:
        t = caps["temperatures"]
        raw = []
        for m in ("cool", "auto", "heat"):
            lo, hi = t.get(m, [16, 30])
            raw += [int(round(lo * 2)), int(round(hi * 2))]
        raw.append(1 if t.get("decimals", True) else 0)
        out.append((0x0225, bytes(raw)))
    for cid, value in caps["extra"]:
        out.append((int(cid), bytes.fromhex(value)))
    return out


def encode_b5(entries, more):
    """B5 count (id LE16, len, value)... then the 2-byte trailer (more, 00) (docs/midea.md §4.6, §10)."""
    b = bytearray([0xB5, len(entries)])
    for cid, value in entries:
        b += struct.pack("<H", cid) + bytes([len(value)]) + value
    b += bytes([1 if more else 0, 0])
    return bytes(b)


def capability_pages(caps, energy_format):
    entries = capability_entries(caps, energy_format)
    if caps["pages"] == 1:
        return [entries]
    split = caps["page_split"]
    if split is None:
        split = (len(entries) + 1) // 2
    return [entries[:split], entries[split:]]


# ----------------------------------------------------------------------------------------------
# Coercion of user input


def _to_bool(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("1", "true", "on", "yes"):
            return True
        if v in ("0", "false", "off", "no"):
            return False
    raise UsageError("not a boolean: %r" % (value,))


def _is_null(value):
    return value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null"))


def _to_list(value):
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        return [v for v in value.replace("+", " ").replace(";", " ").split() if v]
    raise UsageError("not a list: %r" % (value,))


def _hex_bytes(value, size, what):
    if not isinstance(value, str) or len(value) != 2 * size:
        raise UsageError("%s: expected %d hex digits, got %r" % (what, 2 * size, value))
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise UsageError("%s: expected %d hex digits, got %r" % (what, 2 * size, value)) from None


STATE_DEFAULTS = {
    "power": False,
    "mode": "cool",
    "target": 24.0,
    "fan_speed": 102,
    "swing": "off",
    "eco": False,
    "turbo": False,
    "sleep": False,
    "freeze_protection": False,
    "purifier": False,
    "follow_me": False,
    "aux_heat": False,
    "fahrenheit": False,
    "display": True,
    "filter_alert": False,
    "error_code": 0,
    "target_humidity": 0,
    "indoor": 23.5,
    "outdoor": 18.0,
    "indoor_humidity": 45,
    "energy_kwh": 123.45,
    "current_energy_kwh": 1.5,
    "power_w": 850.0,
}
_BOOL_STATE = {"power", "eco", "turbo", "sleep", "freeze_protection", "purifier", "follow_me",
               "aux_heat", "fahrenheit", "display", "filter_alert"}


def coerce_state(key, value):
    if key not in STATE_DEFAULTS:
        raise UsageError("unknown state key %r (known: %s)" % (key, ", ".join(sorted(STATE_DEFAULTS))))
    if key in _BOOL_STATE:
        return _to_bool(value)
    if key == "mode":
        if isinstance(value, str) and value.strip().lower() in MODES:
            return value.strip().lower()
        try:
            n = int(value)
        except (TypeError, ValueError):
            raise UsageError("mode: one of %s or 1..6, got %r" % ("|".join(MODES), value)) from None
        if not 0 <= n <= 7:
            raise UsageError("mode out of range: %r" % (value,))
        return MODE_NAMES.get(n, n)
    if key == "swing":
        if isinstance(value, str) and value.strip().lower() in SWINGS:
            return value.strip().lower()
        try:
            n = int(value, 0) if isinstance(value, str) else int(value)
        except (TypeError, ValueError):
            raise UsageError("swing: one of %s or 0..15, got %r" % ("|".join(SWINGS), value)) from None
        if not 0 <= n <= 15:
            raise UsageError("swing out of range: %r" % (value,))
        return SWING_NAMES.get(n, n)
    if key in ("indoor", "outdoor", "indoor_humidity") and _is_null(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError("state %s: not a number: %r" % (key, value)) from None
    if key == "target":
        if not 12.0 <= number <= 43.5:
            raise UsageError("target out of range 12..43.5: %r" % (value,))
        return round(number * 2) / 2.0
    if key in ("indoor", "outdoor"):
        if not -25.0 <= number <= 102.0:
            raise UsageError("%s out of range -25..102: %r" % (key, value))
        return round(number, 1)
    if key in ("fan_speed", "error_code", "target_humidity", "indoor_humidity"):
        n = int(number)
        limit = {"fan_speed": 127, "error_code": 255, "target_humidity": 100, "indoor_humidity": 100}[key]
        if not 0 <= n <= limit:
            raise UsageError("%s out of range 0..%d: %r" % (key, limit, value))
        return n
    if number < 0:
        raise UsageError("%s must not be negative: %r" % (key, value))
    return number


BEHAVIOUR_DEFAULTS = {
    "silent": False,
    "refuse": False,
    "drop_after_replies": None,
    "error_after_replies": None,
    "garbage": False,
    "notification": "b5",
    "merge": False,
    "delay": 0.0,
    "split_writes": False,
    "split_pause": 0.001,
    "checksum_body": False,
    "handshake": "normal",
    "ignore_discovery": False,
    "discovery_body": "auto",
    "discovery_trailer": "udpid",
    "frame_version": 3,
    "c0_length": 24,
    "temperature_tenths": True,
    "alt_target": "auto",
    "swing_base": 0x30,
    "timer_bytes": "000000",
}
_CHOICES = {
    "notification": ("b5", "c0"),
    "handshake": ("normal", "error", "corrupt"),
    "discovery_body": ("auto", "short", "extended"),
    "discovery_trailer": ("udpid", "zeros"),
    "alt_target": ("auto", "always"),
}


def coerce_behaviour(key, value):
    if key not in BEHAVIOUR_DEFAULTS:
        raise UsageError(
            "unknown behaviour key %r (known: %s)" % (key, ", ".join(sorted(BEHAVIOUR_DEFAULTS)))
        )
    if key in ("silent", "refuse", "merge", "split_writes", "checksum_body", "ignore_discovery",
               "temperature_tenths"):
        return _to_bool(value)
    if key in ("drop_after_replies", "error_after_replies"):
        if _is_null(value) or value is False:
            return None
        n = int(value)
        if n < 0:
            raise UsageError("%s must be >= 0" % key)
        return n or None
    if key == "garbage":
        if isinstance(value, list) or (isinstance(value, str) and value.strip().lower() not in (
                "true", "false", "on", "off", "0", "1", "yes", "no", "")):
            kinds = _to_list(value)
        else:
            return list(GARBAGE_KINDS) if (value and _to_bool(value)) else False
        for k in kinds:
            if k not in GARBAGE_KINDS:
                raise UsageError("garbage kind %r unknown (known: %s)" % (k, ", ".join(GARBAGE_KINDS)))
        return list(kinds) if kinds else False
    if key in ("delay", "split_pause"):
        try:
            d = float(value)
        except (TypeError, ValueError):
            raise UsageError("%s: seconds, got %r" % (key, value)) from None
        if not 0 <= d <= 3600:
            raise UsageError("%s out of range: %r" % (key, value))
        return d
    if key in _CHOICES:
        v = str(value).strip().lower()
        if v not in _CHOICES[key]:
            raise UsageError("%s: one of %s, got %r" % (key, " | ".join(_CHOICES[key]), value))
        return v
    if key in ("frame_version", "swing_base"):
        n = int(value, 0) if isinstance(value, str) else int(value)
        if not 0 <= n <= 255:
            raise UsageError("%s out of range 0..255" % key)
        return n
    if key == "c0_length":
        n = int(value)
        if not 23 <= n <= 32:
            raise UsageError("c0_length out of range 23..32")
        return n
    if key == "timer_bytes":
        _hex_bytes(str(value), 3, key)
        return str(value).lower()
    raise UsageError("unhandled behaviour key %r" % key)  # pragma: no cover


def coerce_capability(key, value):
    if key not in CAPABILITY_DEFAULTS:
        raise UsageError(
            "unknown capability key %r (known: %s)" % (key, ", ".join(sorted(CAPABILITY_DEFAULTS)))
        )
    if key == "extra":
        if _is_null(value):
            return []
        out = []
        for item in value:
            if not isinstance(item, (list, tuple)) or len(item) != 2:
                raise UsageError("capabilities.extra: a list of [id, \"hex value\"]")
            cid = int(item[0], 0) if isinstance(item[0], str) else int(item[0])
            bytes.fromhex(item[1])
            out.append([cid, item[1]])
        return out
    if key == "pages":
        n = int(value)
        if n not in (1, 2):
            raise UsageError("capabilities.pages: 1 or 2")
        return n
    if key == "page_split":
        return None if _is_null(value) else int(value)
    if _is_null(value):
        return None
    if key in ("modes", "fan_speeds", "swing"):
        allowed = {"modes": ("auto", "cool", "dry", "heat", "fan"),
                   "fan_speeds": ("silent", "low", "medium", "high", "auto", "custom"),
                   "swing": ("vertical", "horizontal")}[key]
        items = [str(v).lower() for v in _to_list(value)]
        for v in items:
            if v not in allowed:
                raise UsageError("capabilities.%s: %r unknown (known: %s)" % (key, v, ", ".join(allowed)))
        return items
    if key in ("eco", "turbo", "freeze_protection", "display_control"):
        return _to_bool(value)
    if key == "humidity":
        if isinstance(value, str) and value.strip().lower() in ("auto", "manual", "both", "none"):
            return value.strip().lower()
        return _to_bool(value)
    if key == "energy":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        return _to_bool(value)
    if key == "temperatures":
        if not isinstance(value, dict):
            raise UsageError("capabilities.temperatures: an object {cool: [min, max], ...}")
        t = dict(CAPABILITY_DEFAULTS["temperatures"])
        for k, v in value.items():
            if k == "decimals":
                t[k] = _to_bool(v)
            elif k in ("cool", "auto", "heat"):
                if not isinstance(v, (list, tuple)) or len(v) != 2:
                    raise UsageError("capabilities.temperatures.%s: [min, max]" % k)
                t[k] = [float(v[0]), float(v[1])]
            else:
                raise UsageError("capabilities.temperatures: unknown key %r" % k)
        return t
    raise UsageError("unhandled capability key %r" % key)  # pragma: no cover


# ----------------------------------------------------------------------------------------------
# One AC


class AC:
    def __init__(self, spec, index):
        spec = dict(spec)
        try:
            address = spec.pop("address")
        except KeyError:
            raise UsageError("AC #%d: 'address' is required" % index) from None
        try:
            ip = ipaddress.IPv4Address(address)
        except ValueError:
            raise UsageError("AC #%d: bad address %r" % (index, address)) from None
        if ip not in ipaddress.IPv4Network("127.0.0.0/8") or str(ip).endswith(".255") or str(ip) == "127.0.0.0":
            raise UsageError("AC #%d: address %s is not a loopback host address (127.0.0.0/8)" % (index, address))
        self.address = str(ip)
        self.port = self._port(spec.pop("port", 6444), "port", index)
        self.discovery_ports = []
        for key, default in (("discovery_port", 6445), ("discovery_port_alt", 20086)):
            value = spec.pop(key, default)
            if not _is_null(value):
                self.discovery_ports.append(self._port(value, key, index))
        self.name = str(spec.pop("name", "%s:%d" % (self.address, self.port)))
        self.protocol = str(spec.pop("protocol", "v3")).lower()
        if self.protocol not in ("v2", "v3"):
            raise UsageError("AC %s: protocol must be v2 or v3" % self.name)
        seed = hashlib.sha512(("cloudless-midea-sim:" + self.name).encode()).digest()
        appliance_id = spec.pop("id", None)
        if appliance_id is None:
            appliance_id = 0x860000000000 | int.from_bytes(seed[:3], "big")
        elif isinstance(appliance_id, str):
            appliance_id = int(appliance_id, 0)
        if not 0 < int(appliance_id) < (1 << 48):
            raise UsageError("AC %s: id must fit 6 bytes" % self.name)
        self.id = int(appliance_id)
        token = spec.pop("token", None)
        self.token = _hex_bytes(token, 64, "token") if token else hashlib.sha512(seed + b"token").digest()
        key = spec.pop("key", None)
        self.key = _hex_bytes(key, 32, "key") if key else sha256(seed + b"key")
        r = spec.pop("handshake_r", None)
        self.handshake_r = _hex_bytes(r, 32, "handshake_r") if r else None
        mac = spec.pop("mac", None)
        self.mac = _hex_bytes(mac.replace(":", ""), 6, "mac") if mac else b"\xb8\x8c\x29" + self.id.to_bytes(6, "big")[3:]
        self.sn = str(spec.pop("sn", "000000P0000000Q1%s0000" % self.mac.hex().upper()))
        if len(self.sn) != 32 or not self.sn.isascii():
            raise UsageError("AC %s: sn must be 32 ASCII characters" % self.name)
        self.ssid = str(spec.pop("ssid", "net_ac_%s" % self.mac.hex().upper()[-4:]))
        if not self.ssid.isascii() or len(self.ssid) > 32:
            raise UsageError("AC %s: ssid must be ASCII, at most 32 characters" % self.name)
        self.firmware = _hex_bytes(str(spec.pop("firmware", "150023082122")), 6, "firmware")
        self.subtype = int(spec.pop("subtype", 0xACAC))
        self.device_type = int(spec.pop("device_type", 0xAC))
        self.energy_format = str(spec.pop("energy_format", "bcd")).lower()
        if self.energy_format not in ("bcd", "binary"):
            raise UsageError("AC %s: energy_format must be bcd or binary" % self.name)
        self.state = dict(STATE_DEFAULTS)
        self.behaviour = dict(BEHAVIOUR_DEFAULTS)
        self.capabilities = {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
                             for k, v in CAPABILITY_DEFAULTS.items()}
        for key, value in dict(spec.pop("state", {}) or {}).items():
            self.state[key] = coerce_state(key, value)
        caps = spec.pop("capabilities", None) or spec.pop("cap", None) or {}
        for key, value in dict(caps).items():
            self.capabilities[key] = coerce_capability(key, value)
        for key, value in dict(spec.pop("behaviour", spec.pop("behavior", {})) or {}).items():
            self.behaviour[key] = coerce_behaviour(key, value)
        for key in list(spec):
            if key in STATE_DEFAULTS:
                self.state[key] = coerce_state(key, spec.pop(key))
            elif key in BEHAVIOUR_DEFAULTS:
                self.behaviour[key] = coerce_behaviour(key, spec.pop(key))
        if spec:
            raise UsageError("AC %s: unknown keys %s" % (self.name, ", ".join(sorted(spec))))
        capability_pages(self.capabilities, self.energy_format)  # validates the set now, not at first B5
        self._energy_at = time.monotonic()
        self.listener = None
        self.udp = []
        self.conns = set()
        self.requests = 0
        self.handshakes = 0

    @staticmethod
    def _port(value, what, index):
        try:
            port = int(value)
        except (TypeError, ValueError):
            raise UsageError("AC #%d: %s must be a number" % (index, what)) from None
        if not 0 <= port <= 65535:
            raise UsageError("AC #%d: bad %s %r" % (index, what, value))
        return port

    # --- physical model
    def reported_power(self):
        return float(self.state["power_w"]) if self.state["power"] else 0.0

    def integrate(self):
        now = time.monotonic()
        kwh = self.reported_power() * (now - self._energy_at) / 3.6e6
        if kwh > 0:
            self.state["energy_kwh"] += kwh
            self.state["current_energy_kwh"] += kwh
        self._energy_at = now

    def update_state(self, changes):
        self.integrate()
        coerced = {k: coerce_state(k, v) for k, v in changes.items()}
        self.state.update(coerced)

    def quirks(self):
        b = self.behaviour
        return {"c0_length": b["c0_length"], "timer_bytes": bytes.fromhex(b["timer_bytes"]),
                "swing_base": b["swing_base"], "temperature_tenths": b["temperature_tenths"],
                "alt_target": b["alt_target"]}

    def summary(self):
        v3 = self.protocol == "v3"
        return {"name": self.name, "address": self.address, "port": self.port,
                "discovery_ports": list(self.discovery_ports), "protocol": self.protocol, "id": self.id,
                "udpid": udpid(self.id).hex(), "token": self.token.hex() if v3 else None,
                "key": self.key.hex() if v3 else None, "sn": self.sn, "ssid": self.ssid,
                "mac": self.mac.hex()}

    def full_state(self):
        self.integrate()
        out = self.summary()
        out.update({"state": dict(self.state), "behaviour": dict(self.behaviour),
                    "capabilities": dict(self.capabilities), "energy_format": self.energy_format,
                    "connections": len(self.conns), "requests": self.requests,
                    "handshakes": self.handshakes, "reported_power": self.reported_power()})
        return out

    # --- application layer: one valid request frame -> (what, reply frame or None, set fields)
    def handle_frame(self, frame_type, body):
        """`body` is the request body including message id and CRC."""
        payload = body[:-1]
        msg_id = payload[-1] if len(payload) >= 2 else 0
        kind = payload[0]
        version = self.behaviour["frame_version"]
        cs = self.behaviour["checksum_body"]

        def reply(p, ftype=frame_type):
            return build_frame(p, ftype, version, checksum_body=cs)

        if kind == 0x40:
            fields = decode_set(payload[:-1])
            self.apply_set(fields)
            return "set", reply(encode_c0(self.state, self.quirks(), msg_id)), fields
        if kind == 0x41 and len(payload) >= 4 and payload[1] == 0x21 and payload[2] == 0x01:
            group = payload[3] & 0x0F
            if group not in (4, 5):
                return "group%d" % group, None, None
            self.integrate()
            return "group%d" % group, reply(
                encode_c1(group, self.state, self.energy_format, self.reported_power())), None
        if kind == 0x41 and len(payload) >= 5 and not payload[1] & 0x80 and payload[3] == 0xFF and payload[4] == 0x02:
            self.state["display"] = not self.state["display"]
            return "display_toggle", reply(encode_c0(self.state, self.quirks(), msg_id)), {
                "display": self.state["display"], "beep": bool(payload[1] & 0x40)}
        if kind == 0x41:
            return "query", reply(encode_c0(self.state, self.quirks(), msg_id)), None
        if kind == 0xB5:
            page2 = len(payload) >= 3 and payload[2] == 0x01
            pages = capability_pages(self.capabilities, self.energy_format)
            if page2:
                entries = pages[1] if len(pages) > 1 else []
                return "capabilities_page2", reply(encode_b5(entries, False)), None
            return "capabilities", reply(encode_b5(pages[0], len(pages) > 1)), None
        if kind == 0xB1:
            return "properties_get", reply(self.properties_reply(payload, set_=False)), None
        if kind == 0xB0:
            return "properties_set", reply(self.properties_reply(payload, set_=True)), None
        return "unknown", None, None

    def apply_set(self, fields):
        self.integrate()
        for key in ("power", "eco", "turbo", "sleep", "fahrenheit", "freeze_protection", "purifier",
                    "follow_me", "aux_heat", "fan_speed", "target_humidity"):
            if key in fields:
                self.state[key] = fields[key]
        if "mode" in fields:
            self.state["mode"] = MODE_NAMES.get(fields["mode"], fields["mode"])
        if "target" in fields:
            self.state["target"] = fields["target"]
        if "swing" in fields:
            self.state["swing"] = SWING_NAMES.get(fields["swing"], fields["swing"])

    def properties_reply(self, payload, set_):
        """B1 count (id LE16 result len value)... 00: every asked id, result 0 (docs/midea.md §4.7)."""
        out = bytearray([0xB0 if set_ else 0xB1, 0])
        count = payload[1] if len(payload) > 1 else 0
        pos, n = 2, 0
        for _ in range(count):
            if pos + 2 > len(payload):
                break
            pid = struct.unpack("<H", payload[pos:pos + 2])[0]
            pos += 2
            if set_:
                if pos >= len(payload):
                    break
                size = payload[pos]
                value = payload[pos + 1:pos + 1 + size]
                pos += 1 + size
                if pid == 0x0017 and value:
                    self.state["display"] = value[0] != 0
                out += struct.pack("<H", pid) + b"\x00\x00"
            else:
                value = b""
                if pid == 0x0015 and self.state["indoor_humidity"] is not None:
                    value = bytes([self.state["indoor_humidity"] & 0xFF])
                elif pid == 0x0017:
                    value = b"\x64" if self.state["display"] else b"\x00"
                out += struct.pack("<H", pid) + b"\x00" + bytes([len(value)]) + value
            n += 1
        out[1] = n
        out += b"\x00"
        return bytes(out)


# ----------------------------------------------------------------------------------------------
# One TCP connection to an AC

CLOSE = object()


class Conn:
    counter = 0

    def __init__(self, ac, sock, peer):
        Conn.counter += 1
        self.id = Conn.counter
        self.ac = ac
        self.sock = sock
        self.peer = "%s:%d" % peer
        self.buf = b""
        self.session_key = None
        self.replies = 0
        self.last_counter = 0
        self.outq = deque()  # (not_before, bytes | CLOSE)
        self.next_time = 0.0
        self.closed = False
        self.want_write = False


# ----------------------------------------------------------------------------------------------
# The server


class Simulator(SimLoop):
    NAME = "midea_ac_sim"
    DEVICE, DEVICES, DEVICE_NUMBER = "ac", "acs", "id"

    def __init__(self, acs, control_host="127.0.0.1", control_port=0, log_max=200000,
                 verbose=False, exit_on_stdin_eof=False, max_runtime=None):
        super().__init__(control_host, control_port, max_runtime, exit_on_stdin_eof)
        self.acs = self.devices = acs
        self.log = deque(maxlen=log_max)
        self.seq = 0
        self.verbose = verbose
        self.rng = random.Random()
        self.conns = set()

    # --- setup
    def bind_devices(self):
        names = set()
        for ac in self.acs:
            if ac.name in names:
                raise UsageError("duplicate AC name %r" % ac.name)
            names.add(ac.name)
            lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                lst.bind((ac.address, ac.port))
            except OSError as exc:
                lst.close()
                raise OSError("AC %s: cannot bind TCP %s:%d: %s" % (ac.name, ac.address, ac.port, exc))
            lst.listen(16)
            lst.setblocking(False)
            ac.listener = lst
            ac.port = lst.getsockname()[1]
            self.sel.register(lst, selectors.EVENT_READ, ("tcp_listen", ac))
            bound = []
            for port in ac.discovery_ports:
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    sock.bind((ac.address, port))
                except OSError as exc:
                    sock.close()
                    raise OSError("AC %s: cannot bind UDP %s:%d: %s" % (ac.name, ac.address, port, exc))
                sock.setblocking(False)
                ac.udp.append(sock)
                bound.append(sock.getsockname()[1])
                self.sel.register(sock, selectors.EVENT_READ, ("udp", ac))
            ac.discovery_ports = bound

    def close_devices(self):
        for conn in list(self.conns):
            self._close_conn(conn, "shutdown", log=False)
        for ac in self.acs:
            for sock in ac.udp + ([ac.listener] if ac.listener else []):
                try:
                    self.sel.unregister(sock)
                except (KeyError, ValueError):
                    pass
                sock.close()
            ac.udp = []
            ac.listener = None

    def ready_line(self):
        return {"control_port": self.control_port, "control_host": self.control_host,
                "pid": os.getpid(), "acs": [a.summary() for a in self.acs]}

    def handle_event(self, kind, obj, fileobj, events):
        if kind == "tcp_listen":
            self._on_tcp_accept(obj)
        elif kind == "tcp":
            self._on_tcp(obj, events)
        elif kind == "udp":
            self._on_udp(obj, fileobj)

    def wake_within(self, now):
        # Replies held back by a delay behaviour go out on time.
        due = [conn.outq[0][0] - now for conn in self.conns if conn.outq and not conn.want_write]
        return min(due) if due else None

    def after_wakeup(self):
        for conn in list(self.conns):
            if conn.outq and not conn.want_write and conn.outq[0][0] <= time.monotonic():
                self._flush(conn)

    def add_log(self, ac, kind, **fields):
        self.seq += 1
        entry = {"seq": self.seq, "t": time.monotonic(), "wall": time.time(), "ac": ac.name, "kind": kind}
        entry.update(fields)
        self.log.append(entry)
        if self.verbose:
            self.note(json.dumps(entry, default=str))
        return entry

    # --- discovery
    def _on_udp(self, ac, sock):
        for _ in range(64):  # bounded per wake-up, fair between ACs
            try:
                data, src = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.note("recv on %s: %s" % (ac.name, exc))
                return
            self._on_datagram(ac, sock, data, src)

    def _on_datagram(self, ac, sock, data, src):
        port = sock.getsockname()[1]
        if not is_discovery_request(data):
            self.add_log(ac, "malformed", why="not a discovery request (%d bytes)" % len(data),
                         src="%s:%d" % src, port=port, data=data[:96].hex())
            return
        b = ac.behaviour
        entry = self.add_log(ac, "discovery", src="%s:%d" % src, port=port, answered=False, dropped=None)
        if b["ignore_discovery"]:
            entry["dropped"] = "ignore_discovery"
            return
        extended = b["discovery_body"] == "extended" or (b["discovery_body"] == "auto" and ac.protocol == "v3")
        body = discovery_body(ac.address, ac.port, ac.sn, ac.ssid, extended, ac.device_type, ac.subtype,
                              ac.mac, ac.firmware, 3 if ac.protocol == "v3" else 2)
        trailer = bytes(16) if b["discovery_trailer"] == "zeros" else None
        packet = discovery_reply(ac.protocol, ac.id, body, v2_timestamp(), trailer)
        entry["answered"] = True
        entry["reply_size"] = len(packet)

        def send():
            try:
                sock.sendto(packet, src)
            except OSError as exc:
                self.note("discovery send from %s to %s: %s" % (ac.name, src, exc))

        if b["delay"] > 0:
            self.call_later(b["delay"], send)
        else:
            send()

    # --- TCP
    def _on_tcp_accept(self, ac):
        for _ in range(16):
            try:
                sock, peer = ac.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            if ac.behaviour["refuse"]:
                self.add_log(ac, "connect", peer="%s:%d" % peer, refused=True, conn=None)
                sock.close()
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Conn(ac, sock, peer)
            self.conns.add(conn)
            ac.conns.add(conn)
            self.sel.register(sock, selectors.EVENT_READ, ("tcp", conn))
            self.add_log(ac, "connect", peer=conn.peer, refused=False, conn=conn.id)

    def _close_conn(self, conn, reason, log=True):
        if conn.closed:
            return
        conn.closed = True
        self.conns.discard(conn)
        conn.ac.conns.discard(conn)
        try:
            self.sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        try:
            conn.sock.close()
        except OSError:
            pass
        if log:
            self.add_log(conn.ac, "close", conn=conn.id, reason=reason, replies=conn.replies)

    def _on_tcp(self, conn, events):
        if conn.closed:
            return
        if events & selectors.EVENT_WRITE:
            conn.want_write = False
            self._flush(conn)
            if conn.closed:
                return
        if not events & selectors.EVENT_READ:
            return
        try:
            chunk = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._close_conn(conn, "recv: %s" % exc)
            return
        if not chunk:
            self._close_conn(conn, "peer closed")
            return
        conn.buf += chunk
        if len(conn.buf) > 1 << 20:
            self.add_log(conn.ac, "malformed", conn=conn.id, why="more than 1 MiB without a packet")
            self._close_conn(conn, "overflow")
            return
        for _ in range(1000):
            packet = self._cut_packet(conn)
            if packet is None or conn.closed:
                break
            self._on_packet(conn, packet)
            if conn.closed:
                break

    def _cut_packet(self, conn):
        """Stream reassembly (docs/midea.md §2, §3.4): find the magic, drop what precedes, wait for the
        length the header announces."""
        v3 = conn.ac.protocol == "v3"
        magic = b"\x83\x70" if v3 else b"\x5a\x5a"
        while True:
            i = conn.buf.find(magic)
            if i < 0:
                keep = 1 if conn.buf[-1:] == magic[:1] else 0
                dropped = len(conn.buf) - keep
                if dropped:
                    self.add_log(conn.ac, "malformed", conn=conn.id, why="%d bytes without a magic" % dropped,
                                 data=conn.buf[:64].hex())
                    conn.buf = conn.buf[dropped:]
                return None
            if i > 0:
                self.add_log(conn.ac, "malformed", conn=conn.id, why="%d bytes before a magic" % i,
                             data=conn.buf[:min(i, 64)].hex())
                conn.buf = conn.buf[i:]
            if len(conn.buf) < 6:
                return None
            if v3:
                if conn.buf[4] != 0x20:
                    self.add_log(conn.ac, "malformed", conn=conn.id, why="V3 byte 4 is not 0x20")
                    conn.buf = conn.buf[2:]
                    continue
                total = struct.unpack(">H", conn.buf[2:4])[0] + 8
            else:
                total = struct.unpack("<H", conn.buf[4:6])[0]
                if total < 56:
                    self.add_log(conn.ac, "malformed", conn=conn.id, why="V2 length %d" % total)
                    conn.buf = conn.buf[2:]
                    continue
            if len(conn.buf) < total:
                return None
            packet, conn.buf = conn.buf[:total], conn.buf[total:]
            return packet

    def _on_packet(self, conn, packet):
        ac = conn.ac
        if ac.protocol == "v2":
            self._on_v2(conn, packet, counter=None)
            return
        ptype = packet[5] & 0x0F
        counter = struct.unpack(">H", packet[6:8])[0] if len(packet) >= 8 else 0
        if ptype == V3_HANDSHAKE_REQUEST:
            self._on_handshake(conn, packet, counter)
            return
        if ptype != V3_ENCRYPTED_REQUEST:
            self.add_log(ac, "malformed", conn=conn.id, why="V3 packet type 0x%X" % ptype, data=packet[:64].hex())
            return
        if conn.session_key is None:
            self.add_log(ac, "malformed", conn=conn.id, why="encrypted request before a handshake")
            if not ac.behaviour["silent"]:
                self._queue(conn, [ERROR_PACKET], close=True)
                self.add_log(ac, "error_sent", conn=conn.id, why="no session")
            return
        try:
            counter, data = v3_decrypt(conn.session_key, packet)
        except ValueError as exc:
            if str(exc) == "sign":
                self.add_log(ac, "bad_sign", conn=conn.id, layer="v3", data=packet[:64].hex())
            else:
                self.add_log(ac, "malformed", conn=conn.id, why=str(exc))
            return
        conn.last_counter = counter
        self._on_v2(conn, data, counter=counter)

    def _on_handshake(self, conn, packet, counter):
        ac = conn.ac
        b = ac.behaviour
        token = packet[8:]
        if len(packet) != 72 or token != ac.token or b["handshake"] == "error":
            reason = ("length %d" % len(packet) if len(packet) != 72 else
                      "wrong token" if token != ac.token else "forced (behaviour handshake=error)")
            self.add_log(ac, "handshake_bad", conn=conn.id, reason=reason, counter=counter,
                         dropped="silent" if b["silent"] else None)
            if not b["silent"]:
                self._queue(conn, [ERROR_PACKET], close=True)
            return
        if b["silent"]:
            self.add_log(ac, "handshake_ok", conn=conn.id, counter=counter, dropped="silent")
            return
        r = ac.handshake_r or os.urandom(32)
        reply, session_key = handshake_reply(ac.key, r, counter, corrupt=b["handshake"] == "corrupt")
        conn.session_key = session_key
        ac.handshakes += 1
        self.add_log(ac, "handshake_ok", conn=conn.id, counter=counter, dropped=None,
                     corrupt=b["handshake"] == "corrupt")
        self._queue(conn, [reply])

    def _on_v2(self, conn, data, counter):
        ac = conn.ac
        try:
            parsed = v2_parse(data)
        except ValueError as exc:
            if str(exc) == "sign":
                self.add_log(ac, "bad_sign", conn=conn.id, layer="v2", data=data[:64].hex())
            else:
                self.add_log(ac, "malformed", conn=conn.id, why=str(exc), data=data[:64].hex())
            return
        ac.requests += 1
        entry = {"conn": conn.id, "counter": counter, "answered": False, "dropped": None, "reply": None}
        if parsed["msg_type"] == b"\x01\x10":  # heartbeat: header-only answer (docs/midea.md §2)
            entry.update(what="heartbeat", frame="")
            log = self.add_log(ac, "request", **entry)
            reply_packet = v2_packet(b"", ac.id, flags=b"\x7b\x80", msg_type=b"\x01\x10",
                                     reserved=RESERVED_V3 if ac.protocol == "v3" else RESERVED_V2)
            self._answer(conn, log, reply_packet, None)
            return
        frame = parsed["frame"]
        try:
            frame_type, body = parse_frame(frame)
        except ValueError as exc:
            self.add_log(ac, "malformed", conn=conn.id, why="frame: %s" % exc, frame=frame.hex())
            return
        try:
            what, reply_frame, fields = ac.handle_frame(frame_type, body)
        except (IndexError, ValueError, struct.error) as exc:
            self.add_log(ac, "malformed", conn=conn.id, why="body: %r" % (exc,), frame=frame.hex())
            return
        entry.update(what=what, frame=frame.hex(), frame_type=frame_type, body_type=body[0],
                     msg_id=body[-2] if len(body) >= 2 else None)
        log = self.add_log(ac, "request", **entry)
        if fields is not None:
            self.add_log(ac, "set", conn=conn.id, what=what, fields=fields, state=dict(ac.state))
        if reply_frame is None:
            log["dropped"] = "not answered (%s)" % what
            return
        self._answer(conn, log, self._wrap(conn, reply_frame), reply_frame)

    def _wrap(self, conn, frame, corrupt_sign=False):
        ac = conn.ac
        if ac.protocol == "v2":
            return v2_packet(frame, ac.id, corrupt_sign=corrupt_sign)
        inner = v2_packet(frame, ac.id, timestamp=v2_timestamp(), reserved=RESERVED_V3)
        if conn.session_key is None:  # cannot happen for answers; garbage before auth is not sent
            return inner
        return v3_packet(conn.session_key, V3_ENCRYPTED_RESPONSE, conn.last_counter, inner,
                         corrupt_sign=corrupt_sign)

    def _notification_frame(self, ac, kind=None):
        if (kind or ac.behaviour["notification"]) == "c0":
            return build_frame(encode_c0(ac.state, ac.quirks(), 0), 0x04, ac.behaviour["frame_version"])
        return B5_NOTIFICATION

    def _garbage(self, conn, kind):
        ac = conn.ac
        if kind == "junk":
            no_magic = [x for x in range(256) if x not in (0x83, 0x5A)]
            return bytes(self.rng.choice(no_magic) for _ in range(self.rng.randint(1, 40)))
        if kind == "bad_sign":
            frame = build_frame(encode_c0(ac.state, ac.quirks(), 0), 0x03, ac.behaviour["frame_version"])
            return self._wrap(conn, frame, corrupt_sign=True)
        if kind == "bad_crc":
            frame = build_frame(encode_c0(ac.state, ac.quirks(), 0), 0x03, ac.behaviour["frame_version"],
                                corrupt_crc=True)
            return self._wrap(conn, frame)
        if kind == "unsolicited":
            return self._wrap(conn, self._notification_frame(ac))
        raise ValueError(kind)  # pragma: no cover

    def _answer(self, conn, log, packet, frame):
        """Sends one reply through the behaviour switches (in this order): silent, error_after_replies,
        garbage, merge, delay, split_writes, drop_after_replies."""
        ac = conn.ac
        b = ac.behaviour
        if b["silent"]:
            log["dropped"] = "silent"
            return
        n = conn.replies + 1
        conn.replies = n
        if b["error_after_replies"] and n >= b["error_after_replies"]:
            log["dropped"] = "error_after_replies"
            if ac.protocol == "v3":
                self._queue(conn, [ERROR_PACKET], close=True)
                self.add_log(ac, "error_sent", conn=conn.id, why="error_after_replies", replies=n)
            else:
                self._queue(conn, [], close=True)
            return
        chunks = [self._garbage(conn, k) for k in (b["garbage"] or [])]
        if b["merge"]:
            chunks.append(self._wrap(conn, self._notification_frame(ac)) + packet)
        else:
            chunks.append(packet)
        log["answered"] = True
        log["reply"] = frame.hex() if frame is not None else packet.hex()
        close = bool(b["drop_after_replies"] and n >= b["drop_after_replies"])
        self._queue(conn, chunks, close=close)

    def _queue(self, conn, chunks, close=False):
        b = conn.ac.behaviour
        now = time.monotonic()
        t = max(now + b["delay"], conn.next_time)
        for chunk in chunks:
            if b["split_writes"]:
                for i in range(len(chunk)):
                    conn.outq.append((t, chunk[i:i + 1]))
                    t += b["split_pause"]
            else:
                conn.outq.append((t, chunk))
        if close:
            conn.outq.append((t, CLOSE))
        conn.next_time = t
        if t <= now and not conn.want_write:
            self._flush(conn)

    def _flush(self, conn):
        while conn.outq and not conn.closed:
            t, item = conn.outq[0]
            if t > time.monotonic():
                break
            if item is CLOSE:
                conn.outq.clear()
                self._close_conn(conn, "by the AC (%s)" % self._close_reason(conn))
                return
            try:
                sent = conn.sock.send(item)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._close_conn(conn, "send: %s" % exc)
                return
            if sent < len(item):
                conn.outq[0] = (t, item[sent:])
                conn.want_write = True
                self.sel.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, ("tcp", conn))
                return
            conn.outq.popleft()
        if not conn.closed and conn.want_write is False:
            try:
                self.sel.modify(conn.sock, selectors.EVENT_READ, ("tcp", conn))
            except (KeyError, ValueError):
                pass

    @staticmethod
    def _close_reason(conn):
        b = conn.ac.behaviour
        if b["error_after_replies"] and conn.replies >= b["error_after_replies"]:
            return "error_after_replies"
        if b["drop_after_replies"] and conn.replies >= b["drop_after_replies"]:
            return "drop_after_replies"
        return "ERROR sent"

    # --- control channel (the common commands: sim_loop.py)
    def coerce_behaviour(self, key, value):
        return coerce_behaviour(key, value)

    def control_command(self, cmd, req):
        if cmd == "set_capabilities":
            ac = self.find_device(req.get("ac"))
            changes = req.get("capabilities", {})
            if not isinstance(changes, dict):
                raise UsageError("'capabilities' must be an object")
            merged = dict(ac.capabilities)
            merged.update({k: coerce_capability(k, v) for k, v in changes.items()})
            capability_pages(merged, ac.energy_format)
            ac.capabilities = merged
            return {"ok": True, "capabilities": dict(ac.capabilities)}
        if cmd == "drop":
            ac = self.find_device(req.get("ac"))
            live = list(ac.conns)
            for conn in live:
                self._close_conn(conn, "drop (control)")
            return {"ok": True, "closed": len(live)}
        if cmd == "notify":
            ac = self.find_device(req.get("ac"))
            kind = req.get("kind")
            kind = ac.behaviour["notification"] if kind is None else coerce_behaviour("notification", kind)
            frame = self._notification_frame(ac, kind)
            sent = 0
            for conn in sorted(ac.conns, key=lambda c: c.id):
                if conn.closed or (ac.protocol == "v3" and conn.session_key is None):
                    continue  # V3: nothing is sent before the handshake
                self._queue(conn, [self._wrap(conn, frame)])
                self.add_log(ac, "notify", conn=conn.id, notification=kind, frame=frame.hex())
                sent += 1
            return {"ok": True, "sent": sent}
        return super().control_command(cmd, req)


# ----------------------------------------------------------------------------------------------
# Command line


def _scalar(value):
    """--ac values: JSON numbers/booleans/null when they parse, else the string."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def parse_ac_spec(text):
    spec = {}
    for part in text.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise UsageError("--ac: expected key=value, got %r" % part)
        key, value = part.split("=", 1)
        key = key.strip()
        value = value.strip()
        if key in ("token", "key", "handshake_r", "mac", "firmware", "sn", "ssid", "name", "address",
                   "protocol", "energy_format", "timer_bytes"):
            parsed = value
        elif key == "id":
            parsed = int(value, 0)
        else:
            parsed = _scalar(value)
        if "." in key:
            group, sub = key.split(".", 1)
            group = {"cap": "capabilities", "behavior": "behaviour"}.get(group, group)
            if group not in ("state", "capabilities", "behaviour"):
                raise UsageError("--ac: unknown group %r in %r" % (group, key))
            spec.setdefault(group, {})[sub] = parsed
        else:
            spec[key] = parsed
    return spec


def generated_acs(count, first_address, protocol, port):
    base = int(ipaddress.IPv4Address(first_address))
    out = []
    for i in range(count):
        addr = ipaddress.IPv4Address(base + i)
        out.append({"name": "ac%d" % (i + 1), "address": str(addr), "port": port, "protocol": protocol,
                    "id": 0x860000100000 + i + 1})
    return out


def build_parser():
    parser = argparse.ArgumentParser(
        prog="midea_ac_sim.py",
        description="Simulate many Midea air conditioners (LAN V2/V3, discovery) on 127.0.0.0/8.",
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="FILE", help="JSON AC list (see AC DESCRIPTION)")
    parser.add_argument("--ac", metavar="SPEC", action="append", default=[],
                        help="one AC as key=value,... (repeatable)")
    parser.add_argument("--generate", metavar="N", type=int, default=0,
                        help="add N ACs ac1..acN on consecutive addresses (benchmarks)")
    parser.add_argument("--first-address", default="127.0.0.2", help="first address for --generate")
    parser.add_argument("--protocol", default="v3", choices=("v2", "v3"), help="protocol for --generate")
    parser.add_argument("--port", type=int, default=6444, help="TCP port for --generate ACs (0: free)")
    add_loop_arguments(parser)
    return parser


def main(argv=None):
    def specs_from_options(args):
        specs = [parse_ac_spec(s) for s in args.ac]
        if args.generate:
            specs.extend(generated_acs(args.generate, args.first_address, args.protocol, args.port))
        return specs

    def make_simulator(args, specs, control_port):
        acs = [AC(spec, i) for i, spec in enumerate(specs)]
        return Simulator(acs, args.control_host, control_port, args.log_max, args.verbose,
                         args.exit_on_stdin_eof, args.max_runtime)

    return simulator_main("midea_ac_sim", build_parser(), argv, "acs", specs_from_options,
                          "no ACs: give --config, --ac or --generate", make_simulator)


if __name__ == "__main__":
    sys.exit(main())
