#!/usr/bin/python3
"""Holds every #include of the product to the layers the build declares.

A layer is a library (or the executable) registered with cloudless_layer() in CMake; the build writes
them to <build>/layers.json: each one's folder, sources and what it links. A file may include:
  - a header of its own layer, or of a layer it links (directly or through those layers);
  - a third-party header (boost/, openssl/, mqtt/, sdbus-c++/, ...) only if its layer links that package;
  - the C and C++ standard library and the system's headers, always.
A header belongs to the layer that compiles the .cpp beside it, or that lists it among its sources.
Every .cpp and .h under protocols/, config/ and daemon/ must belong to exactly one layer.

So a codec that includes Boost.Asio, a session of one protocol that reaches into another, or the MQTT
layer including a protocol's header fails here, with the file, the line and the missing link.

Usage: check_layers.py SOURCE_DIR BUILD_DIR/layers.json
       check_layers.py --self-test        (plants each kind of violation in a scratch tree)
"""
import json
import re
import sys
import tempfile
from pathlib import Path

# Third-party include prefixes and the imported targets that provide them.
PACKAGES = {
    "boost/": {"Boost::headers"},
    "openssl/": {"OpenSSL::Crypto", "OpenSSL::SSL"},
    "nlohmann/": {"nlohmann_json::nlohmann_json"},
    "mqtt/": {"PahoMqttCpp::paho-mqttpp3"},
    "MQTTAsync.h": {"PahoMqttCpp::paho-mqttpp3"},
    "spdlog/": {"cloudless_log"},  # spdlog and fmt, compiled in the log layer
    "fmt/": {"cloudless_log"},
    "CLI/": {"CLI11::CLI11"},
    "systemd/": {"PkgConfig::SYSTEMD"},
    "sdbus-c++/": {"SDBusCpp::sdbus-c++"},
    "yaml-cpp/": {"yaml-cpp-static"},
    "catch2/": set(),  # tests only
}
CHECKED_ROOTS = ("protocols/", "config/", "daemon/")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def load_layers(source_dir, layers_file):
    raw = json.loads(Path(layers_file).read_text())
    layers, owner, problems = {}, {}, []
    for name, entry in raw.items():
        base = Path(entry["dir"])
        files = set()
        for source in filter(None, entry["sources"].split("|")):
            path = (base / source).resolve()
            files.add(path)
            if path.suffix == ".cpp" and path.with_suffix(".h").exists():
                files.add(path.with_suffix(".h"))
        links = set(filter(None, entry["links"].split("|")))
        layers[name] = {"files": files, "links": links}
        for path in files:
            rel = path.relative_to(source_dir).as_posix() if path.is_relative_to(source_dir) else str(path)
            if rel in owner and owner[rel] != name:
                problems.append("%s belongs to two layers: %s and %s" % (rel, owner[rel], name))
            owner[rel] = name
    return layers, owner, problems


def closure(layers, name):
    """The layer itself, every layer it links through other layers, and every package named on the way."""
    seen, waiting = set(), [name]
    while waiting:
        current = waiting.pop()
        if current in seen:
            continue
        seen.add(current)
        waiting.extend(layers[current]["links"] if current in layers else [])
    return seen


def check(source_dir, layers_file):
    source_dir = Path(source_dir).resolve()
    layers, owner, problems = load_layers(source_dir, layers_file)
    product = sorted(p for root in CHECKED_ROOTS for p in (source_dir / root).rglob("*")
                     if p.suffix in (".cpp", ".h") and p.is_file())
    for path in product:
        rel = path.relative_to(source_dir).as_posix()
        layer = owner.get(rel)
        if layer is None:
            problems.append("%s belongs to no layer: list it (or its .cpp) in a library's sources" % rel)
            continue
        reach = closure(layers, layer)
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            match = INCLUDE.match(line)
            if not match:
                continue
            kind, target = match.groups()
            if kind == '"':
                if not (source_dir / target).exists():
                    continue  # a system header spelt with quotes, or a generated one
                other = owner.get(target)
                if other is None:
                    problems.append("%s:%d includes %s, which no layer of the product owns" % (rel, number, target))
                elif other not in reach:
                    problems.append("%s:%d includes %s (layer %s), which %s does not link" %
                                    (rel, number, target, other, layer))
                continue
            for prefix, providers in PACKAGES.items():
                if target.startswith(prefix) and not providers & reach:
                    problems.append("%s:%d includes <%s>, but %s links none of %s" %
                                    (rel, number, target, layer, ", ".join(sorted(providers)) or "(tests only)"))
    return problems


def self_test():
    """Each kind of violation, planted in a scratch tree, must be reported; the clean tree must pass."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)

        def write(rel, text):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)

        write("protocols/p/codec.h", "#include <string>\n")
        write("protocols/p/codec.cpp", '#include "protocols/p/codec.h"\n#include <nlohmann/json.hpp>\n')
        write("protocols/p/session.h", '#include "protocols/p/codec.h"\n#include <boost/asio/io_context.hpp>\n')
        write("protocols/p/session.cpp", '#include "protocols/p/session.h"\n')
        write("daemon/mqtt/bridge.cpp", '#include <mqtt/async_client.h>\n')
        layers = {
            "codec": {"dir": str(root / "protocols/p"), "sources": "codec.cpp", "links": "nlohmann_json::nlohmann_json"},
            "session": {"dir": str(root / "protocols/p"), "sources": "session.cpp", "links": "codec|Boost::headers"},
            "mqtt": {"dir": str(root / "daemon"), "sources": "mqtt/bridge.cpp", "links": "PahoMqttCpp::paho-mqttpp3"},
        }
        (root / "layers.json").write_text(json.dumps(layers))
        failures = []
        if check(root, root / "layers.json"):
            failures.append("the clean tree was not clean: %s" % check(root, root / "layers.json"))

        plants = {
            "a codec including Boost.Asio": ("protocols/p/codec.cpp", "#include <boost/asio/post.hpp>\n", "links none of Boost::headers"),
            "a codec including its session": ("protocols/p/codec.cpp", '#include "protocols/p/session.h"\n', "which codec does not link"),
            "MQTT including a protocol": ("daemon/mqtt/bridge.cpp", '#include "protocols/p/codec.h"\n', "which mqtt does not link"),
            "a file in no layer": ("daemon/stray.h", "#include <string>\n", "belongs to no layer"),
        }
        for what, (rel, line, expected) in plants.items():
            path = root / rel
            before = path.read_text() if path.exists() else None
            write(rel, (before or "") + line)
            found = check(root, root / "layers.json")
            if not any(expected in problem for problem in found):
                failures.append("%s was not reported (got %s)" % (what, found))
            if before is None:
                path.unlink()
            else:
                path.write_text(before)
    for failure in failures:
        print("self-test: " + failure)
    print("self-test: %s" % ("FAILED" if failures else "every planted violation was reported"))
    return 1 if failures else 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    problems = check(sys.argv[1], sys.argv[2])
    for problem in problems:
        print(problem)
    print("%d layer problem(s)" % len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
