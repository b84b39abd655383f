#!/usr/bin/env bash
# Go benchmarks of the receiver's hot path, side by side, for a shared
# machine: each test binary is built once, then the variants are run in
# alternation (arena, baseline, arena, baseline, ...) ROUNDS times, and the
# medians and their ratio are printed. The Go benchmark figures of
# docs/benchmarks.md come from here.
#
#   scripts/bench/go-bench.sh
#
#   1. internal/batch BenchmarkDecodePath: frames in memory -> decode.Reader
#      -> line.Assembler -> batch builder, 100-byte lines, one core (-cpu 1);
#      "arena" is batch.Builder, "baseline" the builder before the arena
#      (internal/batch/baseline_test.go).
#   2. internal/batch BenchmarkAppend: the builder alone, both variants.
#   3. receiver BenchmarkReceiverFakeDaemon: the whole receiver against
#      internal/testing/fakedocker over a unix socket (100,000 lines an op).
#   4. internal/multiline BenchmarkPipeline: the decode path of 1. with
#      multiline grouping off, by line_start_pattern and auto (-cpu 1), and
#      receiver BenchmarkReceiverMultiline: the whole receiver in the three
#      modes in turn on one backlog (MULTILINE=0 skips both).
#
# Environment: ROUNDS=6, BENCHTIME=2s (1 and 2), FAKE_OPS=3 (3, ops a round),
# PROFILE_DIR (if set, CPU profiles of one extra run of each are written there).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
ROUNDS="${ROUNDS:-6}"
BENCHTIME="${BENCHTIME:-2s}"
FAKE_OPS="${FAKE_OPS:-3}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/dlr-gobench.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

echo "==> building test binaries" >&2
go test -c -o "$TMP/batch.test" ./internal/batch
go test -c -o "$TMP/receiver.test" ./receiver
go test -c -o "$TMP/multiline.test" ./internal/multiline

OUT="$TMP/out.txt"
for r in $(seq 1 "$ROUNDS"); do
  echo "==> round $r/$ROUNDS" >&2
  for v in arena baseline; do
    "$TMP/batch.test" -test.run '^$' -test.bench "^BenchmarkDecodePath/$v\$" -test.cpu 1 \
      -test.benchtime "$BENCHTIME" -test.benchmem | grep '^Benchmark' >>"$OUT"
    "$TMP/batch.test" -test.run '^$' -test.bench "^BenchmarkAppend/$v\$" -test.cpu 1 \
      -test.benchtime "$BENCHTIME" -test.benchmem | grep '^Benchmark' >>"$OUT"
  done
  (cd receiver && "$TMP/receiver.test" -test.run '^$' -test.bench '^BenchmarkReceiverFakeDaemon$' \
    -test.benchtime "${FAKE_OPS}x") | grep '^Benchmark' >>"$OUT"
  if [[ "${MULTILINE:-1}" != 0 ]]; then
    for v in off pattern auto; do
      (cd internal/multiline && "$TMP/multiline.test" -test.run '^$' -test.bench "^BenchmarkPipeline/$v\$" -test.cpu 1 \
        -test.benchtime "$BENCHTIME" -test.benchmem) | grep '^Benchmark' >>"$OUT"
    done
    (cd receiver && "$TMP/receiver.test" -test.run '^$' -test.bench '^BenchmarkReceiverMultiline$' \
      -test.benchtime "${FAKE_OPS}x") | grep '^Benchmark' >>"$OUT"
  fi
done

if [[ -n "${PROFILE_DIR:-}" ]]; then
  mkdir -p "$PROFILE_DIR"
  echo "==> profiles into $PROFILE_DIR" >&2
  "$TMP/batch.test" -test.run '^$' -test.bench '^BenchmarkDecodePath/arena$' -test.cpu 1 \
    -test.benchtime 5s -test.cpuprofile "$PROFILE_DIR/decodepath.cpu" >/dev/null
  (cd receiver && "$TMP/receiver.test" -test.run '^$' -test.bench '^BenchmarkReceiverFakeDaemon$' \
    -test.benchtime 10x -test.cpuprofile "$PROFILE_DIR/receiver-fake.cpu") >/dev/null
  cp "$TMP/batch.test" "$TMP/receiver.test" "$PROFILE_DIR/"
fi

echo
echo "All runs:"
sed 's/^/    /' "$OUT"
echo
# Medians per benchmark name and metric: each line is "name N v1 unit1 v2 unit2 ...".
awk '
  { name = $1; sub(/-[0-9]+$/, "", name); names[name] = 1
    for (i = 3; i < NF; i += 2) { k = name SUBSEP $(i + 1); n[k]++; v[k, n[k]] = $i; units[name, $(i + 1)] = 1 } }
  function median(k,   m, i, j, t, a) {
    m = n[k]; for (i = 1; i <= m; i++) a[i] = v[k, i] + 0
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
  }
  END {
    print "Medians (" ROUNDS " rounds):"
    for (name in names) {
      line = sprintf("  %-36s", name)
      for (ku in units) { split(ku, p, SUBSEP); if (p[1] == name) { med[name, p[2]] = median(name SUBSEP p[2]); line = line sprintf("  %s %s", med[name, p[2]], p[2]) } }
      print line
    }
    print ""
    print "Ratios, arena / baseline (medians):"
    for (b in names) if (b ~ /\/arena$/) {
      base = b; sub(/\/arena$/, "/baseline", base)
      if (!(base in names)) continue
      printf "  %-28s ns/op %.3f", b, med[b, "ns/op"] / med[base, "ns/op"]
      if ((b, "allocs/op") in med) printf "  allocs/op %.2f -> %.2f", med[base, "allocs/op"], med[b, "allocs/op"]
      if ((b, "lines/s") in med) printf "  lines/s %.0f vs %.0f", med[b, "lines/s"], med[base, "lines/s"]
      printf "\n"
    }
    if ("BenchmarkPipeline/off" in names) {
      print ""
      print "Ratios against multiline off, BenchmarkPipeline (medians of ns/op):"
      for (pv in names) if (pv ~ /^BenchmarkPipeline\// && pv != "BenchmarkPipeline/off")
        printf "  %-28s %.3f\n", pv, med[pv, "ns/op"] / med["BenchmarkPipeline/off", "ns/op"]
    }
  }' ROUNDS="$ROUNDS" "$OUT"
