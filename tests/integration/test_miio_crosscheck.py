"""Cross-check of our miIO packet codec against Debian's python3-miio 0.5.0.1 (docs/miio.md §8).

Two implementations that share no code must agree, in both directions:
- packets made by our codec (tests/tools/miio_codec_tool.cpp, `encode`) are parsed by
  `miio.protocol.Message.parse(pkt, token=T)`: header fields, checksum and JSON data must match;
- packets made by `Message.build` (python-miio serialization: ", "/": " separators plus one NUL)
  are decoded by our codec (`decode`): did, stamp and payload text must match;
- a packet under another token is rejected by both (construct ChecksumError / our exit status 1
  with "checksum mismatch" on stderr).

Run with Debian's interpreter: /usr/bin/python3 -m pytest tests/integration/test_miio_crosscheck.py
The tool is looked up in $CLOUDLESS_TOOLS_DIR (set by ctest), else <repo>/build/tests.
Self-contained on purpose: no conftest fixtures, no network, no simulator.
"""

import datetime
import json
import os
import pathlib
import random
import subprocess

import pytest
from construct.core import ChecksumError
from miio.protocol import Message

REPO = pathlib.Path(__file__).resolve().parents[2]
TOOLS_DIR = pathlib.Path(os.environ.get("CLOUDLESS_TOOLS_DIR", REPO / "build" / "tests"))
TOOL = TOOLS_DIR / "miio_codec_tool"

# docs/miio.md §6.3/§6.7 public test token and did; never a live device's.
TOKEN_HEX = "00112233445566778899aabbccddeeff"
TOKEN = bytes.fromhex(TOKEN_HEX)
OTHER_TOKEN_HEX = "5d3a2f018c90097a850558c35c953b77"  # docs/miio.md §6.2 (mi-home test token)
OTHER_TOKEN = bytes.fromhex(OTHER_TOKEN_HEX)
DID = 0x0BADCAFE


@pytest.fixture(scope="module", autouse=True)
def tool_exists():
    if not TOOL.is_file():
        pytest.fail(f"{TOOL} not built: build target miio_codec_tool or set CLOUDLESS_TOOLS_DIR")


def our_encode(plaintext: bytes, did: int = DID, stamp: int = 0x3E9, token_hex: str = TOKEN_HEX) -> bytes:
    done = subprocess.run(
        [str(TOOL), "encode", token_hex, f"{did:08x}", f"{stamp:08x}"],
        input=plaintext, capture_output=True, check=True, timeout=10,
    )
    return bytes.fromhex(done.stdout.decode().strip())


def our_decode(packet: bytes, token_hex: str = TOKEN_HEX) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(TOOL), "decode", token_hex], input=packet.hex().encode(), capture_output=True, timeout=10,
    )


def miio_build(obj, did: int = DID, stamp: int = 0x3E9, token: bytes = TOKEN) -> bytes:
    # docs/miio.md §8: how Message.build wants its input; ts is a naive UTC datetime.
    return Message.build(
        {
            "data": {"value": obj},
            "header": {
                "value": {
                    "length": 0,
                    "unknown": 0,
                    "device_id": did.to_bytes(4, "big"),
                    "ts": datetime.datetime.utcfromtimestamp(stamp),
                }
            },
            "checksum": 0,
        },
        token=token,
    )


def compact(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


# Payloads of the shapes the daemon sends and receives (docs/miio.md §1.4, §4.1, §5.3, §6.7).
PAYLOADS = [
    {"id": 1, "method": "miIO.info", "params": []},
    {"id": 2, "method": "get_prop", "params": ["power", "temperature"]},
    {"id": 3, "method": "get_properties",
     "params": [{"did": "power", "siid": 2, "piid": 1}, {"did": "electric_power", "siid": 5, "piid": 6}]},
    {"id": 4, "method": "set_properties", "params": [{"did": "power", "siid": 2, "piid": 1, "value": False}]},
    {"id": 7, "method": "miIO.config_router", "params": {"ssid": "Wohnzimmer-WLAN", "passwd": "p\u00e4ss \"x\"", "uid": 0}},
    {"result": ["on", 32], "id": 2},
    {"id": 5, "error": {"code": -32601, "message": "Method not found."}},
    {"id": 3, "result": [{"did": "power", "siid": 2, "piid": 1, "code": 0, "value": True}], "exe_time": 40},
    {"result": 0, "id": 9998},
    {"id": 6, "result": ["K\u00fcche", "\u6e29\u5ea6", -1.5, None]},
]
# (did, stamp) edges of the two u32 fields: zero, uptime-style, wall clock, all ones.
STAMPS = [(0, 0), (DID, 0x3E9), (0x047BD1B5, 0x5F53EE9B), (0xFFFFFFFF, 0xFFFFFFFF)]


def check_miio_parses_ours(obj, did: int, stamp: int, plaintext: bytes) -> None:
    packet = our_encode(plaintext, did, stamp)
    parsed = Message.parse(packet, token=TOKEN)
    header = parsed.header.value
    assert header.length == len(packet)
    assert header.unknown == 0
    assert header.device_id == did.to_bytes(4, "big")
    assert header.ts == datetime.datetime.utcfromtimestamp(stamp)
    assert parsed.checksum == packet[16:32]
    assert parsed.data.value == obj


def check_ours_decodes_miio(obj, did: int, stamp: int) -> None:
    packet = miio_build(obj, did, stamp)
    done = our_decode(packet)
    assert done.returncode == 0, done.stderr.decode()
    line = json.loads(done.stdout)
    assert line["device_id"] == did
    assert line["stamp"] == stamp
    # python-miio sends json.dumps(obj) + NUL; our packet layer strips trailing NULs.
    sent = json.dumps(obj).encode()
    assert bytes.fromhex(line["payload_hex"]) == sent
    assert line["payload"] == sent.decode()
    assert json.loads(line["payload"]) == obj


@pytest.mark.parametrize("did,stamp", STAMPS)
@pytest.mark.parametrize("obj", PAYLOADS, ids=[str(i) for i in range(len(PAYLOADS))])
def test_python_miio_parses_our_packets(obj, did, stamp):
    check_miio_parses_ours(obj, did, stamp, compact(obj))


@pytest.mark.parametrize("did,stamp", STAMPS)
@pytest.mark.parametrize("obj", PAYLOADS, ids=[str(i) for i in range(len(PAYLOADS))])
def test_we_decode_python_miio_packets(obj, did, stamp):
    check_ours_decodes_miio(obj, did, stamp)


def test_python_miio_style_plaintext_with_nul():
    # docs/miio.md §6.7 #2: python-miio serialization + NUL, built by us; python-miio strips the NUL.
    obj = {"id": 1, "method": "miIO.info", "params": []}
    packet = our_encode(json.dumps(obj).encode() + b"\x00", DID, 0x3E9)
    assert packet.hex() == (
        "21310050000000000badcafe000003e9f990b99028ee45dc23a150aac75215c72a36b2b7afa85bd6a9f1ed82b485a3d6c2c13a1285"
        "5c97fc9a0bd7be55469c61b5393611ac2c922588d969ad8c226bde"
    )
    assert packet == miio_build(obj, DID, 0x3E9)  # byte-identical to python-miio's own build
    assert Message.parse(packet, token=TOKEN).data.value == obj


def test_docs_vector_6_7_3_both_ways():
    text = b'{"id":2,"method":"get_prop","params":["power","temperature"]}'
    packet = our_encode(text, DID, 0x3E9)
    assert packet.hex() == (
        "21310060000000000badcafe000003e9ac45fabf8560aacd15bd1014c40e68a80efba9576571a58d5364c7399a86a7151976572b04"
        "fff1ad0d3bea41c5b536ca55f86256ddfc59a8d325f63678448a1efc7152590cf05c853cfb608919588ade"
    )
    assert Message.parse(packet, token=TOKEN).data.value == json.loads(text)


def test_payload_sizes_across_block_boundaries():
    # Plaintext lengths 11..60 cover every PKCS#7 pad length (1..16) several times, both ways.
    for size in range(11, 61):
        obj = {"v": "x" * (size - 8)}  # {"v":"…"} is 8 bytes of framing in compact form
        plaintext = compact(obj)
        assert len(plaintext) == size
        check_miio_parses_ours(obj, DID, size, plaintext)
        check_ours_decodes_miio(obj, DID, size)


def test_random_payloads_both_ways():
    rng = random.Random(54321)  # fixed seed: reproducible
    alphabet = "abcXYZ019 _-.:\"\\/\u00e4\u00df\u20ac\u6e29\U0001f50c\n\t"
    for _ in range(40):
        obj = {
            "id": rng.randrange(1, 10000),
            "method": "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 20))),
            "params": [rng.choice([True, False, None, rng.randrange(-10**6, 10**6), "".join(
                rng.choice(alphabet) for _ in range(rng.randrange(0, 30)))]) for _ in range(rng.randrange(0, 8))],
        }
        did, stamp = rng.getrandbits(32), rng.getrandbits(32)
        check_miio_parses_ours(obj, did, stamp, compact(obj))
        check_ours_decodes_miio(obj, did, stamp)


def test_wrong_token_detected_by_python_miio():
    packet = our_encode(compact(PAYLOADS[0]), DID, 0x3E9)
    with pytest.raises(ChecksumError):
        Message.parse(packet, token=OTHER_TOKEN)


def test_wrong_token_detected_by_us():
    packet = miio_build(PAYLOADS[5], DID, 0x3EA)
    done = our_decode(packet, token_hex=OTHER_TOKEN_HEX)
    assert done.returncode == 1
    assert done.stdout == b""
    assert "checksum mismatch: wrong token?" in done.stderr.decode()
    assert "authentication error" in done.stderr.decode()


def test_packet_from_other_token_builder_rejected_by_both():
    # The device answers with a token we do not hold (docs/miio.md §2.6 case 2): both sides must refuse.
    theirs = miio_build(PAYLOADS[5], DID, 0x3EA, token=OTHER_TOKEN)
    assert our_decode(theirs).returncode == 1
    ours = our_encode(compact(PAYLOADS[5]), DID, 0x3EA, token_hex=OTHER_TOKEN_HEX)
    with pytest.raises(ChecksumError):
        Message.parse(ours, token=TOKEN)


def test_tampered_packet_rejected_by_both():
    packet = bytearray(our_encode(compact(PAYLOADS[1]), DID, 0x3E9))
    packet[-1] ^= 0x01  # last ciphertext byte
    with pytest.raises(ChecksumError):
        Message.parse(bytes(packet), token=TOKEN)
    done = our_decode(bytes(packet))
    assert done.returncode == 1
    assert "checksum mismatch" in done.stderr.decode()
