#!/usr/bin/env bash
# Idle connections held by the broker and the memory each costs: a release build of
# `skeeter broker` next to mosquitto, with the same raw-TCP load generator as
# tests/broker_load.rs (which it runs). Prints the figures for BENCHMARKS.md.
#
# Usage: bench/connections.sh [CONNECTIONS]     (default 10000)
# Needs mosquitto (/usr/sbin/mosquitto) and a hard open-file limit above CONNECTIONS (the soft
# limit is raised to it by the test).
set -euo pipefail
cd "$(dirname "$0")/.."
connections="${1:-10000}"
cargo build --quiet --release --bin skeeter
SKEETER_LOAD_CONNECTIONS="$connections" SKEETER_LOAD_BROKER="$PWD/target/release/skeeter" \
  cargo test --quiet --test broker_load -- --nocapture 2>&1 |
  grep -E '^(open file limit|skeeter|mosquitto|RSS per|opening|skipped:)'
