#!/usr/bin/python3
"""Writes daemon/text_order.txt: the daemon's functions in the order the linker should place them.

Why: the kernel maps a program's code 64 kB at a time around each page the program touches (fault-around),
so a daemon whose few hundred running functions are spread over 2.8 MB of .text keeps most of it resident.
Placed side by side (gold's --section-ordering-file, daemon/CMakeLists.txt), the same functions fill a
third as many 64 kB windows: 0.7 MB less resident with 50 plugs (docs/build.md §9).

How: bench/mixed_bench.py's run with the daemon under callgrind, once per family (plugs, V3 air
conditioners, encrypted BLE sensors; all on loopback and a private D-Bus), so that a home with one family
touches one block: first the functions every run ran (start-up, MQTT, the device model), then those only
the plugs ran, then the air conditioners', then the sensors'; each block most instructions first. A
function is written as the input section -ffunction-sections gives it (".text.<mangled name>", or
.text.startup./.text.unlikely./.text.hot. where GCC put it). Names that match no section of this build's
objects (yaml-cpp's archive is not compiled per function) are left out. Needs valgrind (apt-get install
valgrind); the build must be the default RelWithDebInfo one.

Regenerate after large changes to the poll path; an entry that no longer matches is ignored by the
linker, and tests/tools/check_text_order.py fails once too few match.

Usage: bench/text_order.py [--build build] [--plugs 10] [--acs 4] [--sensors 10] [--seconds 10] [--output F]
"""
import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import mixed_bench  # noqa: E402

PREFIXES = (".text.", ".text.startup.", ".text.unlikely.", ".text.hot.")
HEADER = """\
# The daemon's functions as input sections for gold's --section-ordering-file (daemon/CMakeLists.txt):
# those every family ran, then the plugs' (%d), the air conditioners' (%d), the BLE sensors' (%d), each
# block most instructions first (callgrind, %g s a family). Written by bench/text_order.py; regenerate it
# there, never by hand.
"""


def callgrind_self_cost(path, binary):
    """{function name: instructions executed in it} for the functions of `binary` in a callgrind file."""
    names = {"ob": {}, "fn": {}}

    def name(kind, value):  # "(12) name" defines id 12, "(12)" refers to it
        match = re.match(r"\((\d+)\)\s*(.*)", value)
        if not match:
            return value
        if match.group(2):
            names[kind][match.group(1)] = match.group(2)
        return names[kind][match.group(1)]

    cost = collections.Counter()
    current_ob = current_fn = None
    call_line_next = False
    for line in Path(path).read_text().splitlines():
        key, _, value = line.partition("=")
        if key in ("ob", "cob"):
            value = name("ob", value)
            current_ob = value if key == "ob" else current_ob
        elif key in ("fn", "cfn"):
            value = name("fn", value)
            current_fn = value if key == "fn" else current_fn
        elif key == "calls":
            call_line_next = True  # the next cost line is the callee's inclusive cost, not ours
        elif line[:1] in "0123456789+-*" and line:
            if call_line_next:
                call_line_next = False
            elif current_ob == binary:
                fields = line.split()
                cost[re.sub(r"'\d+$", "", current_fn)] += int(fields[-1]) if len(fields) > 1 else 0
    return cost


def object_sections(build):
    """Every .text.* input section name in the product's object files under `build`."""
    objects = [str(p) for part in ("daemon", "protocols", "config") for p in (build / part).rglob("*.o")]
    sections = set()
    for start in range(0, len(objects), 200):
        out = subprocess.run(["readelf", "-SW", *objects[start:start + 200]], capture_output=True, text=True).stdout
        sections.update(re.findall(r"\s(\.text\.\S+)", out))
    return sections


def section_names(function, sections):
    """The input sections holding `function`: a complete-object constructor or destructor (C1/D1) is an
    alias of the base-object one (C2/D2), which names the section."""
    variants = {function, re.sub(r"C1(E|I)", r"C2\1", function), re.sub(r"D1(E|v)", r"D2\1", function)}
    return [prefix + v for v in sorted(variants) for prefix in PREFIXES if prefix + v in sections]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build", type=Path)
    parser.add_argument("--plugs", type=int, default=10)
    parser.add_argument("--acs", type=int, default=4)
    parser.add_argument("--sensors", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--output", type=Path, default=ROOT / "daemon" / "text_order.txt")
    args = parser.parse_args()
    valgrind = shutil.which("valgrind")
    if not valgrind:
        sys.exit("text_order.py: valgrind is not installed (apt-get install valgrind)")
    build = args.build.resolve()
    binary = build / "daemon" / "cloudless"
    families = {"plugs": (args.plugs, 0, 0), "air conditioners": (0, args.acs, 0), "sensors": (0, 0, args.sensors)}
    costs = {}
    with tempfile.TemporaryDirectory(prefix="cloudless-text-order-") as work:
        for family, counts in families.items():
            profile = Path(work) / ("callgrind-%d.out" % len(costs))
            wrapper = Path(work) / "cloudless"
            wrapper.write_text("#!/bin/sh\nexec %s --tool=callgrind --demangle=no --callgrind-out-file=%s %s \"$@\"\n"
                               % (valgrind, profile, binary))
            wrapper.chmod(0o755)
            report = mixed_bench.run(wrapper, *counts, args.seconds)
            costs[family] = callgrind_self_cost(profile, str(binary))
            print("%s: %d functions ran, %s" % (family, len(costs[family]), report["state_messages"]))
    everywhere = collections.Counter()
    for function in set.intersection(*(set(cost) for cost in costs.values())):
        everywhere[function] = sum(cost[function] for cost in costs.values())
    sections = object_sections(build)
    order, seen = [], set()
    for block in (everywhere, *costs.values()):
        for function, _ in block.most_common():
            for section in section_names(function, sections):
                if section not in seen:
                    seen.add(section)
                    order.append(section)
    args.output.write_text(HEADER % (args.plugs, args.acs, args.sensors, args.seconds) + "\n".join(order) + "\n")
    ran = set().union(*(set(cost) for cost in costs.values()))
    print("%s: %d sections from %d functions that ran (%d of them without a section of their own)"
          % (args.output, len(order), len(ran), sum(1 for f in ran if not section_names(f, sections))))

if __name__ == "__main__":
    main()
