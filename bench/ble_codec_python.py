#!/usr/bin/python3
"""The same work as bench_ble_codec, in Python with python3-cryptography's AESCCM: parse the MiBeacon
frame (frame control, product id, counter, reversed MAC checked against the advertiser, capability),
build the 12-byte nonce, decrypt and check the 4-byte MIC (AAD 0x11), split the object TLVs and
decode them (docs/ble.md §1–§2). Written here for the benchmark; same vectors as the C++ side.

Two timings per vector: `fresh` builds the AESCCM object (key schedule) for every advert, as
cloudless' decode_advert does (it is given the key on every call); `cached` keeps one AESCCM object
per key, the best a Python bridge could do. Times are CPU time of this process (time.process_time),
not wall time, so that other load on the machine inflates them less. Prints JSON.

Usage: bench/ble_codec_python.py [ITERATIONS]   (default 20000 per vector)
"""
import json
import struct
import sys
import time

from cryptography.hazmat.primitives.ciphers.aead import AESCCM

VECTORS = [  # name, advertiser MAC, frame, key, (object id, expected value)
    ("v5_lywsd03mmc_V16", "A4:C1:38:02:83:F4", "58585b0550f4830238c1a495ef58763c26000097e2abb5",
     "e9ea895fac7cca6d30532432a516f3a8", ("humidity", 46.7)),
    ("v5_cgdk2_V18", "58:2D:34:12:20:89", "58586f0607892012342d585f176dd54f0200002fa453fa",
     "a3bfe9853dd85a620debe3620caaa351", ("temperature", 22.6)),
    ("v4_lywsd03mmc_S1", "A4:C1:38:02:83:F4", "58485b0542f4830238c1a42340c411d27f87010000eea7e206",
     "e9ea895fac7cca6d30532432a516f3a8", ("temperature", 21.5)),
]


def decode_objects(data):
    """TLVs: id u16 LE, length u8, data. A handful of the common ids, with their lengths checked."""
    out = {}
    i = 0
    while len(data) - i >= 3:
        oid, length = struct.unpack_from("<HB", data, i)
        i += 3
        if i + length > len(data):
            raise ValueError("object 0x%04x overruns the frame" % oid)
        body = data[i:i + length]
        i += length
        if oid == 0x1004 and length == 2:
            out["temperature"] = struct.unpack("<h", body)[0] / 10
        elif oid == 0x1006 and length == 2:
            out["humidity"] = struct.unpack("<H", body)[0] / 10
        elif oid == 0x100D and length == 4:
            t, h = struct.unpack("<hH", body)
            out["temperature"], out["humidity"] = t / 10, h / 10
        elif oid == 0x100A and length == 1:
            out["battery"] = body[0]
        elif oid == 0x4801 and length == 4:
            out["temperature"] = struct.unpack("<f", body)[0]
        else:
            out["0x%04x" % oid] = body.hex()
    if i != len(data):
        raise ValueError("trailing bytes")
    return out


def decode_advert(frame, advertiser_mac_reversed, cipher):
    if len(frame) < 5 or len(frame) > 31:
        raise ValueError("bad size")
    fc, pid, counter = struct.unpack_from("<HHB", frame, 0)
    version = fc >> 12
    if fc & 0x80 or version < 2:
        raise ValueError("mesh or old version")
    i = 5
    if fc & 0x10:
        mac = frame[5:11]
        if len(mac) != 6 or mac != advertiser_mac_reversed:
            raise ValueError("MAC mismatch")
        i = 11
    else:
        mac = advertiser_mac_reversed
    if fc & 0x20:
        capability = frame[i]
        i += 1
        if capability & 0x20:
            i += 1
    if not fc & 0x40:
        return pid, {}
    if not fc & 0x08:
        return pid, decode_objects(frame[i:])
    if version < 4 or len(frame) - i < 10:
        raise ValueError("not a v4/v5 encrypted frame")
    nonce = mac + frame[2:5] + frame[-7:-4]
    clear = cipher.decrypt(nonce, frame[i:-7] + frame[-4:], b"\x11")  # InvalidTag on a wrong key
    return pid, decode_objects(clear)


def main():
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    fresh, cached = {}, {}
    for name, mac_text, frame_hex, key_hex, (quantity, expected) in VECTORS:
        frame, key = bytes.fromhex(frame_hex), bytes.fromhex(key_hex)
        mac = bytes.fromhex(mac_text.replace(":", ""))[::-1]
        _, values = decode_advert(frame, mac, AESCCM(key, tag_length=4))
        if abs(values[quantity] - expected) > 1e-3:
            raise SystemExit("%s: decoded %r, expected %s=%s" % (name, values, quantity, expected))
        start = time.process_time()
        for _ in range(iterations):
            decode_advert(frame, mac, AESCCM(key, tag_length=4))
        fresh[name] = round((time.process_time() - start) * 1e9 / iterations, 1)
        cipher = AESCCM(key, tag_length=4)
        start = time.process_time()
        for _ in range(iterations):
            decode_advert(frame, mac, cipher)
        cached[name] = round((time.process_time() - start) * 1e9 / iterations, 1)
    print(json.dumps({"iterations": iterations, "fresh_key_ns": fresh, "cached_cipher_ns": cached}))


if __name__ == "__main__":
    main()
