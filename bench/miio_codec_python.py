#!/usr/bin/python3
"""The same work as bench_miio_codec, done by Debian's python3-miio (miio.protocol.Message)."""
import datetime
import json
import sys
import time

from miio.protocol import Message

TOKEN = bytes.fromhex("00112233445566778899aabbccddeeff")
PARAMS = [{"did": "power", "siid": 2, "piid": 1}, {"did": "electric_power", "siid": 5, "piid": 6}]
REPLY = {"id": 3, "result": [{"did": "power", "siid": 2, "piid": 1, "code": 0, "value": True},
                             {"did": "electric_power", "siid": 5, "piid": 6, "code": 0, "value": 1500}],
         "exe_time": 40}


def build(obj, stamp):
    return Message.build({"data": {"value": obj},
                          "header": {"value": {"length": 0, "unknown": 0, "device_id": b"\x0b\xad\xca\xfe",
                                               "ts": datetime.datetime.utcfromtimestamp(stamp)}},
                          "checksum": 0}, token=TOKEN)


def main():
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    start = time.perf_counter()
    for i in range(iterations):
        build({"id": 3 + i % 1000, "method": "get_properties", "params": PARAMS}, 0x3eb + i)
    build_ns = (time.perf_counter() - start) * 1e9 / iterations
    packet = build(REPLY, 0x3ec)
    start = time.perf_counter()
    for _ in range(iterations):
        Message.parse(packet, token=TOKEN).data.value["result"]
    parse_ns = (time.perf_counter() - start) * 1e9 / iterations
    print(json.dumps({"iterations": iterations, "build_encrypt_ns": round(build_ns, 1),
                      "decrypt_parse_ns": round(parse_ns, 1)}))


if __name__ == "__main__":
    main()
