#!/usr/bin/python3
"""Holds the daemon's link to daemon/text_order.txt: the functions listed there must still exist, and must
sit side by side in the program.

Fails when fewer than half of the listed functions are found in the program (the list has gone stale:
regenerate it with bench/text_order.py), or when the ones found are spread out, occupying more than 1.5
times their own size (the linker did not apply the list: gold's --section-ordering-file was dropped, or
the list names sections the build no longer makes). Uses readelf, which reads any architecture's ELF, so
it checks cross builds too.

Usage: check_text_order.py ORDER_FILE PROGRAM
"""
import re
import subprocess
import sys

PREFIX = re.compile(r"^\.text\.(?:startup\.|unlikely\.|hot\.)?")
MIN_FOUND = 0.5
MAX_SPREAD = 1.5


def functions(program):
    """{symbol name: (address, size)} of the program's defined functions."""
    out = subprocess.run(["readelf", "-sW", program], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[3] == "FUNC" and fields[6] != "UND":
            found.setdefault(fields[7].split("@")[0], (int(fields[1], 16), int(fields[2])))
    return found


def main(order_file, program):
    listed = [PREFIX.sub("", line.strip()) for line in open(order_file) if line.strip() and line[0] != "#"]
    symbols = functions(program)
    placed = {symbols[name] for name in listed if name in symbols and symbols[name][1] > 0}
    found = sum(1 for name in listed if name in symbols)
    if not listed or found < MIN_FOUND * len(listed):
        print("%s: %d of %d listed functions are in %s: the list is stale, regenerate it with "
              "bench/text_order.py" % (order_file, found, len(listed), program))
        return 1
    size = sum(length for _, length in placed)
    span = max(address + length for address, length in placed) - min(address for address, _ in placed)
    print("%d of %d listed functions found; they take %d bytes over a span of %d (%.2fx)"
          % (found, len(listed), size, span, span / size))
    if span > MAX_SPREAD * size:
        print("the listed functions are spread over %.2f times their size (at most %.1f): the link did not "
              "order them (daemon/CMakeLists.txt, --section-ordering-file)" % (span / size, MAX_SPREAD))
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
