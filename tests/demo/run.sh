#!/bin/bash
# "See it work": a private MQTT broker, three simulated Xiaomi plugs and cloudless between them,
# all on this machine's loopback (127.0.0.0/8) — no real device, no network traffic leaves the host.
#
#   tests/demo/run.sh                 # runs DEMO_SECONDS (default 30) then cleans up
#   DEMO_SECONDS=120 tests/demo/run.sh
#   CLOUDLESS_BIN=/path/to/cloudless tests/demo/run.sh
#
# It starts mosquitto on a free port, the plug simulator (tests/sim/miio_plug_sim.py) with a
# chuangmi.plug.v3 (desk_plug), a chuangmi.plug.212a01 (tv_plug) and a cuco.plug.v3 (kettle_plug) on
# 127.0.0.2-4, writes a config to a temporary directory, runs `cloudless run`, and shows the MQTT
# traffic with mosquitto_sub. Everything is stopped on exit or Ctrl-C.
# Needs: mosquitto, mosquitto-clients, python3-miio (Debian's /usr/bin/python3).
set -euo pipefail

DEMO_SECONDS=${DEMO_SECONDS:-30}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CLOUDLESS_BIN=${CLOUDLESS_BIN:-$REPO/build/daemon/cloudless}
PY=/usr/bin/python3
SIM="$REPO/tests/sim/miio_plug_sim.py"

die() { echo "demo: $*" >&2; exit 1; }
[[ $DEMO_SECONDS =~ ^[0-9]+$ ]] || die "DEMO_SECONDS must be a whole number of seconds"
[[ -x $CLOUDLESS_BIN ]] || die "no cloudless binary at $CLOUDLESS_BIN (build it: cmake -B build -G Ninja && ninja -C build, or set CLOUDLESS_BIN)"
[[ -x /usr/sbin/mosquitto ]] || die "mosquitto is not installed (apt-get install mosquitto)"
command -v mosquitto_sub >/dev/null || die "mosquitto_sub is not installed (apt-get install mosquitto-clients)"
"$PY" -c 'import miio' 2>/dev/null || die "python3-miio is not installed for $PY (apt-get install python3-miio)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cloudless-demo.XXXXXX")
BROKER_PID="" SIM_PID="" DAEMON_PID="" SUB_PID=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for pid in "$SUB_PID" "$DAEMON_PID" "$SIM_PID" "$BROKER_PID"; do
    [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "$SUB_PID" "$DAEMON_PID" "$SIM_PID" "$BROKER_PID"; do
    [[ -z $pid ]] && continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ $status -ne 0 && -d $WORK ]]; then
    echo "demo: something failed; logs:" >&2
    for f in "$WORK"/*.log; do [[ -s $f ]] && { echo "== $f" >&2; tail -n 20 "$f" >&2; }; done
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- a free loopback port for the broker
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cat > "$WORK/mosquitto.conf" <<EOF
listener $PORT 127.0.0.1
allow_anonymous true
persistence false
log_dest stderr
EOF
/usr/sbin/mosquitto -c "$WORK/mosquitto.conf" 2>"$WORK/mosquitto.log" &
BROKER_PID=$!
for _ in $(seq 100); do
  "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break
  kill -0 "$BROKER_PID" 2>/dev/null || die "mosquitto failed to start"
  sleep 0.1
done

# --- three plugs; port 0 lets the simulator pick free UDP ports (they go into the config below)
TOKEN_DESK=00112233445566778899aabbccddeeff
TOKEN_TV=112233445566778899aabbccddeeff00
TOKEN_KETTLE=2233445566778899aabbccddeeff0011
cat > "$WORK/plugs.json" <<EOF
{"plugs": [
 {"name": "desk_plug", "address": "127.0.0.2", "port": 0, "model": "chuangmi.plug.v3",
  "token": "$TOKEN_DESK", "did": 71200001, "state": {"load_w": 35.0, "temperature": 36}},
 {"name": "tv_plug", "address": "127.0.0.3", "port": 0, "model": "chuangmi.plug.212a01",
  "token": "$TOKEN_TV", "did": 71200002, "state": {"load_w": 82.5, "energy_wh": 15230, "voltage": 229}},
 {"name": "kettle_plug", "address": "127.0.0.4", "port": 0, "model": "cuco.plug.v3",
  "token": "$TOKEN_KETTLE", "did": 71200003, "state": {"power": false, "load_w": 2000, "energy_wh": 4100}}
]}
EOF
mkfifo "$WORK/sim.ready"
"$PY" "$SIM" --config "$WORK/plugs.json" --max-runtime $((DEMO_SECONDS + 120)) \
  >"$WORK/sim.ready" 2>"$WORK/simulator.log" &
SIM_PID=$!
exec 3<"$WORK/sim.ready"
READY=""
read -r -t 10 READY <&3 || die "the simulator did not start"
port_of() { "$PY" -c 'import json,sys; r=json.loads(sys.argv[1]); print([p["port"] for p in r["plugs"] if p["name"]==sys.argv[2]][0])' "$READY" "$1"; }
P_DESK=$(port_of desk_plug)
P_TV=$(port_of tv_plug)
P_KETTLE=$(port_of kettle_plug)

mkdir -p "$WORK/state"
cat > "$WORK/config.yaml" <<EOF
mqtt:
  server: mqtt://127.0.0.1:$PORT
  client_id: cloudless_demo
  base_topic: cloudless
  discovery_prefix: homeassistant
state_dir: $WORK/state
log_level: info
devices:
  desk_plug:
    protocol: miio
    host: 127.0.0.2
    port: $P_DESK
    token: "$TOKEN_DESK"
    model: chuangmi.plug.v3
    poll_interval: 2s
  tv_plug:
    protocol: miio
    host: 127.0.0.3
    port: $P_TV
    token: "$TOKEN_TV"
    model: chuangmi.plug.212a01
    poll_interval: 2s
  kettle_plug:
    protocol: miio
    host: 127.0.0.4
    port: $P_KETTLE
    token: "$TOKEN_KETTLE"
    model: cuco.plug.v3
    poll_interval: 2s
EOF

echo "== broker 127.0.0.1:$PORT; plugs desk_plug (v3) 127.0.0.2:$P_DESK, tv_plug (212a01) 127.0.0.3:$P_TV, kettle_plug (cuco) 127.0.0.4:$P_KETTLE"
echo "== config: $WORK/config.yaml (removed on exit); daemon log: $WORK/cloudless.log"
"$CLOUDLESS_BIN" run --config "$WORK/config.yaml" >"$WORK/cloudless.log" 2>&1 &
DAEMON_PID=$!

cat <<EOF
== showing MQTT traffic for $DEMO_SECONDS s (Ctrl-C stops everything). In another terminal, try:
   mosquitto_pub -h 127.0.0.1 -p $PORT -t cloudless/desk_plug/set -m '{"state":"OFF"}'
   mosquitto_pub -h 127.0.0.1 -p $PORT -t cloudless/kettle_plug/set/state -m ON
   mosquitto_pub -h 127.0.0.1 -p $PORT -t cloudless/tv_plug/get -m '{}'
   mosquitto_sub -h 127.0.0.1 -p $PORT -v -t 'cloudless/#'

EOF
mosquitto_sub -h 127.0.0.1 -p "$PORT" -v -t 'cloudless/#' -t 'homeassistant/#' &
SUB_PID=$!

END=$((SECONDS + DEMO_SECONDS))
while (( SECONDS < END )); do
  if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
    wait "$DAEMON_PID" && rc=0 || rc=$?
    DAEMON_PID=""
    echo "demo: cloudless exited early (status $rc); its log:" >&2
    cat "$WORK/cloudless.log" >&2
    exit 1
  fi
  sleep 0.5
done
echo
echo "== $DEMO_SECONDS s are up; stopping (cloudless publishes bridge/state offline on SIGTERM)."
kill -TERM "$DAEMON_PID"
for _ in $(seq 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
sleep 0.5
