#!/usr/bin/env bash
# The client-side figures of issue 8, skeeter next to mosquitto's clients in one run, against the
# same mosquitto broker (started here on a free port of 127.0.0.1, max_queued_messages 0 so that
# nothing is dropped for a slow subscriber), with a release build of skeeter:
#   1. one-shot `pub -q 1 -m hello`, process start to exit (mean of RUNS runs);
#   2. `pub -l` of LINES lines at QoS 0 and 1, each counted at a `skeeter sub` that must get them
#      all (mosquitto_pub is known to lose lines at QoS 1: the count says how many arrived);
#   3. `sub` receiving LINES messages into a pipe, fed by `skeeter pub -l`.
# Prints one line per figure and the ratio mosquitto / skeeter (above 1: skeeter is faster).
#
# Usage: bench/clients.sh [LINES] [RUNS]      (defaults 200000 and 100)
set -euo pipefail
cd "$(dirname "$0")/.."
lines="${1:-200000}"
runs="${2:-100}"
cargo build --quiet --release --bin skeeter
skeeter="$PWD/target/release/skeeter"
work="$(mktemp -d)"
chmod 755 "$work"
broker_pid=""
cleanup() {
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n' "$port" > "$work/mosquitto.conf"
chmod 644 "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
broker_pid=$!
for _ in $(seq 100); do
  if "$skeeter" pub -p "$port" -t bench/ready -n -q 1 2>/dev/null; then break; fi
  sleep 0.05
done
seq "$lines" > "$work/lines"

now() { date +%s.%N; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

# 1. One-shot publish.
oneshot() {
  local started ended
  started="$(now)"
  for _ in $(seq "$runs"); do "$@" > /dev/null; done
  ended="$(now)"
  python3 -c "print(f'{($ended - $started) / $runs * 1000:.2f}')"
}
ours="$(oneshot "$skeeter" pub -p "$port" -t bench/one -q 1 -m hello)"
theirs="$(oneshot mosquitto_pub -p "$port" -t bench/one -q 1 -m hello)"
echo "1. one-shot pub -q 1: skeeter ${ours} ms, mosquitto_pub ${theirs} ms, ratio $(ratio "$theirs" "$ours")"

# 2. pub -l into the broker, counted at a subscriber that must get every line.
pub_lines() {
  local qos="$1"; shift
  local topic="bench/lines/$RANDOM"
  "$skeeter" sub -p "$port" -t "$topic" -q "$qos" -C "$lines" -W 30 > "$work/got" 2>/dev/null &
  local sub=$!
  sleep 0.5
  local started ended
  started="$(now)"
  "$@" -p "$port" -t "$topic" -q "$qos" -l < "$work/lines"
  ended="$(now)"
  wait "$sub" || true
  local got
  got="$(wc -l < "$work/got")"
  python3 -c "print(f'{$ended - $started:.3f} {$got}')"
}
for qos in 0 1; do
  read -r ours ours_got < <(pub_lines "$qos" "$skeeter" pub)
  read -r theirs theirs_got < <(pub_lines "$qos" mosquitto_pub)
  echo "2. pub -l ${lines} lines, QoS ${qos}: skeeter ${ours} s (${ours_got} delivered), mosquitto_pub ${theirs} s (${theirs_got} delivered), rate ratio $(ratio "$theirs" "$ours")"
done

# 3. sub into a pipe, fed by skeeter pub -l at QoS 1.
sub_pipe() {
  local topic="bench/sub/$RANDOM"
  local started ended
  started="$(now)"
  "$@" -p "$port" -t "$topic" -q 1 -C "$lines" > "$work/piped" &
  local sub=$!
  sleep 0.5
  "$skeeter" pub -p "$port" -t "$topic" -q 1 -l < "$work/lines"
  wait "$sub"
  ended="$(now)"
  python3 -c "print(f'{$ended - $started - 0.5:.3f} $(wc -l < "$work/piped")')"
}
read -r ours ours_got < <(sub_pipe "$skeeter" sub)
read -r theirs theirs_got < <(sub_pipe mosquitto_sub)
echo "3. sub ${lines} messages into a pipe: skeeter ${ours} s (${ours_got}), mosquitto_sub ${theirs} s (${theirs_got}), ratio $(ratio "$theirs" "$ours")"
echo "machine: $(nproc) cores, $(uname -sr), $(mosquitto -h 2>&1 | head -1), $(date -u +%Y-%m-%dT%H:%MZ)"
