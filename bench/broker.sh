#!/usr/bin/env bash
# The broker against mosquitto in one run on this machine (issue 8): fan-out (1 publisher, 10
# subscribers) and fan-in (10 publishers, 1 subscriber) at QoS 0 and 1 as fast as they go, p99
# latency at half of mosquitto's fan-out peak, process start to first CONNACK, and a 256 MB
# payload pub -> broker -> sub. Each figure RUNS times (default 3): the machine is noisy.
# The load generator is bench/mqload.c (one thread, raw sockets, one write per PUBLISH); it
# shares the machine, so each broker's CPU time is printed beside its rate.
#
# Usage: bench/broker.sh [RUNS]
# Needs mosquitto (/usr/sbin/mosquitto), cc and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
cargo build --quiet --release --bin skeeter
skeeter="$PWD/target/release/skeeter"
work="$(mktemp -d)"
chmod 755 "$work"
trap 'kill $mosquitto_pid $skeeter_pid 2>/dev/null || true; rm -rf "$work"' EXIT
cc -O2 -o "$work/mqload" bench/mqload.c
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

mosquitto_port="$(free_port)"
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n' "$mosquitto_port" \
  > "$work/mosquitto.conf"
chmod 644 "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" 2>/dev/null &
mosquitto_pid=$!
skeeter_port="$(free_port)"
XDG_CONFIG_HOME=/nonexistent "$skeeter" broker --port "$skeeter_port" -q --sys-interval 0 >/dev/null &
skeeter_pid=$!
sleep 0.5

load() { # name port pid mqload-args...
  local name=$1 port=$2 pid=$3; shift 3
  for _ in $(seq "$runs"); do
    printf '%-9s ' "$name"
    "$work/mqload" -p "$port" -b "$pid" "$@" | sed -E 's/size=64 //; s/delivered [0-9]+\/[0-9]+ in/in/'
  done
}
for shape in "-s 10 -P 1 -n 100000" "-s 1 -P 10 -n 100000"; do
  for qos in 0 1; do
    load mosquitto "$mosquitto_port" "$mosquitto_pid" $shape -q "$qos" -W
    load skeeter "$skeeter_port" "$skeeter_pid" $shape -q "$qos" -W
  done
done
# Latency at half of mosquitto's fan-out peak at that QoS (publishes per second, 10
# subscribers).
for qos in 0 1; do
  peak=$("$work/mqload" -p "$mosquitto_port" -s 10 -P 1 -n 50000 -q "$qos" -W |
    sed -E 's/.* = ([0-9]+) msg\/s.*/\1/')
  half=$((peak / 20))
  echo "QoS $qos: mosquitto's fan-out peak $peak deliveries/s; latency at $half publishes/s:"
  load mosquitto "$mosquitto_port" "$mosquitto_pid" -s 10 -P 1 -n $((half * 4)) -r "$half" -q "$qos" -W
  load skeeter "$skeeter_port" "$skeeter_pid" -s 10 -P 1 -n $((half * 4)) -r "$half" -q "$qos" -W
done

echo "start of 'skeeter broker --port 0' to the first CONNACK (20 starts per run):"
for _ in $(seq "$runs"); do
  python3 - "$skeeter" <<'PY'
import os, socket, statistics, subprocess, sys, time
times = []
for _ in range(20):
    start = time.perf_counter()
    broker = subprocess.Popen([sys.argv[1], "broker", "--port", "0", "-q"], stdout=subprocess.PIPE,
                              env=dict(os.environ, XDG_CONFIG_HOME="/nonexistent"))
    port = int(broker.stdout.readline().decode().rsplit(":", 1)[1])
    client = socket.create_connection(("127.0.0.1", port))
    client.sendall(bytes([0x10, 12]) + b"\x00\x04MQTT\x04\x02\x00\x3c\x00\x00")
    assert client.recv(4) == b"\x20\x02\x00\x00"
    times.append((time.perf_counter() - start) * 1000)
    client.close(); broker.terminate(); broker.wait()
print("  median %.2f ms, max %.2f ms" % (statistics.median(times), max(times)))
PY
done

echo "256 MB payload, pub -q 1 -f -> broker -> sub -C 1 > file (max RSS of each process):"
head -c 256000000 /dev/urandom > "$work/payload"
big() { # name broker-command...
  local name=$1; shift
  /usr/bin/time -v -o "$work/time-broker" "$@" >/dev/null 2>&1 &
  local broker=$!
  sleep 0.5
  /usr/bin/time -v -o "$work/time-sub" "$skeeter" sub -p "$big_port" -t big -C 1 > "$work/out" &
  local sub=$!
  sleep 0.3
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -v -o "$work/time-pub" "$skeeter" pub -p "$big_port" -t big -q 1 -f "$work/payload"
  wait "$sub"
  end=$(date +%s.%N)
  kill -INT "$(pgrep -P "$broker")" 2>/dev/null || true
  wait "$broker" || true
  cmp -s -n 256000000 "$work/payload" "$work/out" || echo "  the payload came out different"
  rss() { awk '/Maximum resident/ {printf "%.0f MB", $6 / 1024}' "$1"; }
  printf '  %-9s %.0f MB/s end to end; max RSS broker %s, pub %s, sub %s\n' "$name" \
    "$(echo "256 / ($end - $start)" | bc -l)" "$(rss "$work/time-broker")" \
    "$(rss "$work/time-pub")" "$(rss "$work/time-sub")"
  rm -f "$work/out"
}
for _ in $(seq "$runs"); do
  big_port="$(free_port)"
  big skeeter env XDG_CONFIG_HOME=/nonexistent "$skeeter" broker --port "$big_port" -q --sys-interval 0
  big_port="$(free_port)"
  printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n' "$big_port" \
    > "$work/big.conf"
  chmod 644 "$work/big.conf"
  big mosquitto mosquitto -c "$work/big.conf"
done
