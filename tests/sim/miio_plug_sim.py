#!/usr/bin/python3
"""miIO plug simulator: many Xiaomi smart plugs on loopback addresses, one process.

Speaks the real miIO LAN protocol (UDP, 32-byte header, MD5 checksum, AES-128-CBC payload) using
Debian's python3-miio (`miio.protocol.Message`) for packet parsing and building, i.e. an
implementation independent of cloudless' C++ codec. Single-threaded, non-blocking (selectors).

Every simulated plug listens on its own UDP address (127.0.0.N, default port 54321; port 0 picks a
free port, reported in the ready line). Only 127.0.0.0/8 addresses are accepted: this tool never
broadcasts and never binds a wildcard address.

Run `/usr/bin/python3 tests/sim/miio_plug_sim.py --help` for the full reference (CLI, plug
description, models, behaviour switches and the control protocol); the text is in HELP_EPILOG below.
"""

import argparse
import datetime
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
    import construct
    from miio.protocol import Message, Utils
except ImportError as exc:  # pragma: no cover - environment problem
    sys.stderr.write(
        "miio_plug_sim: needs Debian's python3-miio; run it with /usr/bin/python3 (%s)\n" % exc
    )
    sys.exit(3)

# sim_loop.py lies beside this file, also when a test loads this file as a module.
if os.path.dirname(os.path.abspath(__file__)) not in sys.path:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sim_loop import SimLoop, UsageError, add_loop_arguments, simulator_main  # noqa: E402

HELLO_REQUEST = bytes.fromhex("21310020" + "ff" * 28)
MAGIC = 0x2131

HELP_EPILOG = r"""
PLUG DESCRIPTION
  A JSON file (--config) holds {"plugs": [PLUG, ...], "control_port": N} or just [PLUG, ...].
  --plug takes the same keys as comma-separated key=value pairs, e.g.
    --plug name=desk,address=127.0.0.2,model=chuangmi.plug.v3,token=00112233445566778899aabbccddeeff,power=on
  PLUG keys (all optional except address):
    name      control-channel name (default "<address>:<port>")
    address   127.x.y.z to bind (required; anything outside 127.0.0.0/8 is refused)
    port      UDP port (default 54321; 0 = pick a free one, reported in the ready line)
    token     32 hex digits (default derived from the name)
    did       device id, int or "0x..." (default derived from the name)
    model     model reported by miIO.info (default chuangmi.plug.v3)
    layout    behave like this model while reporting `model` (default: same as model). Lets a test
              serve an unknown model "acme.plug.x1" with the chuangmi.plug.212a01 property layout.
    mac, fw_ver, hw_ver, ssid, uptime (initial stamp, seconds; default 1000)
    state     {STATE keys}, behaviour {BEHAVIOUR keys}; both may also be given at top level.
  STATE keys:
    power (bool; default true), usb (bool), led (bool), temperature (int °C, default 32),
    load_w (float W drawn while on, default 15.0), power_jitter (fraction, default 0.02; 0 = exact),
    energy_wh (float, lifetime counter, grows with load_w × time while on), voltage (V, default 230)
  BEHAVIOUR keys (also settable at runtime):
    hello_token   "token" | "zeros" | "ff": what the hello reply carries in the checksum slot (default zeros)
    silent        true: drop everything, hello included (an unplugged device)
    ignore_hello  true: drop only hellos
    answer_token  32 hex digits: encrypt/sign replies with this token (client must see a checksum error)
    dedup         true: silently ignore a request whose id was already seen (like real devices)
    strict_ids    true: silently ignore a request whose id is not above the last id this plug
                  handled, as real plugs do (python-miio #211, #813). The last id is remembered for
                  the life of the simulator, so across restarts of a client; `reboot` forgets it. Ids
                  run 1..9998 and wrap to 1: an id is "above" when it is 1 to 4999 steps ahead.
    inject_error  {"code": N, "message": "...", "count": K, "method": "name" (optional)} or null:
                  the next K requests (of that method) are answered {"error": {code, message}}
                  instead of being carried out, e.g. -30012 "busy." or -9999 "user ack timeout".
                  The count goes down as they are answered (see `state`).
    garbage       true | list of kinds: before each real reply send junk datagrams. Kinds: random,
                  truncated, bad_checksum, bad_magic, other_token, hello (true = the first five),
                  forged_hello (a hello reply with another did and a far stamp, as any host on the LAN
                  can send one: it carries no checksum)
    delay         seconds to wait before replying
    reply_style   "python" (python-miio's json.dumps + NUL, via Message.build; default) or
                  "compact" (compact JSON, no NUL, like real firmware; verified with Message.parse)
    strict_did    true: ignore requests whose header did is not this plug's did
    max_properties  int: get_properties with more entries answers -9999 "user ack timeout"
    info_omit_model true: miIO.info has no "model" key (seen on some 212a01 firmware)
    token_after_config_router  32 hex digits: the token the plug switches to after miIO.config_router

MODELS (layouts)
  chuangmi.plug.m1   get_prop power("on"/"off"),temperature; set_power ["on"|"off"] -> ["ok"]
  chuangmi.plug.v1   get_prop on,usb_on,temperature (bools, int); set_on/set_off, set_usb_on/set_usb_off -> ["ok"]
  chuangmi.plug.v3   get_prop on,usb_on,temperature,wifi_led("on"/"off"); set_power -> ["ok"];
                     set_usb_on/off -> 0 (real quirk); set_wifi_led -> ["ok"]; get_power -> [load in 0.01 W]
  chuangmi.plug.212a01 (MIoT) 2/1 switch bool rw, 2/6 temperature, 2/7 working time (min), 3/1 indicator
                     bool rw, 5/1 energy Wh (uint32), 5/2 current mA, 5/3 voltage V, 5/6 power 0.01 W, 5/7 surge
  cuco.plug.v3 (MIoT) 2/1 switch bool rw, 11/1 energy kWh (float, 0.001; the unit is an unverified
                     assumption shared with protocols/miio/plug_models.cpp), 11/2 power W (float, 0.1 W),
                     13/1 indicator bool rw
  Legacy models answer get_properties/set_properties/action with -9999 "user ack timeout"; MIoT models
  answer legacy methods with -9999 ("user ack timeout" on 212a01, "undefined command" on cuco, as seen
  on real devices). Unknown methods: -32601 "Method not found.". Unknown siid/piid: per-entry code -4003,
  read-only: -4002, wrong value type: -4005. All models: miIO.info (model, fw_ver, hw_ver, mac, token,
  life, ap{ssid,bssid,rssi,primary}, netif{localIp,mask,gw}, ...), miIO.config_router -> 0 (the bare-int
  quirk; the ssid is recorded), miIO.wifi_assoc_state.
  Datagrams with a bad checksum are ignored silently (as real devices do) and logged as "bad_checksum".

CONTROL CHANNEL
  TCP on 127.0.0.1:<control_port>, JSON lines both ways: one request object per line, one reply object
  per line ({"ok": true, ...} or {"ok": false, "error": "..."}). Readiness: after every socket is bound
  the simulator prints ONE JSON line on stdout:
    {"control_port": N, "control_host": "127.0.0.1", "pid": P, "plugs": [{"name","address","port","did",
     "token","model","layout"}, ...]}
  A plug is named by "plug": its name, "address", "address:port" or did (int).
  Commands ("cmd"):
    ping                                   -> {"ok": true}
    list                                   -> {"plugs": [...summary...]}
    state      plug                        -> {"state": {...}, "behaviour": {...}, "uptime", "did", ...}
    set_state  plug, state: {STATE keys}   -> {"state": {...}}  (e.g. {"power": false}: switched by hand)
    set_behaviour plug, behaviour: {BEHAVIOUR keys} -> {"behaviour": {...}}  (alias: set_behavior)
    reboot     plug [, uptime: s (default 3)] [, keep_energy: bool (default false)]
               -> stamp restarts from a small uptime, energy counter back to 0, seen ids and the
                  last id forgotten
    log        [plug] [, since: seq] [, kind] [, method] -> {"entries": [...], "next": seq}
               entry: {seq, t, plug, kind: hello|request|bad_checksum|malformed|undecodable, method,
                       params, id, stamp, did_ok, answered, dropped (reason or null), reply, src}
               dropped reasons: short, magic, length, silent, ignore_hello, checksum, did, dedup,
               id_not_above_last
    clear_log                              -> {"next": seq}
    shutdown                               -> {"ok": true}, then exits 0
EXIT
  SIGTERM/SIGINT/shutdown: exit 0. Bad arguments: 2. A socket that cannot be bound: 1.
  --exit-on-stdin-eof: exit when stdin closes (tests pass a pipe so a killed test run leaves nothing).
  --max-runtime S: exit after S seconds whatever happens (a safety bound for tests).
"""

STATE_DEFAULTS = {
    "power": True,
    "usb": True,
    "led": True,
    "temperature": 32,
    "load_w": 15.0,
    "power_jitter": 0.02,
    "energy_wh": 0.0,
    "voltage": 230.0,
}
STATE_TYPES = {
    "power": bool, "usb": bool, "led": bool, "temperature": int, "load_w": float,
    "power_jitter": float, "energy_wh": float, "voltage": float,
}
BEHAVIOUR_DEFAULTS = {
    "hello_token": "zeros",
    "silent": False,
    "ignore_hello": False,
    "answer_token": None,
    "dedup": False,
    "strict_ids": False,
    "inject_error": None,
    "garbage": False,
    "delay": 0.0,
    "reply_style": "python",
    "strict_did": False,
    "max_properties": None,
    "info_omit_model": False,
    "token_after_config_router": None,
}
GARBAGE_KINDS = ("random", "truncated", "bad_checksum", "bad_magic", "other_token", "hello", "forged_hello")
GARBAGE_DEFAULT = GARBAGE_KINDS[:5]

LEGACY_METHODS = {
    "get_prop", "set_power", "set_on", "set_off", "set_usb_on", "set_usb_off", "set_wifi_led",
    "get_power",
}
MIOT_METHODS = {"get_properties", "set_properties", "action"}

MODEL_ALIASES = {
    "m1": "chuangmi.plug.m1",
    "v1": "chuangmi.plug.v1",
    "v3": "chuangmi.plug.v3",
    "212a01": "chuangmi.plug.212a01",
    "cuco": "cuco.plug.v3",
    "cuco.v3": "cuco.plug.v3",
}


class RpcError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


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


def _hex_token(value, what="token"):
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 32:
        raise UsageError("%s: expected 32 hex digits, got %r" % (what, value))
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise UsageError("%s: expected 32 hex digits, got %r" % (what, value)) from None


def _coerce_state(key, value):
    if key not in STATE_TYPES:
        raise UsageError("unknown state key %r (known: %s)" % (key, ", ".join(sorted(STATE_TYPES))))
    kind = STATE_TYPES[key]
    if kind is bool:
        return _to_bool(value)
    try:
        return kind(float(value)) if kind is int else float(value)
    except (TypeError, ValueError):
        raise UsageError("state %s: not a number: %r" % (key, value)) from None


def _coerce_behaviour(key, value):
    if key not in BEHAVIOUR_DEFAULTS:
        raise UsageError(
            "unknown behaviour key %r (known: %s)" % (key, ", ".join(sorted(BEHAVIOUR_DEFAULTS)))
        )
    if key == "hello_token":
        if value not in ("token", "zeros", "ff"):
            raise UsageError("hello_token: token | zeros | ff, got %r" % (value,))
        return value
    if key in ("answer_token", "token_after_config_router"):
        if value in (None, "", "none", "null"):
            return None
        _hex_token(value, key)
        return value.lower()
    if key in ("silent", "ignore_hello", "dedup", "strict_ids", "strict_did", "info_omit_model"):
        return _to_bool(value)
    if key == "inject_error":
        return _coerce_inject_error(value)
    if key == "garbage":
        if isinstance(value, list):
            kinds = value
        elif isinstance(value, str) and value.lower() not in ("true", "false", "on", "off", "0", "1", "yes", "no"):
            kinds = [k for k in value.replace("+", " ").replace(";", " ").split() if k]
        else:
            return list(GARBAGE_DEFAULT) if _to_bool(value) else False
        for k in kinds:
            if k not in GARBAGE_KINDS:
                raise UsageError("garbage kind %r unknown (known: %s)" % (k, ", ".join(GARBAGE_KINDS)))
        return list(kinds) if kinds else False
    if key == "delay":
        try:
            d = float(value)
        except (TypeError, ValueError):
            raise UsageError("delay: seconds, got %r" % (value,)) from None
        if d < 0 or d > 3600:
            raise UsageError("delay out of range: %r" % (value,))
        return d
    if key == "reply_style":
        if value not in ("python", "compact"):
            raise UsageError("reply_style: python | compact, got %r" % (value,))
        return value
    if key == "max_properties":
        if value in (None, "", "none", "null"):
            return None
        return int(value)
    raise UsageError("unhandled behaviour key %r" % key)  # pragma: no cover


def _coerce_inject_error(value):
    if value in (None, False, "", "none", "null"):
        return None
    if not isinstance(value, dict):
        raise UsageError("inject_error: expected {code, message, count, method} or null, got %r" % (value,))
    unknown = set(value) - {"code", "message", "count", "method"}
    if unknown:
        raise UsageError("inject_error: unknown keys %s" % ", ".join(sorted(unknown)))
    try:
        code = int(value["code"])
        count = int(value.get("count", 1))
    except (KeyError, TypeError, ValueError):
        raise UsageError("inject_error: 'code' (int) is required, 'count' is an int") from None
    if count < 0:
        raise UsageError("inject_error: count must not be negative")
    method = value.get("method")
    return {"code": code, "message": str(value.get("message", "")), "count": count,
            "method": None if method is None else str(method)}


MAX_MESSAGE_ID = 9998  # ids run 1..9998, then wrap to 1


def id_above(new, last):
    """Whether message id `new` comes after `last`, counting around the wrap (half the ring ahead)."""
    return 1 <= (new - last) % MAX_MESSAGE_ID <= MAX_MESSAGE_ID // 2


# ----------------------------------------------------------------------------------------------
# Plug models


class Layout:
    """What a model answers. Subclasses implement `call(plug, method, params)`."""

    name = ""
    miot = False

    def call(self, plug, method, params):
        if method == "miIO.info":
            return plug.info()
        if method == "miIO.config_router":
            return plug.config_router(params)
        if method == "miIO.wifi_assoc_state":
            return {"state": "ONLINE", "auth_fail_count": 0, "conn_success_count": 1,
                    "conn_fail_count": 0, "dhcp_fail_count": 0}
        if self.miot and method in LEGACY_METHODS:
            raise RpcError(-9999, self.legacy_error_message)
        if not self.miot and method in MIOT_METHODS:
            raise RpcError(-9999, "user ack timeout")
        handler = getattr(self, "m_" + method.replace(".", "_"), None)
        if handler is None:
            raise RpcError(-32601, "Method not found.")
        return handler(plug, params)


def _onoff_param(params):
    if isinstance(params, list) and len(params) == 1 and params[0] in ("on", "off"):
        return params[0] == "on"
    raise RpcError(-5001, "invalid_arg")


class LegacyM1(Layout):
    name = "chuangmi.plug.m1"
    props = ("power", "temperature")

    def prop(self, plug, name):
        if name == "power":
            return "on" if plug.state["power"] else "off"
        if name == "temperature":
            return plug.state["temperature"]
        return None

    def m_get_prop(self, plug, params):
        if not isinstance(params, list):
            raise RpcError(-5001, "invalid_arg")
        return [self.prop(plug, str(p)) for p in params]

    def m_set_power(self, plug, params):
        plug.set_power(_onoff_param(params))
        return ["ok"]


class LegacyV1(LegacyM1):
    name = "chuangmi.plug.v1"
    props = ("on", "usb_on", "temperature")

    def prop(self, plug, name):
        if name == "on":
            return plug.state["power"]
        if name == "usb_on":
            return plug.state["usb"]
        if name == "temperature":
            return plug.state["temperature"]
        return None

    m_set_power = None  # v1 has set_on / set_off instead

    def call(self, plug, method, params):
        if method == "set_power":
            raise RpcError(-32601, "Method not found.")
        return super().call(plug, method, params)

    def m_set_on(self, plug, params):
        plug.set_power(True)
        return ["ok"]

    def m_set_off(self, plug, params):
        plug.set_power(False)
        return ["ok"]

    def m_set_usb_on(self, plug, params):
        plug.state["usb"] = True
        return ["ok"]

    def m_set_usb_off(self, plug, params):
        plug.state["usb"] = False
        return ["ok"]


class LegacyV3(LegacyM1):
    name = "chuangmi.plug.v3"
    props = ("on", "usb_on", "temperature", "wifi_led")

    def prop(self, plug, name):
        if name == "on":
            return plug.state["power"]
        if name == "usb_on":
            return plug.state["usb"]
        if name == "temperature":
            return plug.state["temperature"]
        if name == "wifi_led":
            return "on" if plug.state["led"] else "off"
        return None

    def m_set_usb_on(self, plug, params):
        plug.state["usb"] = True
        return 0  # the real v3 answers a bare 0 here (HA switch.py comment)

    def m_set_usb_off(self, plug, params):
        plug.state["usb"] = False
        return 0

    def m_set_wifi_led(self, plug, params):
        plug.state["led"] = _onoff_param(params)
        return ["ok"]

    def m_get_power(self, plug, params):
        return [int(round(plug.power_reading() * 100))]


class MiotLayout(Layout):
    miot = True
    legacy_error_message = "user ack timeout"
    # (siid, piid) -> (getter(plug), setter(plug, value) or None, value type for set)
    properties = {}

    def m_get_properties(self, plug, params):
        if not isinstance(params, list):
            raise RpcError(-5001, "invalid_arg")
        limit = plug.behaviour["max_properties"]
        if limit is not None and len(params) > limit:
            raise RpcError(-9999, "user ack timeout")
        out = []
        for item in params:
            if not isinstance(item, dict):
                raise RpcError(-5001, "invalid_arg")
            entry = {k: item[k] for k in ("did", "siid", "piid") if k in item}
            prop = self.properties.get((item.get("siid"), item.get("piid")))
            if prop is None:
                entry["code"] = -4003
            elif prop[0] is None:
                entry["code"] = -4001
            else:
                entry["code"] = 0
                entry["value"] = prop[0](plug)
            out.append(entry)
        return out

    def m_set_properties(self, plug, params):
        if not isinstance(params, list):
            raise RpcError(-5001, "invalid_arg")
        out = []
        for item in params:
            if not isinstance(item, dict):
                raise RpcError(-5001, "invalid_arg")
            entry = {k: item[k] for k in ("did", "siid", "piid") if k in item}
            prop = self.properties.get((item.get("siid"), item.get("piid")))
            if prop is None:
                entry["code"] = -4003
            elif prop[1] is None:
                entry["code"] = -4002
            elif "value" not in item or not isinstance(item["value"], prop[2]) or (
                prop[2] is not bool and isinstance(item["value"], bool)
            ):
                entry["code"] = -4005
            else:
                prop[1](plug, item["value"])
                entry["code"] = 0
            out.append(entry)
        return out

    def m_action(self, plug, params):
        if not isinstance(params, dict):
            raise RpcError(-5001, "invalid_arg")
        return {"did": params.get("did", ""), "siid": params.get("siid"), "aiid": params.get("aiid"),
                "code": -4003}


def _set_led(plug, value):
    plug.state["led"] = value


class Miot212a01(MiotLayout):
    name = "chuangmi.plug.212a01"
    legacy_error_message = "user ack timeout"  # python-miio#1265
    properties = {
        (2, 1): (lambda p: p.state["power"], lambda p, v: p.set_power(v), bool),
        (2, 6): (lambda p: p.state["temperature"], None, int),
        (2, 7): (lambda p: int(p.uptime() // 60), None, int),
        (3, 1): (lambda p: p.state["led"], _set_led, bool),
        (5, 1): (lambda p: int(p.energy_wh()), None, int),
        (5, 2): (lambda p: int(round(p.current_a() * 1000)), None, int),
        (5, 3): (lambda p: int(round(p.state["voltage"])), None, int),
        (5, 6): (lambda p: int(round(p.power_reading() * 100)), None, int),
        (5, 7): (lambda p: int(round(p.power_reading() * 100)), None, int),
    }


class MiotCucoV3(MiotLayout):
    name = "cuco.plug.v3"
    legacy_error_message = "undefined command"  # python-miio#1865, #1966
    properties = {
        (2, 1): (lambda p: p.state["power"], lambda p, v: p.set_power(v), bool),
        (11, 1): (lambda p: round(p.energy_wh() / 1000.0, 3), None, int),  # kWh [unverified unit]
        (11, 2): (lambda p: round(p.power_reading(), 1), None, int),
        (13, 1): (lambda p: p.state["led"], _set_led, bool),
    }


LAYOUTS = {cls.name: cls() for cls in (LegacyM1, LegacyV1, LegacyV3, Miot212a01, MiotCucoV3)}


def _canonical_model(name):
    return MODEL_ALIASES.get(name, name)


# ----------------------------------------------------------------------------------------------
# One plug


class Plug:
    def __init__(self, spec, index):
        spec = dict(spec)
        try:
            address = spec.pop("address")
        except KeyError:
            raise UsageError("plug #%d: 'address' is required" % index) from None
        try:
            ip = ipaddress.IPv4Address(address)
        except ValueError:
            raise UsageError("plug #%d: bad address %r" % (index, address)) from None
        if ip not in ipaddress.IPv4Network("127.0.0.0/8") or str(ip).endswith(".255") or str(ip) == "127.0.0.0":
            raise UsageError("plug #%d: address %s is not a loopback host address (127.0.0.0/8)" % (index, address))
        self.address = str(ip)
        self.port = int(spec.pop("port", 54321))
        if not 0 <= self.port <= 65535:
            raise UsageError("plug #%d: bad port" % index)
        self.name = str(spec.pop("name", "%s:%d" % (self.address, self.port)))
        self.model = _canonical_model(str(spec.pop("model", "chuangmi.plug.v3")))
        layout_name = _canonical_model(str(spec.pop("layout", self.model)))
        if layout_name not in LAYOUTS:
            raise UsageError(
                "plug %s: no layout for model %r; give layout=<one of %s>"
                % (self.name, layout_name, ", ".join(sorted(LAYOUTS)))
            )
        self.layout = LAYOUTS[layout_name]
        seed = hashlib.md5(("cloudless-sim:" + self.name).encode()).digest()
        token = spec.pop("token", None) or seed.hex()
        self.token = _hex_token(token)
        did = spec.pop("did", None)
        if did is None:
            did = (int.from_bytes(seed[:4], "big") % 0x7FFFFFF0) + 1
        elif isinstance(did, str):
            did = int(did, 0)
        if not 0 < int(did) < 0xFFFFFFFF:
            raise UsageError("plug %s: did out of range" % self.name)
        self.did = int(did)
        self.did_bytes = struct.pack(">I", self.did)
        self.mac = str(spec.pop("mac", "44:23:7C:%02X:%02X:%02X" % tuple(self.did_bytes[1:])))
        self.fw_ver = str(spec.pop("fw_ver", "1.2.4_59" if not self.layout.miot else "2.1.2_0013"))
        self.hw_ver = str(spec.pop("hw_ver", "MW300" if not self.layout.miot else "esp32"))
        self.ssid = str(spec.pop("ssid", "simnet"))
        self.state = dict(STATE_DEFAULTS)
        self.behaviour = dict(BEHAVIOUR_DEFAULTS)
        for key, value in dict(spec.pop("state", {}) or {}).items():
            self.state[key] = _coerce_state(key, value)
        for key, value in dict(spec.pop("behaviour", spec.pop("behavior", {})) or {}).items():
            self.behaviour[key] = _coerce_behaviour(key, value)
        uptime = float(spec.pop("uptime", 1000))
        for key in list(spec):
            if key in STATE_TYPES:
                self.state[key] = _coerce_state(key, spec.pop(key))
            elif key in BEHAVIOUR_DEFAULTS:
                self.behaviour[key] = _coerce_behaviour(key, spec.pop(key))
        if spec:
            raise UsageError("plug %s: unknown keys %s" % (self.name, ", ".join(sorted(spec))))
        self.rng = random.Random(self.did)
        self._boot = time.monotonic() - uptime
        self._energy_at = time.monotonic()
        self.seen_ids = deque(maxlen=256)
        self.last_id = None  # the last request id handled (strict_ids)
        self.sock = None
        self.requests = 0

    # --- physical model
    def uptime(self):
        return max(0.0, time.monotonic() - self._boot)

    def stamp(self):
        return int(self.uptime()) & 0xFFFFFFFF

    def _integrate(self):
        now = time.monotonic()
        if self.state["power"]:
            self.state["energy_wh"] += self.state["load_w"] * (now - self._energy_at) / 3600.0
        self._energy_at = now

    def energy_wh(self):
        self._integrate()
        return self.state["energy_wh"]

    def power_reading(self):
        if not self.state["power"]:
            return 0.0
        j = self.state["power_jitter"]
        value = self.state["load_w"] * (1.0 + (self.rng.uniform(-j, j) if j else 0.0))
        return max(0.0, value)

    def current_a(self):
        v = self.state["voltage"] or 230.0
        return self.power_reading() / v

    def set_power(self, on):
        self._integrate()
        self.state["power"] = bool(on)

    def update_state(self, changes):
        self._integrate()
        for key, value in changes.items():
            self.state[key] = _coerce_state(key, value)

    def reboot(self, uptime=3.0, keep_energy=False):
        self._integrate()
        if not keep_energy:
            self.state["energy_wh"] = 0.0
        self._boot = time.monotonic() - float(uptime)
        self.seen_ids.clear()
        self.last_id = None

    # --- miIO.* methods
    def info(self):
        info = {
            "life": int(self.uptime()),
            "cfg_time": 0,
            "token": self.token.hex(),
            "mac": self.mac,
            "fw_ver": self.fw_ver,
            "hw_ver": self.hw_ver,
            "uid": 1234567890,
            "model": self.model,
            "mcu_fw_ver": "0001",
            "wifi_fw_ver": "SD878x-14.76.36.p84-702.1.0-WM",
            "ap": {"rssi": -52, "ssid": self.ssid, "primary": 6,
                   "bssid": "46:23:7C:AB:%02X:%02X" % (self.did_bytes[2], self.did_bytes[3])},
            "netif": {"localIp": self.address, "mask": "255.0.0.0", "gw": "127.0.0.1"},
            "mmfree": 23296,
            "ot": "otu",
            "ott_stat": [0, 0, 0, 0],
            "otu_stat": [101, 74, 5343, 0, 5327, 407],
            "miio_ver": "0.0.8" if not self.layout.miot else "0.1.0",
        }
        if self.behaviour["info_omit_model"]:
            del info["model"]
        return info

    def config_router(self, params):
        if not isinstance(params, dict) or "ssid" not in params:
            raise RpcError(-5001, "invalid_arg")
        self.ssid = str(params["ssid"])
        new_token = self.behaviour["token_after_config_router"]
        if new_token:
            self.token = bytes.fromhex(new_token)
        return 0

    def summary(self):
        return {"name": self.name, "address": self.address, "port": self.port, "did": self.did,
                "token": self.token.hex(), "model": self.model, "layout": self.layout.name}

    def full_state(self):
        self._integrate()
        out = self.summary()
        out.update({
            "state": dict(self.state),
            "behaviour": dict(self.behaviour),
            "uptime": self.uptime(),
            "stamp": self.stamp(),
            "ssid": self.ssid,
            "mac": self.mac,
            "requests": self.requests,
            "last_id": self.last_id,
            "power_reading": self.power_reading(),
        })
        return out


# ----------------------------------------------------------------------------------------------
# Packets


def build_reply(plug, payload, token=None):
    """A reply packet for `payload` (dict) from `plug`, signed/encrypted with `token`."""
    token = token or plug.token
    stamp = plug.stamp()
    if plug.behaviour["reply_style"] == "compact":
        plaintext = json.dumps(payload, separators=(",", ":")).encode()
        cipher = Utils.encrypt(plaintext, token)
        head = struct.pack(">HHI4sI", MAGIC, 32 + len(cipher), 0, plug.did_bytes, stamp)
        packet = head + hashlib.md5(head + token + cipher).digest() + cipher
        return packet
    return Message.build(
        {
            "data": {"value": payload},
            "header": {"value": {"length": 0, "unknown": 0, "device_id": plug.did_bytes,
                                 "ts": datetime.datetime.utcfromtimestamp(stamp)}},
            "checksum": 0,
        },
        token=token,
    )


def build_hello_reply(plug):
    mode = plug.behaviour["hello_token"]
    field = plug.token if mode == "token" else (b"\xff" * 16 if mode == "ff" else b"\x00" * 16)
    return struct.pack(">HHI4sI", MAGIC, 32, 0, plug.did_bytes, plug.stamp()) + field


def garbage_datagrams(plug, kinds, reply_packet, rng):
    out = []
    for kind in kinds:
        if kind == "random":
            out.append(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 80))))
        elif kind == "truncated":
            out.append(reply_packet[: max(8, len(reply_packet) - 16)])
        elif kind == "bad_checksum":
            b = bytearray(reply_packet)
            b[20] ^= 0x5A
            out.append(bytes(b))
        elif kind == "bad_magic":
            out.append(b"\x21\x32" + reply_packet[2:])
        elif kind == "other_token":
            other = hashlib.md5(plug.token + b"other").digest()
            out.append(build_reply(plug, {"id": 0, "result": ["garbage"]}, token=other))
        elif kind == "hello":
            out.append(build_hello_reply(plug))
        elif kind == "forged_hello":
            forged_did = struct.pack(">I", plug.did ^ 0x5A5A5A5A)
            out.append(struct.pack(">HHI4sI", MAGIC, 32, 0, forged_did, 0x7FFFFFF0) + b"\x00" * 16)
    return out


# ----------------------------------------------------------------------------------------------
# The server


class Simulator(SimLoop):
    NAME = "miio_plug_sim"
    DEVICE, DEVICES, DEVICE_NUMBER = "plug", "plugs", "did"

    def __init__(self, plugs, control_host="127.0.0.1", control_port=0, log_max=200000,
                 verbose=False, exit_on_stdin_eof=False, max_runtime=None):
        super().__init__(control_host, control_port, max_runtime, exit_on_stdin_eof)
        self.plugs = self.devices = plugs
        self.log = deque(maxlen=log_max)
        self.seq = 0
        self.verbose = verbose
        self.rng = random.Random(0xC10D)

    # --- setup
    def bind_devices(self):
        names = set()
        for plug in self.plugs:
            if plug.name in names:
                raise UsageError("duplicate plug name %r" % plug.name)
            names.add(plug.name)
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind((plug.address, plug.port))
            except OSError as exc:
                sock.close()
                raise OSError("plug %s: cannot bind %s:%d: %s" % (plug.name, plug.address, plug.port, exc))
            sock.setblocking(False)
            plug.sock = sock
            plug.port = sock.getsockname()[1]
            self.sel.register(sock, selectors.EVENT_READ, ("udp", plug))

    def close_devices(self):
        for plug in self.plugs:
            if plug.sock is not None:
                try:
                    self.sel.unregister(plug.sock)
                except (KeyError, ValueError):
                    pass
                plug.sock.close()
                plug.sock = None

    def ready_line(self):
        return {"control_port": self.control_port, "control_host": self.control_host,
                "pid": os.getpid(), "plugs": [p.summary() for p in self.plugs]}

    def handle_event(self, kind, obj, fileobj, events):
        if kind == "udp":
            self._on_udp(obj)

    # --- request log
    def add_log(self, entry):
        self.seq += 1
        entry["seq"] = self.seq
        entry["t"] = time.time()
        self.log.append(entry)
        if self.verbose:
            self.note(json.dumps(entry, default=str))
        return entry

    # --- UDP
    def _on_udp(self, plug):
        for _ in range(64):  # bounded per wake-up, fair between plugs
            try:
                data, src = plug.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.note("recv on %s: %s" % (plug.name, exc))
                return
            self._on_datagram(plug, data, src)

    def _send(self, plug, packet, src):
        if plug.sock is None:
            return
        try:
            plug.sock.sendto(packet, src)
        except OSError as exc:
            self.note("send from %s to %s: %s" % (plug.name, src, exc))

    def _on_datagram(self, plug, data, src):
        entry = {"plug": plug.name, "src": "%s:%d" % src, "size": len(data), "method": None,
                 "params": None, "id": None, "stamp": None, "did_ok": None, "answered": False,
                 "dropped": None, "reply": None}
        if len(data) < 32:
            entry.update(kind="malformed", dropped="short")
            self.add_log(entry)
            return
        magic, length, _unknown, did, stamp = struct.unpack(">HHI4sI", data[:16])
        entry["stamp"] = stamp
        if magic != MAGIC:
            entry.update(kind="malformed", dropped="magic")
            self.add_log(entry)
            return
        if length != len(data) or (length - 32) % 16:
            entry.update(kind="malformed", dropped="length")
            self.add_log(entry)
            return
        if length == 32:
            entry["kind"] = "hello"
            if plug.behaviour["silent"] or plug.behaviour["ignore_hello"]:
                entry["dropped"] = "silent" if plug.behaviour["silent"] else "ignore_hello"
                self.add_log(entry)
                return
            entry["answered"] = True
            self.add_log(entry)
            self._reply_later(plug, build_hello_reply(plug), src, [])
            return
        entry["did_ok"] = did == plug.did_bytes
        try:
            msg = Message.parse(data, token=plug.token)
        except construct.core.ChecksumError:
            entry.update(kind="bad_checksum", dropped="checksum")
            self.add_log(entry)
            return
        except Exception as exc:
            entry.update(kind="undecodable", dropped="parse: %s" % type(exc).__name__)
            self.add_log(entry)
            return
        request = msg.data.value
        if not isinstance(request, dict) or "method" not in request:
            entry.update(kind="undecodable", dropped="not a request object")
            self.add_log(entry)
            return
        plug.requests += 1
        entry.update(kind="request", method=request.get("method"), params=request.get("params"),
                     id=request.get("id"))
        if plug.behaviour["silent"]:
            entry["dropped"] = "silent"
            self.add_log(entry)
            return
        if plug.behaviour["strict_did"] and not entry["did_ok"]:
            entry["dropped"] = "did"
            self.add_log(entry)
            return
        req_id = request.get("id")
        if plug.behaviour["dedup"]:
            if req_id in plug.seen_ids:
                entry["dropped"] = "dedup"
                self.add_log(entry)
                return
            plug.seen_ids.append(req_id)
        if plug.behaviour["strict_ids"] and plug.last_id is not None and not (
            isinstance(req_id, int) and id_above(req_id, plug.last_id)
        ):
            entry["dropped"] = "id_not_above_last"
            self.add_log(entry)
            return
        if isinstance(req_id, int):
            plug.last_id = req_id
        session_token = plug.token  # the reply to config_router still uses the old token
        method = str(request.get("method"))
        fault = plug.behaviour["inject_error"]
        try:
            if fault and fault["count"] > 0 and fault["method"] in (None, method):
                fault["count"] -= 1
                raise RpcError(fault["code"], fault["message"])
            result = plug.layout.call(plug, method, request.get("params"))
            reply = {"result": result, "id": req_id}
        except RpcError as err:
            reply = {"error": {"code": err.code, "message": err.message}, "id": req_id}
        entry["reply"] = reply
        entry["answered"] = True
        self.add_log(entry)
        token = bytes.fromhex(plug.behaviour["answer_token"]) if plug.behaviour["answer_token"] else session_token
        packet = build_reply(plug, reply, token=token)
        kinds = plug.behaviour["garbage"] or []
        junk = garbage_datagrams(plug, kinds, packet, self.rng) if kinds else []
        self._reply_later(plug, packet, src, junk)

    def _reply_later(self, plug, packet, src, junk):
        def send():
            for j in junk:
                self._send(plug, j, src)
            self._send(plug, packet, src)

        delay = plug.behaviour["delay"]
        if delay > 0:
            self.call_later(delay, send)
        else:
            send()

    # --- control channel (the common commands: sim_loop.py)
    def coerce_behaviour(self, key, value):
        return _coerce_behaviour(key, value)

    def control_command(self, cmd, req):
        if cmd == "reboot":
            plug = self.find_device(req.get("plug"))
            plug.reboot(uptime=float(req.get("uptime", 3.0)), keep_energy=_to_bool(req.get("keep_energy", False)))
            return {"ok": True, **plug.full_state()}
        return super().control_command(cmd, req)


# ----------------------------------------------------------------------------------------------
# Command line


def parse_plug_spec(text):
    spec = {}
    for part in text.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise UsageError("--plug: expected key=value, got %r" % part)
        key, value = part.split("=", 1)
        key = key.strip()
        value = value.strip()
        if key in ("port", "uptime"):
            spec[key] = int(value)
        elif key == "did":
            spec[key] = int(value, 0)
        else:
            spec[key] = value
    return spec


def generated_plugs(count, first_address, models, port, token):
    base = int(ipaddress.IPv4Address(first_address))
    out = []
    for i in range(count):
        addr = ipaddress.IPv4Address(base + i)
        spec = {"name": "plug%d" % (i + 1), "address": str(addr), "port": port,
                "model": models[i % len(models)], "did": 0x10000000 + i + 1}
        if token:
            spec["token"] = token
        out.append(spec)
    return out


def build_parser():
    parser = argparse.ArgumentParser(
        prog="miio_plug_sim.py",
        description="Simulate many miIO smart plugs on 127.0.0.0/8 (real protocol, via python3-miio).",
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="FILE", help="JSON plug list (see PLUG DESCRIPTION)")
    parser.add_argument("--plug", metavar="SPEC", action="append", default=[],
                        help="one plug as key=value,... (repeatable)")
    parser.add_argument("--generate", metavar="N", type=int, default=0,
                        help="add N plugs plug1..plugN on consecutive addresses (benchmarks)")
    parser.add_argument("--first-address", default="127.0.0.2", help="first address for --generate")
    parser.add_argument("--models", default="chuangmi.plug.v3,chuangmi.plug.212a01",
                        help="comma-separated models cycled by --generate")
    parser.add_argument("--port", type=int, default=54321, help="UDP port for --generate plugs (0: free)")
    parser.add_argument("--token", default=None, help="token for --generate plugs (default: per name)")
    add_loop_arguments(parser)
    return parser


def main(argv=None):
    def specs_from_options(args):
        specs = [parse_plug_spec(s) for s in args.plug]
        if args.generate:
            models = [m.strip() for m in args.models.split(",") if m.strip()]
            specs.extend(generated_plugs(args.generate, args.first_address, models, args.port, args.token))
        return specs

    def make_simulator(args, specs, control_port):
        plugs = [Plug(spec, i) for i, spec in enumerate(specs)]
        return Simulator(plugs, args.control_host, control_port, args.log_max, args.verbose,
                         args.exit_on_stdin_eof, args.max_runtime)

    return simulator_main("miio_plug_sim", build_parser(), argv, "plugs", specs_from_options,
                          "no plugs: give --config, --plug or --generate", make_simulator)


if __name__ == "__main__":
    sys.exit(main())
