#!/usr/bin/env bash
# skeeter against mosquitto 2.0 in one run on loopback: the eight figures of BENCHMARKS.md,
# with ratios and targets (bench/compare.py says how each is measured).
#
# Usage: bench/compare.sh [--only 1,2,...] [--lines N] [--runs N] [--duration SECS]
#                         [--connections N] [--payload BYTES]
# Needs mosquitto and mosquitto-clients (Debian), python3; builds skeeter in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release --bin skeeter
exec python3 bench/compare.py "$@"
