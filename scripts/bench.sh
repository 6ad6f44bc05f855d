#!/usr/bin/env bash
# Runs tributary's benchmarks (`npm run bench`): each starts its own throwaway servers, measures
# tributary beside its anchors in the same run, prints a table and writes bench/results/<name>.json.
#
#   bash scripts/bench.sh              all benchmarks
#   bash scripts/bench.sh stream       only bench/stream.ts (names: copy mysql-pg-copy pg-copy stream checksum big-transaction etcd etcd-ab lag takeover relay)
#   BENCH_PROFILE=1 bash scripts/bench.sh   also profile tributary (node --cpu-prof) and print its top self time
#
# The figures are only meaningful on an otherwise idle machine: each benchmark warns when the load
# average says other processes are running.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh

# Peak RSS comes from GNU time (/usr/bin/time -v), which is not the shell keyword `time`.
if [ ! -x /usr/bin/time ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "bench: /usr/bin/time missing; run: sudo apt-get install -y time" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
fi

# bench/mysql-pg-copy.ts measures pgloader (MySQL → PostgreSQL) beside tributary.
if ! command -v pgloader >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "bench: pgloader missing; run: sudo apt-get install -y pgloader" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgloader >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgloader >/dev/null; }
fi

mkdir -p bench/results
# Build once (into bench/results/build, never dist/); each benchmark then finds it up to date.
node --import tsx -e "import('./bench/lib/harness.ts').then((h) => h.buildTributary())"

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(copy mysql-pg-copy pg-copy stream checksum big-transaction etcd etcd-ab lag takeover relay)
failed=()
for name in "${names[@]}"; do
  echo
  echo "=== bench/${name}.ts"
  if ! node --import tsx "bench/${name}.ts"; then
    failed+=("$name")
  fi
done
echo
echo "results: bench/results/*.json"
if [ ${#failed[@]} -gt 0 ]; then
  echo "bench: failed: ${failed[*]}" >&2
  exit 1
fi
