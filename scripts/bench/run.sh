#!/usr/bin/env bash
# End-to-end benchmark of the receiver against the real Docker Engine
# (`make bench` runs it after the Go benchmarks). It needs root (to read
# the json-file logs and /proc of dockerd), Go, the docker CLI, curl and
# /usr/bin/time; no image is pulled (the loggen image is built FROM scratch).
#
#   scripts/bench/run.sh
#
# What it does:
#   1. builds ./bin/otelcol-dockerlogs (make build) and the comparison
#      collector ./bin/otelcol-filelog-bench from
#      scripts/bench/builder-config-bench.yaml (same ocb + `go mod tidy -e`
#      recipe, scripts/build-collector.sh), and the loggen image;
#   2. creates a container whose json-file log holds BENCH_LINES short lines
#      (~74 bytes each with the timestamp, as `docker logs -t` prints them);
#   3. measures, BENCH_RUNS times each, interleaved (a b c a b c ...):
#      (a) `docker logs -t <id> > /dev/null`: CLI CPU (its rusage), dockerd
#          CPU, wall;
#      (b) otelcol-dockerlogs (scripts/bench/dockerlogs.yaml: start_at
#          beginning, nop exporter) until its own
#          otelcol_receiver_accepted_log_records reaches BENCH_LINES
#          (scraped from its Prometheus endpoint): collector CPU
#          (/proc/<pid>/stat utime+stime), dockerd CPU, wall;
#      (b) ours_storage (BENCH_STORAGE=1): the same with the receiver's
#          `storage` on a file_storage extension
#          (scripts/bench/dockerlogs-storage.yaml), in a fresh, empty
#          directory each run; the run fails unless the receiver's database
#          there holds the backlog container's position afterwards;
#      (c) otelcol-filelog-bench (scripts/bench/filelog.yaml: filelog with
#          the container parser on the same json-file) likewise;
#      and prints a table of medians and ratios;
#   4. (d) reopen cost: time to first byte of GET /containers/{id}/logs with
#      since=<last timestamp>, with and without tail=1000, on a container
#      with a ~BENCH_REOPEN_MIB MiB json-file and one with ~1 MiB; then the
#      receiver on the big one, BENCH_REOPEN_SECS each: quiet from start_at
#      end, and reading the backlog with rotation_interval 5m and 2s;
#   5. (e) BENCH_QUIET_N quiet containers read with max_concurrent_streams
#      BENCH_QUIET_CAP: collector CPU% and RSS over BENCH_QUIET_SECS;
#   6. (f) steady load: BENCH_STEADY_N containers writing
#      BENCH_STEADY_RATE lines/s in total (~100-byte lines); otelcol-dockerlogs
#      and otelcol-filelog-bench (on the same json-files), both from start_at
#      end, in alternation BENCH_RUNS times each: after BENCH_STEADY_WARM s
#      of warm-up, over BENCH_STEADY_SECS: collector CPU% and RSS (VmRSS
#      sampled every second, at the end, and VmHWM), dockerd CPU%, lines
#      delivered/s (otelcol_receiver_accepted_log_records) against lines
#      written/s (counted in the json-files); medians, ratios and the target
#      check (receiver <= 15 % of a core, <= 100 MiB).
#
# Every container it creates carries dockerlogsrotating.test=1, the
# dockertest owner label of this script (so that a concurrent test's
# dockertest.Sweep leaves them alone while this script runs, and removes
# them if it was killed) and dockerlogsrotating.bench=<run id>; they are
# removed on exit, also on failure or Ctrl-C. Containers of other runs or
# tests are never touched.
#
# CPU figures are the processes' own accounting (clock ticks, 10 ms). dockerd
# is shared with whatever else runs on the machine: its idle rate is
# measured before the runs and printed with the results.
#
# Environment:
#   BENCH_BACKLOG=1          run (a) (b) (c)
#   BENCH_LINES=1000000      lines of the backlog container
#   BENCH_MAX_IDLE=1         the backlog guard: the script fails when the
#                            receiver delivered nothing for longer than this
#                            (s) while lines waited, in any run of (b)
#   BENCH_MAX_WALL_RATIO=2   ... or when a run of (b) took longer than this
#                            times the CLI's run just before it (a throttled
#                            reader is never idle long, but slow)
#   BENCH_STORAGE=1          also run (b) ours_storage, right after (b) in
#                            each run (about as long as (b))
#   BENCH_RUNS=3             runs of each of (a) (b) (c), and windows of each
#                            collector in (f); medians are reported
#   BENCH_REOPEN=1           run (d); BENCH_REOPEN_MIB=1024 size of the big log,
#                            BENCH_REOPEN_ROTATION=2s, BENCH_REOPEN_SECS=30 for
#                            the receiver's own reopens on it
#   BENCH_QUIET=1            run (e); BENCH_QUIET_N=500, BENCH_QUIET_CAP=50,
#                            BENCH_QUIET_SECS=60, BENCH_QUIET_ROTATION=5s
#   BENCH_STEADY=1           run (f); BENCH_STEADY_N=20 containers,
#                            BENCH_STEADY_RATE=10000 lines/s in total,
#                            BENCH_STEADY_SECS=60 measured after
#                            BENCH_STEADY_WARM=10, BENCH_STEADY_ROTATION=5m
#                            (the receiver's default rotation_interval)
#   BENCH_SKIP_BUILD=1       use the binaries in ./bin as they are
#   BENCH_BASELINE=PATH      (f) also runs this otelcol-dockerlogs binary (an
#                            earlier build) in each alternation, and prints
#                            ours / baseline
#   BENCH_OUT=.build/bench   where results (results-<date>.md, raw TSV) go
#   BENCH_PORT=18888         first local port for the collectors' metrics
#   BENCH_VARIANTS           more builds of this receiver to run as extra cases
#                            of (b), side by side, e.g. a branch under test:
#                            "name=/path/to/otelcol-dockerlogs@VAR=v,VAR2=w ..."
#                            (the @environment part is optional)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

BACKLOG="${BENCH_BACKLOG:-1}"
STORAGE="${BENCH_STORAGE:-1}"
LINES="${BENCH_LINES:-1000000}"
RUNS="${BENCH_RUNS:-3}"
REOPEN="${BENCH_REOPEN:-1}"
REOPEN_MIB="${BENCH_REOPEN_MIB:-1024}"
REOPEN_ROTATION="${BENCH_REOPEN_ROTATION:-2s}"
REOPEN_SECS="${BENCH_REOPEN_SECS:-30}"
QUIET="${BENCH_QUIET:-1}"
QUIET_N="${BENCH_QUIET_N:-500}"
QUIET_CAP="${BENCH_QUIET_CAP:-50}"
QUIET_SECS="${BENCH_QUIET_SECS:-60}"
QUIET_ROTATION="${BENCH_QUIET_ROTATION:-5s}"
STEADY="${BENCH_STEADY:-1}"
STEADY_N="${BENCH_STEADY_N:-20}"
STEADY_RATE="${BENCH_STEADY_RATE:-10000}"
STEADY_SECS="${BENCH_STEADY_SECS:-60}"
STEADY_WARM="${BENCH_STEADY_WARM:-10}"
STEADY_ROTATION="${BENCH_STEADY_ROTATION:-5m}"
BASELINE="${BENCH_BASELINE:-}"
SKIP_BUILD="${BENCH_SKIP_BUILD:-0}"
OUT="${BENCH_OUT:-.build/bench}"
PORT="${BENCH_PORT:-18888}"
VARIANTS="${BENCH_VARIANTS:-}"
RUN_TIMEOUT=600 # seconds, per collector run
MAX_IDLE="${BENCH_MAX_IDLE:-1}" # seconds the receiver may let a backlog wait (the guard)
MAX_WALL_RATIO="${BENCH_MAX_WALL_RATIO:-2}" # a run's wall / the CLI's of the same run (the guard)
GUARD_FAILED=""

OURS=bin/otelcol-dockerlogs
FILELOG=bin/otelcol-filelog-bench
SOCK=/var/run/docker.sock
API=v1.41 # Docker 20.10; every later engine accepts it
LABEL_TEST=dockerlogsrotating.test
LABEL_OWNER=dockerlogsrotating.test.owner
LABEL_BENCH=dockerlogsrotating.bench
IMAGE_REPO=dockerlogsrotating-loggen

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

for cmd in go docker curl awk; do
  command -v "$cmd" >/dev/null 2>&1 || die "$cmd is not on PATH"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is needed for the CLI's CPU time"
[[ "$(id -u)" == 0 ]] || die "run as root: the json-file logs and dockerd's /proc entry are root's"
DOCKERD_PID="$(pidof dockerd | awk '{print $1}')"
[[ -n "$DOCKERD_PID" ]] || die "no dockerd process found (pidof dockerd)"
HZ="$(getconf CLK_TCK)"

RUN_ID="bench-$(date +%Y%m%d%H%M%S)-$$"
# dockertest's owner label: <hostname>/<pid>/<process start in ticks>.
OWNER="$(hostname)/$$/$(awk '{sub(/^.*\) /, ""); print $20}' /proc/$$/stat)"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/dlr-bench.XXXXXX")"
STARTED_PIDS=()

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for p in "${STARTED_PIDS[@]}"; do
    if kill -0 "$p" 2>/dev/null; then kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; fi
  done
  local ids
  ids="$(docker ps -aq --filter "label=$LABEL_TEST=1" --filter "label=$LABEL_BENCH=$RUN_ID" 2>/dev/null || true)"
  if [[ -n "$ids" ]]; then
    log "removing $(wc -l <<<"$ids") benchmark container(s)"
    xargs -r -n 50 -P 4 docker rm -f -v <<<"$ids" >/dev/null 2>&1 || true
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted (SIGINT)"; exit 130' INT
trap 'log "terminated (SIGTERM)"; exit 143' TERM

# ---------------------------------------------------------------------------
# Helpers

# ticks PID: utime+stime of a process, in clock ticks (fields 14 and 15 of
# /proc/PID/stat, counted after the command name, which may hold spaces).
ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }
now() { date +%s.%N; }
# calc EXPR: floating-point arithmetic. Parenthesise comparisons: a bare
# '>' in EXPR would be awk's output redirection.
calc() { awk "BEGIN { printf \"%.6f\", $* }"; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# column_of CASE COLUMN [FILE]: the values of COLUMN in the rows of CASE of a
# TSV with a header line (default $RAW), one a line.
column_of() { awk -F'\t' -v c="$1" -v k="$2" 'NR == 1 {for (i = 1; i <= NF; i++) col[$i] = i; next} $2 == c {print $col[k]}' "${3:-$RAW}"; }
# med CASE COLUMN [FILE]: its median over the runs. M_<case>_<column> and
# the like are set with printf -v, which shellcheck cannot follow.
# shellcheck disable=SC2046,SC2154
med() { median $(column_of "$@"); }

# accepted PORT [SECS]: sum of otelcol_receiver_accepted_log_records over
# its series (0 while the endpoint is not up or has not answered within
# SECS, default 2).
accepted() {
  local m
  m="$(curl -sf --max-time "${2:-2}" "http://127.0.0.1:$1/metrics" 2>/dev/null || true)"
  awk '/^otelcol_receiver_accepted_log_records/ {s += $NF} END {printf "%d", s}' <<<"$m"
}

# tick_var NAME PID: sets NAME to what `ticks PID` prints, and busy_var NAME
# to the machine's non-idle ticks so far (all cores; /proc/stat user, nice,
# system, irq, softirq), both read by bash alone: on a saturated machine a
# fork can wait a second or more, which would put a window's clock and its
# tick counts far apart.
tick_var() { local l f; read -r l <"/proc/$2/stat"; read -r -a f <<<"${l##*) }"; printf -v "$1" '%d' $((f[11] + f[12])); }
busy_var() { local f; read -r -a f </proc/stat; printf -v "$1" '%d' $((f[1] + f[2] + f[3] + f[6] + f[7])); }
# window PID SECS: watches the process for SECS seconds. Sets W_SECS (wall
# s), W_CPU_S and W_DOCKERD_S (CPU s of the process and of dockerd), W_BUSY
# (% of all the machine's cores busy), W_RSS (the highest VmRSS sampled
# every second, KiB), W_RSS_END (VmRSS at the end) and W_HWM (VmHWM at the
# end: the peak since the process started). The window ends at its deadline
# however slow the machine is: nothing in it forks but sleep.
window() {
  local pid="$1" secs="$2" c0 d0 b0 t0 c1 d1 b1 t1 end left k v _
  tick_var c0 "$pid"; tick_var d0 "$DOCKERD_PID"; busy_var b0; t0=$EPOCHREALTIME
  end=$((${EPOCHREALTIME/./} + secs * 1000000))
  W_RSS=0
  while left=$((end - ${EPOCHREALTIME/./})); ((left > 0)); do
    if ((left >= 1000000)); then sleep 1; else sleep "0.$(printf '%06d' "$left")"; fi
    while read -r k v _; do
      if [[ "$k" == VmRSS: ]]; then W_RSS_END=$v; fi
    done <"/proc/$pid/status"
    if ((W_RSS_END > W_RSS)); then W_RSS=$W_RSS_END; fi
  done
  tick_var c1 "$pid"; tick_var d1 "$DOCKERD_PID"; busy_var b1; t1=$EPOCHREALTIME
  W_HWM="$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")"
  W_SECS="$(calc "$t1 - $t0")"
  W_CPU_S="$(calc "($c1 - $c0) / $HZ")"
  W_DOCKERD_S="$(calc "($d1 - $d0) / $HZ")"
  W_BUSY="$(calc "($b1 - $b0) / $HZ / $W_SECS / $(nproc) * 100")"
}
# pct CPU_S: CPU seconds of the last window as % of a core.
pct() { calc "$1 / $W_SECS * 100"; }

# docker_run NAME ARGS...: a loggen container with the benchmark labels.
# No network: loggen needs none, and removing hundreds of bridge endpoints
# at once deadlocked Engine 20.10's libnetwork here (15:33 UTC, 2026-11-27).
docker_run() {
  local name="$1"; shift
  docker run -d --network none --name "$RUN_ID-$name" \
    --label "$LABEL_TEST=1" --label "$LABEL_OWNER=$OWNER" --label "$LABEL_BENCH=$RUN_ID" \
    --label "$LABEL_BENCH.role=$RUN_ID.$name" \
    --log-driver json-file --log-opt max-size=100g --log-opt max-file=1 \
    "$@"
}

# wait_lines ID N: until the container's json-file holds N lines.
wait_lines() {
  local id="$1" n="$2" path deadline=$((SECONDS + 1800)) have=0
  path="$(docker inspect --format '{{.LogPath}}' "$id")"
  while :; do
    have=0
    [[ -f "$path" ]] && have="$(wc -l <"$path")"
    ((have >= n)) && break
    ((SECONDS < deadline)) || die "container $id logged $have of $n lines"
    [[ "$(docker inspect --format '{{.State.Running}}' "$id")" == true ]] || die "container $id stopped after $have of $n lines"
    sleep 2
  done
}

# ---------------------------------------------------------------------------
# 1. Build

if [[ "$SKIP_BUILD" != 1 ]]; then
  log "building $OURS (make build)"
  make --no-print-directory build >&2
  log "building $FILELOG (scripts/bench/builder-config-bench.yaml)"
  BUILD_CONFIG=scripts/bench/builder-config-bench.yaml bash scripts/build-collector.sh >&2
fi
[[ -x "$OURS" && -x "$FILELOG" ]] || die "missing $OURS or $FILELOG (run without BENCH_SKIP_BUILD)"
# Variants: names, binaries and environments of the extra (b) cases.
V_NAMES=() V_BINS=() V_ENVS=()
for v in $VARIANTS; do
  name="${v%%=*}" rest="${v#*=}"
  [[ "$name" =~ ^[a-z0-9_]+$ && "$name" != "$v" ]] || die "BENCH_VARIANTS entry '$v': want name=binary[@VAR=v,...] with a lowercase name"
  bin="${rest%%@*}" envs=""
  [[ "$rest" == *@* ]] && envs="${rest#*@}"
  [[ -x "$bin" ]] || die "BENCH_VARIANTS: $bin is not an executable"
  V_NAMES+=("$name") V_BINS+=("$bin") V_ENVS+=("${envs//,/ }")
done

log "building the loggen image"
mkdir -p "$TMP/img"
CGO_ENABLED=0 GOWORK=off go build -trimpath -o "$TMP/img/loggen" ./internal/testing/cmd/loggen
HASH="$(sha256sum "$TMP/img/loggen" | awk '{print $1}')"
IMAGE="$IMAGE_REPO:${HASH:0:16}"
if [[ "$(docker image inspect --format '{{index .Config.Labels "dockerlogsrotating.loggen.sha256"}}' "$IMAGE" 2>/dev/null || true)" != "$HASH" ]]; then
  printf 'FROM scratch\nCOPY loggen /loggen\nENTRYPOINT ["/loggen"]\n' >"$TMP/img/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q --label "$LABEL_TEST=1" --label "dockerlogsrotating.loggen.sha256=$HASH" \
    -t "$IMAGE" "$TMP/img" >/dev/null
fi

mkdir -p "$OUT"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
RAW="$OUT/raw-$STAMP.tsv"
RESULTS="$OUT/results-$STAMP.md"
printf 'run\tcase\twall_s\tcpu_s\tdockerd_s\tlines\tmax_idle_s\n' >"$RAW"

machine_note() {
  printf -- '- machine: %s cores, %s, kernel %s, %s MiB RAM\n' "$(nproc)" \
    "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" "$(uname -r)" \
    "$(awk '/^MemTotal/ {printf "%d", $2 / 1024}' /proc/meminfo)"
  printf -- '- docker: engine %s (API %s), logging driver %s, storage %s; %s\n' \
    "$(docker version --format '{{.Server.Version}}')" "$(docker version --format '{{.Server.APIVersion}}')" \
    "$(docker info --format '{{.LoggingDriver}}')" "$(docker info --format '{{.Driver}}')" "$(go version | awk '{print $3}')"
  printf -- '- date: %s; load average at start: %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$LOAD0"
  printf -- '- source: commit %s, %s file(s) changed in the working tree when %s was built\n' \
    "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" "$TREE_CHANGES" "$OURS"
  printf -- '- the machine was shared: other engineers ran tests (and Docker containers) on it during the runs; see the dockerd idle rate\n'
}
LOAD0="$(cut -d' ' -f1-3 /proc/loadavg)"
TREE_CHANGES="$(git status --porcelain 2>/dev/null | wc -l)"

# dockerd's background CPU rate (other users of the daemon), over 5 s.
dockerd_idle() {
  local d0 t0 d1
  d0="$(ticks "$DOCKERD_PID")"; t0="$(now)"; sleep 5
  d1="$(ticks "$DOCKERD_PID")"
  calc "($d1 - $d0) / $HZ / ($(now) - $t0) * 100"
}

# dockerd_settle: wait (up to 2 minutes) until dockerd uses less than 25 %
# of a core over 5 s, so that one case's leftovers do not load the next.
dockerd_settle() {
  local deadline=$((SECONDS + 120)) r
  while :; do
    r="$(dockerd_idle)"
    (($(calc "($r < 25)" | cut -d. -f1))) && return
    ((SECONDS < deadline)) || { log "  dockerd still at $r % of a core; going on"; return; }
  done
}

if [[ "$BACKLOG" == 1 ]]; then
# ---------------------------------------------------------------------------
# 2. Backlog container

log "creating a container with $LINES lines in its json-file log"
t0="$(now)"
CID="$(docker_run backlog "$IMAGE" -src b -n "$LINES" -size 14 -then sleep)"
wait_lines "$CID" "$LINES"
LOGPATH="$(docker inspect --format '{{.LogPath}}' "$CID")"
LOGBYTES="$(stat -c %s "$LOGPATH")"
log "  $(calc "$(now) - $t0") s to write; json-file $((LOGBYTES / 1024 / 1024)) MiB at $LOGPATH"
CLI_BYTES="$(docker logs -t "$CID" 2>&1 | wc -c)"
CLI_LINES="$(docker logs -t "$CID" 2>&1 | wc -l)"
[[ "$CLI_LINES" == "$LINES" ]] || die "docker logs printed $CLI_LINES lines, want $LINES"
log "  docker logs -t: $CLI_LINES lines, $(calc "$CLI_BYTES / $CLI_LINES") bytes a line on average"

# ---------------------------------------------------------------------------
# 3. Side by side

# case_cli RUN: (a)
case_cli() {
  local d0 t0 t1 d1 cpu
  d0="$(ticks "$DOCKERD_PID")"; t0="$(now)"
  /usr/bin/time -f '%U %S' -o "$TMP/time" docker logs -t "$CID" >/dev/null 2>&1
  t1="$(now)"; d1="$(ticks "$DOCKERD_PID")"
  cpu="$(awk '{print $1 + $2}' "$TMP/time")"
  printf '%s\tcli\t%s\t%s\t%s\t%s\t-\n' "$1" "$(calc "$t1 - $t0")" "$cpu" "$(calc "($d1 - $d0) / $HZ")" "$LINES" >>"$RAW"
}

# case_collector RUN NAME BINARY CONFIG [ENV...]: (b) or (c). It also
# records the longest time the accepted count stood still between the first
# record and the last (max_idle_s): lines were waiting all that time.
case_collector() {
  local run="$1" name="$2" bin="$3" cfg="$4"; shift 4
  local port=$((PORT + 1)) d0 t0 pid n=0 c t1 d1 extra last=0 changed t idle=0
  d0="$(ticks "$DOCKERD_PID")"; t0="$(now)"
  env "$@" BENCH_METRICS_PORT="$port" "$bin" --config "$cfg" >"$TMP/$name.log" 2>&1 &
  pid=$!
  STARTED_PIDS+=("$pid")
  while :; do
    n="$(accepted "$port")"
    t="$(now)"
    if ((n != last)); then
      last="$n"; changed="$t"
    elif ((n > 0)); then
      idle="$(calc "($t - $changed) > $idle ? ($t - $changed) : $idle")"
    fi
    ((n >= LINES)) && break
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -20 "$TMP/$name.log" >&2; die "$name exited early after $n records"
    fi
    if (($(calc "(($(now) - $t0) > $RUN_TIMEOUT)" | cut -d. -f1))); then
      tail -20 "$TMP/$name.log" >&2; die "$name: $n of $LINES records after ${RUN_TIMEOUT}s"
    fi
    sleep 0.1
  done
  c="$(ticks "$pid")"; t1="$(now)"; d1="$(ticks "$DOCKERD_PID")"
  sleep 1
  extra="$(accepted "$port")"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  [[ "$extra" == "$LINES" ]] || log "  warning: $name accepted $extra records, want exactly $LINES"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$name" "$(calc "$t1 - $t0")" "$(calc "$c / $HZ")" "$(calc "($d1 - $d0) / $HZ")" "$extra" "$idle" >>"$RAW"
}

# store_writes DIR: checks that DIR, the file_storage directory of a run of
# ours_storage, holds the receiver's database with the backlog container's
# position in it (dies if not: the figure would measure a receiver that
# saved nothing), and sets STORE_DB_KIB (its size) and STORE_TXS: the write
# transactions it saw, bbolt's transaction ID (at offset 64 of the newer of
# the two meta pages) less the 1 of a new file; they include the
# extension's creation of its bucket. "?" if the file is not bbolt's.
store_writes() {
  local dir="$1" db magic psize t0 t1
  db="$(find "$dir" -maxdepth 1 -type f -name 'receiver_dockerlogsrotating*' -size +0 | head -1)"
  [[ -n "$db" ]] || die "ours_storage: no non-empty receiver database in $dir (it holds: $(find "$dir" -mindepth 1 -printf '%f ' | sed 's/ $//')); the run measured no storage"
  grep -a -q -F "container/$CID" "$db" || die "ours_storage: $db holds no position of the backlog container $CID"
  STORE_DB_KIB=$(($(stat -c %s "$db") / 1024))
  STORE_TXS='?'
  magic="$(od -An -t x4 -j 16 -N 4 "$db" | tr -d ' ')"
  psize="$(od -An -t u4 -j 24 -N 4 "$db" | tr -d ' ')"
  if [[ "$magic" == ed0cdaed && "$psize" =~ ^[0-9]+$ ]]; then
    t0="$(od -An -t u8 -j 64 -N 8 "$db" | tr -d ' ')"
    t1="$(od -An -t u8 -j $((psize + 64)) -N 8 "$db" | tr -d ' ')"
    STORE_TXS=$(((t0 > t1 ? t0 : t1) - 1))
  fi
}

# The cases of (b), in the order they run.
B_CASES=(ours)
[[ "$STORAGE" != 1 ]] || B_CASES+=(ours_storage)
B_CASES+=("${V_NAMES[@]}")
STORE_NOTES=()

IDLE_BEFORE="$(dockerd_idle)"
log "dockerd idle CPU: $IDLE_BEFORE % of a core (other users)"
for run in $(seq 1 "$RUNS"); do
  log "run $run/$RUNS: (a) docker logs"
  case_cli "$run"
  log "run $run/$RUNS: (b) otelcol-dockerlogs"
  case_collector "$run" ours "$OURS" scripts/bench/dockerlogs.yaml \
    BENCH_SELECT="$LABEL_BENCH.role=$RUN_ID.backlog" BENCH_MAX_STREAMS=50 BENCH_ROTATION=5m BENCH_START_AT=beginning
  if [[ "$STORAGE" == 1 ]]; then
    # A fresh directory each run: saved positions win over start_at, so a
    # used store would resume at the end and read nothing.
    sdir="$TMP/storage-$run"
    rm -rf "$sdir"; mkdir -p "$sdir"
    [[ -z "$(find "$sdir" -mindepth 1 -print -quit)" ]] || die "$sdir is not empty"
    log "run $run/$RUNS: (b) otelcol-dockerlogs with file_storage ($sdir)"
    case_collector "$run" ours_storage "$OURS" scripts/bench/dockerlogs-storage.yaml \
      BENCH_SELECT="$LABEL_BENCH.role=$RUN_ID.backlog" BENCH_MAX_STREAMS=50 BENCH_ROTATION=5m BENCH_START_AT=beginning \
      BENCH_STORAGE_DIR="$sdir"
    store_writes "$sdir"
    log "  ours_storage: database $STORE_DB_KIB KiB, $STORE_TXS write transactions"
    STORE_NOTES+=("run $run: $STORE_TXS write transactions, $STORE_DB_KIB KiB")
    rm -rf "$sdir"
  fi
  for i in "${!V_NAMES[@]}"; do
    log "run $run/$RUNS: (b) variant ${V_NAMES[$i]}"
    # shellcheck disable=SC2086 # the variant's environment is a word list
    case_collector "$run" "${V_NAMES[$i]}" "${V_BINS[$i]}" scripts/bench/dockerlogs.yaml \
      BENCH_SELECT="$LABEL_BENCH.role=$RUN_ID.backlog" BENCH_MAX_STREAMS=50 BENCH_ROTATION=5m BENCH_START_AT=beginning ${V_ENVS[$i]}
  done
  log "run $run/$RUNS: (c) otelcol-filelog-bench"
  case_collector "$run" filelog "$FILELOG" scripts/bench/filelog.yaml BENCH_LOG_PATH="$LOGPATH" BENCH_START_AT=beginning
  tail -$((2 + ${#B_CASES[@]})) "$RAW" | sed 's/^/    /' >&2
done
IDLE_AFTER="$(dockerd_idle)"

for c in cli filelog "${B_CASES[@]}"; do
  for k in wall_s cpu_s dockerd_s; do
    printf -v "M_${c}_${k}" '%s' "$(med "$c" "$k")"
  done
done
us() { calc "$1 * 1000000 / $LINES"; } # seconds for all lines -> µs a line

# shellcheck disable=SC2154

{
  printf '## End to end: %d lines of ~%s bytes (`docker logs -t`), median of %d runs\n\n' "$LINES" "$(calc "$CLI_BYTES / $CLI_LINES" | cut -d. -f1)" "$RUNS"
  printf '| case | wall s | process CPU s | CPU µs/line | dockerd CPU s | dockerd µs/line | process+dockerd µs/line |\n'
  printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n'
  for c in cli "${B_CASES[@]}" filelog; do
    w="M_${c}_wall_s"; p="M_${c}_cpu_s"; d="M_${c}_dockerd_s"
    case "$c" in
      cli) label='(a) `docker logs -t` CLI' ;;
      ours) label='(b) otelcol-dockerlogs (this receiver)' ;;
      ours_storage) label="(b) \`ours_storage\`: the same with \`storage: file_storage\`" ;;
      filelog) label='(c) otelcol with filelog + container parser' ;;
      *) label="(b) variant \`$c\`" ;;
    esac
    printf '| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n' "$label" "${!w}" "${!p}" "$(us "${!p}")" "${!d}" "$(us "${!d}")" "$(us "$(calc "${!p} + ${!d}")")"
  done
  printf '\n| ratio | value |\n| --- | ---: |\n'
  printf '| CPU per line, ours / CLI | %.2f |\n' "$(calc "$M_ours_cpu_s / $M_cli_cpu_s")"
  printf '| CPU per line, ours / filelog | %.2f |\n' "$(calc "$M_ours_cpu_s / $M_filelog_cpu_s")"
  printf '| CPU per line, (ours + dockerd) / filelog | %.2f |\n' "$(calc "($M_ours_cpu_s + $M_ours_dockerd_s) / $M_filelog_cpu_s")"
  printf '| wall, ours / CLI | %.2f |\n' "$(calc "$M_ours_wall_s / $M_cli_wall_s")"
  printf '| wall, ours / filelog | %.2f |\n' "$(calc "$M_ours_wall_s / $M_filelog_wall_s")"
  printf '| CPU, (ours + dockerd) / (CLI + dockerd) | %.2f |\n' "$(calc "($M_ours_cpu_s + $M_ours_dockerd_s) / ($M_cli_cpu_s + $M_cli_dockerd_s)")"
  if [[ "$STORAGE" == 1 ]]; then
    printf '| CPU per line, ours_storage / CLI | %.2f |\n' "$(calc "$M_ours_storage_cpu_s / $M_cli_cpu_s")"
    printf '| wall, ours_storage / CLI | %.2f |\n' "$(calc "$M_ours_storage_wall_s / $M_cli_wall_s")"
    printf '| CPU, ours_storage / ours | %.2f |\n' "$(calc "$M_ours_storage_cpu_s / $M_ours_cpu_s")"
    printf '| wall, ours_storage / ours | %.2f |\n' "$(calc "$M_ours_storage_wall_s / $M_ours_wall_s")"
  fi
  for i in "${!V_NAMES[@]}"; do
    c="${V_NAMES[$i]}"; p="M_${c}_cpu_s"; d="M_${c}_dockerd_s"; w="M_${c}_wall_s"
    printf '| variant `%s` (%s): CPU / ours | %.2f |\n' "$c" "${V_ENVS[$i]:-no environment}" "$(calc "${!p} / $M_ours_cpu_s")"
    printf '| variant `%s`: (CPU + dockerd) / (ours + dockerd) | %.2f |\n' "$c" "$(calc "(${!p} + ${!d}) / ($M_ours_cpu_s + $M_ours_dockerd_s)")"
    printf '| variant `%s`: wall / ours | %.2f |\n' "$c" "$(calc "${!w} / $M_ours_wall_s")"
  done
  # The median hides a stalled run: show the slowest, and the longest time
  # each collector let lines wait without delivering any.
  printf '\n| case | slowest run wall s | longest idle s (lines waiting, none delivered) |\n| --- | ---: | ---: |\n'
  for c in cli "${B_CASES[@]}" filelog; do
    idle_max="$(column_of "$c" max_idle_s | sort -g | tail -1)"
    printf '| %s | %.2f | %s |\n' "$c" "$(column_of "$c" wall_s | sort -g | tail -1)" "$idle_max"
    if [[ "$c" == ours ]] && (($(calc "($idle_max > $MAX_IDLE)" | cut -d. -f1))); then
      GUARD_FAILED="ours was idle for $idle_max s with lines waiting (limit $MAX_IDLE s)"
    fi
  done
  # A throttled reader delivers a little at a time and is never idle long:
  # hold each run's wall to the CLI's of the same run as well.
  ratio_max="$(awk -F'\t' 'NR > 1 && $2 == "cli" {c[$1] = $3} NR > 1 && $2 == "ours" {o[$1] = $3}
    END {for (r in o) if (c[r] > 0 && o[r] / c[r] > m) m = o[r] / c[r]; printf "%.2f", m}' "$RAW")"
  printf '\nSlowest run against the CLI of the same run: wall ours / CLI %s.\n' "$ratio_max"
  if [[ "$STORAGE" == 1 ]]; then
    printf 'The same for ours_storage (not held to the guard): wall ours_storage / CLI %s.\n' \
      "$(awk -F'\t' 'NR > 1 && $2 == "cli" {c[$1] = $3} NR > 1 && $2 == "ours_storage" {o[$1] = $3}
        END {for (r in o) if (c[r] > 0 && o[r] / c[r] > m) m = o[r] / c[r]; printf "%.2f", m}' "$RAW")"
    printf '\nours_storage read from start_at beginning into a fresh, empty file_storage directory each run (file_storage defaults: no fsync, no compaction; the receiver writes at its save cadence, positionSaveInterval in receiver/receiver.go); afterwards the receiver'"'"'s database held the backlog container'"'"'s position in every run. Write transactions (bbolt transaction ID less 1, including the extension'"'"'s bucket creation) and database size: %s.\n' \
      "$(printf '%s; ' "${STORE_NOTES[@]}" | sed 's/; $//')"
  fi
  if (($(calc "($ratio_max > $MAX_WALL_RATIO)" | cut -d. -f1))); then
    GUARD_FAILED="${GUARD_FAILED:+$GUARD_FAILED; }a run took $ratio_max times the CLI's wall (limit $MAX_WALL_RATIO)"
  fi
  if [[ -n "$GUARD_FAILED" ]]; then
    printf '\nGuard (never idle more than %s s while lines wait, never slower than %s times the CLI): **failed**, %s.\n' "$MAX_IDLE" "$MAX_WALL_RATIO" "$GUARD_FAILED"
  else
    printf '\nGuard (never idle more than %s s while lines wait, never slower than %s times the CLI): held in every run.\n' "$MAX_IDLE" "$MAX_WALL_RATIO"
  fi
  printf '\ndockerd idle CPU (other users of the daemon): %s %% of a core before the runs, %s %% after; json-file %d MiB.\n' \
    "$(printf '%.1f' "$IDLE_BEFORE")" "$(printf '%.1f' "$IDLE_AFTER")" "$((LOGBYTES / 1024 / 1024))"
  printf 'Collector figures include process start-up; wall is from start to the metric reaching %d (polled every 0.1 s).\n\n' "$LINES"
  printf 'Raw runs (s):\n\n```\n'; column -t -s $'\t' "$RAW"; printf '```\n\n'
} >"$RESULTS"

else
  printf '## End to end (a)-(c): not run (BENCH_BACKLOG=0)\n\n' >"$RESULTS"
  IDLE_BEFORE="$(dockerd_idle)"
fi

# ---------------------------------------------------------------------------
# 4. (d) Reopen cost

# ttfb ID QUERY: time to the first log byte (s) of a non-follow logs
# request, and dockerd CPU (s) for it. The daemon sends its headers before
# it reads the log, so curl's time_starttransfer says nothing; with since at
# the last line only that line is sent, and the response ends right after
# it: its total time is the time to the first log byte.
ttfb() {
  local d0 t d1
  d0="$(ticks "$DOCKERD_PID")"
  t="$(curl -s --unix-socket "$SOCK" -o /dev/null -w '%{time_total}' \
    "http://docker/$API/containers/$1/logs?stdout=1&stderr=1&timestamps=1&$2")"
  d1="$(ticks "$DOCKERD_PID")"
  printf '%s %s\n' "$t" "$(calc "($d1 - $d0) / $HZ")"
}

if [[ "$REOPEN" == 1 ]]; then
  # A json-file line of loggen -size S is about S + 28 (header) + 75 (JSON
  # and time) bytes; 1 KiB lines keep the line count (what the daemon's
  # JSON decoding pays for) realistic for big logs and the write time short.
  size=920 per=1024
  big_n=$((REOPEN_MIB * 1024 * 1024 / per)); small_n=$((1024 * 1024 / per))
  log "(d) creating containers with ~$REOPEN_MIB MiB ($big_n lines) and ~1 MiB ($small_n lines) of logs"
  t0="$(now)"
  BIG="$(docker_run reopen-big "$IMAGE" -src big -n "$big_n" -size "$size" -then sleep)"
  SMALL="$(docker_run reopen-small "$IMAGE" -src small -n "$small_n" -size "$size" -then sleep)"
  wait_lines "$SMALL" "$small_n"
  wait_lines "$BIG" "$big_n"
  log "  written in $(calc "$(now) - $t0") s"
  {
    printf '## (d) Reopen: time to the first log byte of a `since=<last timestamp>` request (Docker %s; non-follow, so the total time of a response that holds the last line), median of %d\n\n' "$(docker version --format '{{.Server.Version}}')" "$RUNS"
    printf '| log | size | lines | since only: TTFB s | dockerd CPU s | since + tail=1000: TTFB s | dockerd CPU s |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n'
  } >>"$RESULTS"
  for which in SMALL BIG; do
    id="${!which}"
    path="$(docker inspect --format '{{.LogPath}}' "$id")"
    bytes="$(stat -c %s "$path")"; nl="$(wc -l <"$path")"
    last="$(docker logs -t --tail 1 "$id" 2>&1 | awk '{print $1}')"
    since="$(date -d "$last" +%s.%N)"
    declare -a a_t=() a_d=() b_t=() b_d=()
    for run in $(seq 1 "$RUNS"); do
      read -r t d < <(ttfb "$id" "since=$since"); a_t+=("$t"); a_d+=("$d")
      read -r t d < <(ttfb "$id" "since=$since&tail=1000"); b_t+=("$t"); b_d+=("$d")
      printf '%s\treopen-%s-since\t%s\t0\t%s\t%s\n' "$run" "$which" "${a_t[-1]}" "${a_d[-1]}" "$nl" >>"$RAW"
      printf '%s\treopen-%s-since-tail1000\t%s\t0\t%s\t%s\n' "$run" "$which" "${b_t[-1]}" "${b_d[-1]}" "$nl" >>"$RAW"
    done
    printf '| %s | %.1f MiB | %d | %.3f | %.2f | %.3f | %.2f |\n' "${which,,}" "$(calc "$bytes / 1048576")" "$nl" \
      "$(median "${a_t[@]}")" "$(median "${a_d[@]}")" "$(median "${b_t[@]}")" "$(median "${b_d[@]}")" >>"$RESULTS"
    log "  $which: since $(median "${a_t[@]}") s, since+tail=1000 $(median "${b_t[@]}") s"
  done
  printf '\n' >>"$RESULTS"

  # The receiver on the big log, for REOPEN_SECS from its start each:
  # quiet-end   start_at end: nothing to read, but every rotation reopens
  #             (position without an anchor: no tail);
  # backlog-5m  start_at beginning, rotation 5m: reads the backlog;
  # backlog-rot start_at beginning, rotation REOPEN_ROTATION: reads the
  #             backlog while rotating (tail misses, then full scans).
  # receiver_window NAME START_AT ROTATION: appends one table row.
  receiver_window() {
    local name="$1" start_at="$2" rotation="$3" port=$((PORT + 3)) pid d0 c0 t0 m lines rot miss cnt sum
    log "  receiver on the big log: $name (start_at $start_at, rotation_interval $rotation, ${REOPEN_SECS}s)"
    d0="$(ticks "$DOCKERD_PID")"; t0="$(now)"
    BENCH_SELECT="$LABEL_BENCH.role=$RUN_ID.reopen-big" BENCH_MAX_STREAMS=50 BENCH_ROTATION="$rotation" BENCH_START_AT="$start_at" \
      BENCH_METRICS_PORT="$port" "$OURS" --config scripts/bench/dockerlogs.yaml >"$TMP/reopen-$name.log" 2>&1 &
    pid=$!
    STARTED_PIDS+=("$pid")
    sleep "$REOPEN_SECS"
    m="$(curl -sf "http://127.0.0.1:$port/metrics" || true)"
    c0="$(ticks "$pid")"; d1="$(ticks "$DOCKERD_PID")"; t1="$(now)"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    read -r lines rot miss cnt sum < <(awk '
      /^otelcol_receiver_accepted_log_records/ {l += $NF}
      /^otelcol_dockerlogsrotating_stream_rotations/ {r += $NF}
      /^otelcol_dockerlogsrotating_stream_rotations.*reason="tail_miss"/ {m += $NF}
      /^otelcol_dockerlogsrotating_reopen_duration_count/ {c += $NF}
      /^otelcol_dockerlogsrotating_reopen_duration_sum/ {s += $NF}
      END {printf "%d %d %d %d %.6f\n", l, r, m, c, s}' <<<"$m")
    printf '| %s | %s | %s | %d | %d | %d | %s | %.1f %% | %.1f %% |\n' "$name" "$start_at" "$rotation" "$lines" "$rot" "$miss" \
      "$(if ((cnt > 0)); then calc "$sum / $cnt"; else echo '-'; fi)" \
      "$(calc "$c0 / $HZ / ($t1 - $t0) * 100")" "$(calc "($d1 - $d0) / $HZ / ($t1 - $t0) * 100")" >>"$RESULTS"
  }
  {
    printf 'The receiver on the big log (%s lines), %d s from its start each:\n\n' "$big_n" "$REOPEN_SECS"
    printf '| case | start_at | rotation_interval | lines read | streams closed | of which tail_miss | mean time to first byte s | collector CPU | dockerd CPU |\n'
    printf '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n'
  } >>"$RESULTS"
  # quiet-end last: dockerd does not stop a scan whose client went away
  # until the scan ends, so its reopens keep dockerd busy after it.
  dockerd_settle
  receiver_window backlog-5m beginning 5m
  dockerd_settle
  receiver_window backlog-rot beginning "$REOPEN_ROTATION"
  dockerd_settle
  receiver_window quiet-end end "$REOPEN_ROTATION"
  printf '\n' >>"$RESULTS"
  docker rm -f -v "$BIG" "$SMALL" >/dev/null
else
  printf '## (d) Reopen: not run (BENCH_REOPEN=0)\n\n' >>"$RESULTS"
fi

# ---------------------------------------------------------------------------
# 5. (e) Many quiet containers

if [[ "$QUIET" == 1 ]]; then
  log "(e) starting $QUIET_N quiet containers"
  t0="$(now)"
  seq 1 "$QUIET_N" | xargs -P 4 -I{} \
    docker run -d --name "$RUN_ID-quiet-{}" \
      --label "$LABEL_TEST=1" --label "$LABEL_OWNER=$OWNER" --label "$LABEL_BENCH=$RUN_ID" \
      --label "$LABEL_BENCH.role=$RUN_ID.quiet" \
      "$IMAGE" -src "q{}" -n 1 -then sleep >/dev/null
  log "  started in $(calc "$(now) - $t0") s"
  port=$((PORT + 2))
  BENCH_SELECT="$LABEL_BENCH.role=$RUN_ID.quiet" BENCH_MAX_STREAMS="$QUIET_CAP" BENCH_ROTATION="$QUIET_ROTATION" BENCH_START_AT=beginning \
    BENCH_METRICS_PORT="$port" "$OURS" --config scripts/bench/dockerlogs.yaml >"$TMP/quiet.log" 2>&1 &
  pid=$!
  STARTED_PIDS+=("$pid")
  # Warm-up: until every container's line arrived once, or 2 minutes.
  deadline=$((SECONDS + 120))
  while (($(accepted "$port") < QUIET_N && SECONDS < deadline)); do sleep 0.5; done
  warm="$(accepted "$port")"
  log "  $warm of $QUIET_N lines read; measuring for ${QUIET_SECS}s"
  # pool_wait: count and sum (s) of the waits for a stream slot so far.
  pool_wait() {
    curl -sf "http://127.0.0.1:$port/metrics" | awk '
      /^otelcol_dockerlogsrotating_pool_wait_count/ {c += $NF}
      /^otelcol_dockerlogsrotating_pool_wait_sum/ {s += $NF}
      END {printf "%d %.6f\n", c, s}'
  }
  read -r wc0 ws0 < <(pool_wait)
  window "$pid" "$QUIET_SECS"
  read -r wc1 ws1 < <(pool_wait)
  metrics="$(curl -sf "http://127.0.0.1:$port/metrics" || true)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rot="$(awk '/^otelcol_dockerlogsrotating_stream_rotations/ {s += $NF} END {printf "%d", s}' <<<"$metrics")"
  waiting="$(awk '/^otelcol_dockerlogsrotating_containers_waiting/ {s += $NF} END {printf "%d", s}' <<<"$metrics")"
  {
    printf '## (e) %d quiet containers, max_concurrent_streams %d, rotation_interval %s, over %d s\n\n' "$QUIET_N" "$QUIET_CAP" "$QUIET_ROTATION" "$QUIET_SECS"
    printf '| collector CPU | collector RSS max (peak) | dockerd CPU | slot waits in the window | mean wait s | streams closed (whole run) | containers_waiting at the end |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
    printf '| %.1f %% of a core | %d MiB (%d MiB) | %.1f %% of a core | %d | %s | %s | %s |\n\n' "$(pct "$W_CPU_S")" $((W_RSS / 1024)) $((W_HWM / 1024)) "$(pct "$W_DOCKERD_S")" \
      $((wc1 - wc0)) "$(if ((wc1 > wc0)); then calc "($ws1 - $ws0) / ($wc1 - $wc0)"; else echo '-'; fi)" "$rot" "$waiting"
    printf '%d of %d lines were read in the warm-up; dockerd idle CPU at the start: %.1f %%.\n\n' "$warm" "$QUIET_N" "$IDLE_BEFORE"
  } >>"$RESULTS"
  printf '%s\tquiet\t%s\t%s\t%s\t%s\n' 1 "$W_SECS" "$W_CPU_S" "$W_DOCKERD_S" "$warm" >>"$RAW"
else
  printf '## (e) Many quiet containers: not run (BENCH_QUIET=0)\n\n' >>"$RESULTS"
fi

# ---------------------------------------------------------------------------
# 6. (f) Steady load

if [[ "$STEADY" == 1 ]]; then
  # loggen -size 70 with -src sNN: lines of ~100 bytes ("s7 stdout 123456
  # 70 <crc> <payload>"), one write each. Each container writes for three
  # times the nominal length of both collectors' warm-ups and windows (a
  # loaded machine stretches everything between the windows), then sleeps.
  per="$(calc "$STEADY_RATE / $STEADY_N")"
  ncoll=2
  [[ -z "$BASELINE" ]] || ncoll=3
  lines_each="$(calc "3 * $per * ($ncoll * $RUNS * ($STEADY_WARM + $STEADY_SECS + 15) + 180)" | cut -d. -f1)"
  log "(f) starting $STEADY_N containers writing $(printf '%g' "$per") lines/s each ($lines_each lines)"
  ids=() paths=()
  for i in $(seq 1 "$STEADY_N"); do
    ids+=("$(docker_run "steady-$i" --label "$LABEL_BENCH.group=$RUN_ID.steady" "$IMAGE" -src "s$i" -n "$lines_each" -rate "$per" -size 70 -then sleep)")
    paths+=("$(docker inspect --format '{{.LogPath}}' "${ids[-1]}")")
  done
  # filelog reads the same json-files through one glob: {id1,id2,...}
  # below their common folder.
  glob="$(dirname "$(dirname "${paths[0]}")")/{$(IFS=,; echo "${ids[*]}")}/*-json.log"
  # sizes FILE: the json-files' sizes now, one a line, into FILE.
  sizes() { stat -c %s "${paths[@]}" >"$1"; }
  # written: lines appended to the json-files between the sizes in
  # $TMP/size0 and $TMP/size1 (only those bytes are read).
  written() {
    local i=0 n=0 o0 o1
    while read -r o0 o1; do
      n=$((n + $(dd if="${paths[i]}" iflag=skip_bytes,count_bytes skip="$o0" count=$((o1 - o0)) bs=64K status=none | wc -l)))
      i=$((i + 1))
    done < <(paste "$TMP/size0" "$TMP/size1")
    printf '%d' "$n"
  }
  # writers_alone: dockerd's CPU and the machine's load (% of all cores)
  # with the writers and no reader, over 10 s.
  writers_alone() { window "$DOCKERD_PID" 10; printf '%s %s\n' "$(pct "$W_DOCKERD_S")" "$W_BUSY"; }
  STEADY_RAW="$OUT/raw-steady-$STAMP.tsv"
  printf 'run\tcase\twall_s\tcpu_pct\tdockerd_pct\tmachine_pct\tdelivered_per_s\twritten_per_s\trss_max_mib\trss_end_mib\thwm_mib\n' >"$STEADY_RAW"
  # steady_window RUN NAME BINARY CONFIG [ENV...]: the collector from
  # start_at end; STEADY_WARM s after its first record (a starved
  # collector can take long to start), a window of STEADY_SECS; one row of
  # STEADY_RAW.
  steady_window() {
    local run="$1" name="$2" bin="$3" cfg="$4"; shift 4
    local port=$((PORT + 4)) pid a0 a1 ta0 ta1 tz0 tz1 deadline=$((SECONDS + 120))
    env "$@" BENCH_START_AT=end BENCH_METRICS_PORT="$port" "$bin" --config "$cfg" >"$TMP/steady-$name.log" 2>&1 &
    pid=$!
    STARTED_PIDS+=("$pid")
    while (($(accepted "$port") == 0)); do
      if ! kill -0 "$pid" 2>/dev/null; then
        tail -20 "$TMP/steady-$name.log" >&2; die "$name exited before its first record"
      fi
      ((SECONDS < deadline)) || die "$name delivered nothing in 120 s"
      sleep 0.5
    done
    sleep "$STEADY_WARM"
    # Each count with its own clock, read right after it; a starved
    # collector can take seconds to answer.
    a0="$(accepted "$port" 30)"; ta0=$EPOCHREALTIME; sizes "$TMP/size0"; tz0=$EPOCHREALTIME
    window "$pid" "$STEADY_SECS"
    a1="$(accepted "$port" 30)"; ta1=$EPOCHREALTIME; sizes "$TMP/size1"; tz1=$EPOCHREALTIME
    kill "$pid"; wait "$pid" 2>/dev/null || true
    ((a0 > 0 && a1 >= a0)) || die "$name: no answer from its metrics endpoint in time (accepted records $a0, then $a1)"
    printf '%s\t%s\t%s\t%.2f\t%.2f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\n' "$run" "$name" "$W_SECS" "$(pct "$W_CPU_S")" "$(pct "$W_DOCKERD_S")" "$W_BUSY" \
      "$(calc "($a1 - $a0) / ($ta1 - $ta0)")" "$(calc "$(written) / ($tz1 - $tz0)")" \
      "$(calc "$W_RSS / 1024")" "$(calc "$W_RSS_END / 1024")" "$(calc "$W_HWM / 1024")" >>"$STEADY_RAW"
    tail -1 "$STEADY_RAW" | sed 's/^/    /' >&2
  }
  sleep 5
  read -r alone_dockerd0 alone_busy0 < <(writers_alone)
  log "  writers alone: dockerd $(printf '%.1f' "$alone_dockerd0") % of a core, machine $(printf '%.1f' "$alone_busy0") % busy"
  read -r nl nb < <(docker logs --tail 1000 "${ids[0]}" 2>/dev/null | wc -lc)
  line_bytes="$(calc "$nb / $nl - 1" | cut -d. -f1)" # without the \n
  for run in $(seq 1 "$RUNS"); do
    log "run $run/$RUNS: (f) otelcol-dockerlogs, ${STEADY_WARM}s + ${STEADY_SECS}s"
    steady_window "$run" ours "$OURS" scripts/bench/dockerlogs.yaml \
      BENCH_SELECT="$LABEL_BENCH.group=$RUN_ID.steady" BENCH_MAX_STREAMS=50 BENCH_ROTATION="$STEADY_ROTATION"
    log "run $run/$RUNS: (f) otelcol-filelog-bench, ${STEADY_WARM}s + ${STEADY_SECS}s"
    steady_window "$run" filelog "$FILELOG" scripts/bench/filelog.yaml BENCH_LOG_PATH="$glob"
    if [[ -n "$BASELINE" ]]; then
      log "run $run/$RUNS: (f) baseline $BASELINE, ${STEADY_WARM}s + ${STEADY_SECS}s"
      steady_window "$run" baseline "$BASELINE" scripts/bench/dockerlogs.yaml \
        BENCH_SELECT="$LABEL_BENCH.group=$RUN_ID.steady" BENCH_MAX_STREAMS=50 BENCH_ROTATION="$STEADY_ROTATION"
    fi
  done
  cases=(ours filelog)
  [[ -z "$BASELINE" ]] || cases+=(baseline)
  read -r alone_dockerd1 alone_busy1 < <(writers_alone)
  for c in "${cases[@]}"; do
    for k in cpu_pct dockerd_pct machine_pct delivered_per_s written_per_s rss_max_mib rss_end_mib hwm_mib; do
      printf -v "S_${c}_${k}" '%s' "$(med "$c" "$k" "$STEADY_RAW")"
    done
  done
  peak="$(column_of ours hwm_mib "$STEADY_RAW" | sort -g | tail -1)" # the highest of the runs
  saturated="$(for c in "${cases[@]}"; do column_of "$c" machine_pct "$STEADY_RAW"; done)"
  saturated="$(awk '$1 >= 95 {n++} END {printf "%d", n}' <<<"$saturated")"
  # shellcheck disable=SC2154
  keep="$(calc "$S_ours_delivered_per_s / $S_ours_written_per_s")"
  # met CONDITION: yes or **no**; a collector that did not keep up meets nothing.
  met() {
    if (($(calc "($keep < 0.98)" | cut -d. -f1))); then echo '**no** (did not keep up)'
    elif (($(calc "($1)" | cut -d. -f1))); then echo yes
    else echo '**no**'; fi
  }
  # shellcheck disable=SC2154
  {
    printf '## (f) Steady load: %d containers, %s lines/s in total (~%d-byte lines, one write each), start_at end, rotation_interval %s; median of %d windows of %d s each after %d s of warm-up, the two collectors in alternation\n\n' \
      "$STEADY_N" "$STEADY_RATE" "$line_bytes" "$STEADY_ROTATION" "$RUNS" "$STEADY_SECS" "$STEADY_WARM"
    printf '| collector | CPU %% of a core | RSS max in the window, MiB | RSS at the end, MiB | VmHWM, MiB | dockerd CPU %% of a core | machine busy %% (all cores) | lines delivered/s | lines written/s |\n'
    printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
    for c in "${cases[@]}"; do
      case "$c" in
        ours) label='(f) otelcol-dockerlogs (this receiver)' ;;
        filelog) label='(f) otelcol with filelog + container parser' ;;
        baseline) label="(f) baseline build of this receiver ($BASELINE)" ;;
      esac
      cpu="S_${c}_cpu_pct" rss="S_${c}_rss_max_mib" end="S_${c}_rss_end_mib" hwm="S_${c}_hwm_mib"
      dpct="S_${c}_dockerd_pct" mpct="S_${c}_machine_pct" got="S_${c}_delivered_per_s" put="S_${c}_written_per_s"
      printf '| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f | %.0f | %.0f |\n' "$label" "${!cpu}" "${!rss}" "${!end}" "${!hwm}" "${!dpct}" "${!mpct}" "${!got}" "${!put}"
    done
    printf '| writers alone, no reader (before / after the windows) | | | | | %.1f / %.1f | %.0f / %.0f | | |\n' "$alone_dockerd0" "$alone_dockerd1" "$alone_busy0" "$alone_busy1"
    printf '\n| ratio | value |\n| --- | ---: |\n'
    printf '| CPU, ours / filelog | %.2f |\n' "$(calc "$S_ours_cpu_pct / $S_filelog_cpu_pct")"
    if [[ -n "$BASELINE" ]]; then
      printf '| CPU, ours / baseline build | %.2f |\n' "$(calc "$S_ours_cpu_pct / $S_baseline_cpu_pct")"
      printf '| lines delivered / written, baseline build | %.3f |\n' "$(calc "$S_baseline_delivered_per_s / $S_baseline_written_per_s")"
    fi
    printf '| RSS max in the window, ours / filelog | %.2f |\n' "$(calc "$S_ours_rss_max_mib / $S_filelog_rss_max_mib")"
    printf '| dockerd CPU, ours'"'"' windows / filelog'"'"'s | %.2f |\n' "$(calc "$S_ours_dockerd_pct / $S_filelog_dockerd_pct")"
    printf '| CPU, (ours + dockerd) / (filelog + dockerd) | %.2f |\n' "$(calc "($S_ours_cpu_pct + $S_ours_dockerd_pct) / ($S_filelog_cpu_pct + $S_filelog_dockerd_pct)")"
    printf '| lines delivered / written, ours | %.3f |\n' "$keep"
    printf '| lines delivered / written, filelog | %.3f |\n' "$(calc "$S_filelog_delivered_per_s / $S_filelog_written_per_s")"
    printf '\n| target | measured | met |\n| --- | ---: | --- |\n'
    printf '| receiver keeps up: delivers ≥ 98 %% of the lines written | %.1f %% (median) | %s |\n' "$(calc "$keep * 100")" "$(met 1)"
    printf '| receiver ≤ 15 %% of one core | %.1f %% (median) | %s |\n' "$S_ours_cpu_pct" "$(met "$S_ours_cpu_pct <= 15")"
    printf '| receiver ≤ 100 MiB RSS | %.1f MiB (highest VmHWM of the runs) | %s |\n' "$peak" "$(met "$peak <= 100")"
    printf '\nFor scale, the collector testbed allows filelog 50 %% of a core and 120 MiB at 10,000 lines/s; filelog measured %.1f %% and %.1f MiB (VmHWM) here.\n' \
      "$S_filelog_cpu_pct" "$S_filelog_hwm_mib"
    printf 'dockerd idle before the runs: %.1f %% of a core. Its CPU in the windows includes writing the json-files (see the writers alone).\n' "$IDLE_BEFORE"
    if (($(calc "($S_ours_written_per_s < 0.95 * $STEADY_RATE || $S_filelog_written_per_s < 0.95 * $STEADY_RATE)" | cut -d. -f1))); then
      printf '**The writers fell behind**: they wrote fewer than 95 %% of the %s lines/s asked.\n' "$STEADY_RATE"
    fi
    if ((saturated > 0)); then
      printf '**The machine was saturated** (≥ 95 %% of all cores busy) in %d of the %d windows: the figures are what the collectors got, not what they would need.\n' "$saturated" $((ncoll * RUNS))
    fi
    printf 'Lines written/s are counted in the json-files (the bytes appended over the window); lines delivered/s are the collector'"'"'s otelcol_receiver_accepted_log_records over the window.\n\n'
    printf 'Raw windows:\n\n```\n'; column -t -s $'\t' "$STEADY_RAW"; printf '```\n\n'
  } >>"$RESULTS"
else
  printf '## (f) Steady load: not run (BENCH_STEADY=0)\n\n' >>"$RESULTS"
fi

{
  printf '## Machine\n\n'
  machine_note
  printf -- '- load average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$RESULTS"

cat "$RESULTS"
log "results: $RESULTS (raw: $RAW${STEADY_RAW:+, $STEADY_RAW})"
if [[ -n "$GUARD_FAILED" ]]; then
  die "backlog guard: $GUARD_FAILED"
fi
