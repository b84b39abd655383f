#!/usr/bin/env bash
# Build the deploy image (deploy/Dockerfile): the collector binary, the agent
# configuration as /etc/otelcol/config.yaml and the gateway configuration as
# /etc/otelcol/gateway.yaml, FROM scratch. Pulls nothing.
#
#   deploy/build-image.sh [docker build options...]     e.g. --label k=v -q
#
# 1. Builds the collector with scripts/build-collector.sh when the binary is
#    missing or older than any of its inputs (non-test Go sources, go.mod,
#    go.sum, the manifest, the build script). Cold: ~2 min (ocb generate,
#    go mod tidy, compile); warm with a changed source: seconds to a minute.
# 2. Sends Docker a context of only the binary, the Dockerfile and the two
#    configurations (~40 MB instead of the ~250 MB working tree).
#
# Environment:
#   IMAGE         tag (default dockerlogsrotating/otelcol-dockerlogs:dev)
#   COLLECTOR     binary, relative to the repository root
#                 (default bin/otelcol-dockerlogs-deploy)
#   BUILD_CONFIG  ocb manifest that builds COLLECTOR (default
#                 deploy/builder-config.yaml; builder-config.yaml when
#                 COLLECTOR=bin/otelcol-dockerlogs)
#   SKIP_COLLECTOR_BUILD=1  use COLLECTOR as it is
#   DOCKER_BUILDKIT         default 0 (the legacy builder; needs no buildx)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

IMAGE="${IMAGE:-dockerlogsrotating/otelcol-dockerlogs:dev}"
COLLECTOR="${COLLECTOR:-bin/otelcol-dockerlogs-deploy}"
if [[ "$COLLECTOR" == bin/otelcol-dockerlogs ]]; then
  BUILD_CONFIG="${BUILD_CONFIG:-builder-config.yaml}"
else
  BUILD_CONFIG="${BUILD_CONFIG:-deploy/builder-config.yaml}"
fi
SKIP_COLLECTOR_BUILD="${SKIP_COLLECTOR_BUILD:-0}"

log() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# stale: the binary is missing, or an input is newer than it.
stale() {
  [[ -x "$COLLECTOR" ]] || { echo "$COLLECTOR is missing"; return 0; }
  local newer
  newer="$(find . \( -path ./.git -o -path ./.build -o -path ./.tools -o -path ./bin -o -name testdata \) -prune \
      -o -type f \( \( -name '*.go' ! -name '*_test.go' \) -o -name go.mod -o -name go.sum \) -newer "$COLLECTOR" -print -quit)"
  [[ -z "$newer" ]] || { echo "$newer is newer than $COLLECTOR"; return 0; }
  for f in "$BUILD_CONFIG" scripts/build-collector.sh; do
    [[ "$f" -nt "$COLLECTOR" ]] && { echo "$f is newer than $COLLECTOR"; return 0; }
  done
  return 1
}

mkdir -p .build
# One collector build at a time (parallel test processes, a second shell):
# scripts/build-collector.sh deletes and regenerates its output directory.
exec 9>".build/deploy-image.lock"
flock 9

if [[ "$SKIP_COLLECTOR_BUILD" != 1 ]] && why="$(stale)"; then
  log "building the collector: $why"
  start=$SECONDS
  BUILD_CONFIG="$BUILD_CONFIG" bash scripts/build-collector.sh
  # A build that changed nothing leaves the binary (and its mtime) alone:
  # mark it as checked against the current inputs.
  touch "$COLLECTOR"
  log "collector ready in $((SECONDS - start)) s"
fi
[[ -x "$COLLECTOR" ]] || die "$COLLECTOR not found (BUILD_CONFIG=$BUILD_CONFIG scripts/build-collector.sh builds it)"

ctx="$(mktemp -d "$ROOT/.build/image-context.XXXXXX")"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/$(dirname "$COLLECTOR")" "$ctx/deploy"
# A hard link is a snapshot: a concurrent rebuild renames a new file over
# the binary and leaves this one alone.
ln "$COLLECTOR" "$ctx/$COLLECTOR" 2>/dev/null || cp "$COLLECTOR" "$ctx/$COLLECTOR"
cp deploy/Dockerfile deploy/agent.yaml deploy/gateway.yaml "$ctx/deploy/"

version="$(awk '/^dist:/ {d=1; next} /^[^[:space:]#]/ {d=0} d && $1 == "version:" {print $2; exit}' "$BUILD_CONFIG")"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
if [[ "$revision" != unknown && -n "$(git status --porcelain 2>/dev/null | head -1)" ]]; then
  revision="$revision-dirty"
fi

log "building image $IMAGE from $COLLECTOR"
start=$SECONDS
DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}" docker build \
  -f "$ctx/deploy/Dockerfile" \
  --build-arg "COLLECTOR=$COLLECTOR" \
  --build-arg "VERSION=${version:-unknown}" \
  --build-arg "REVISION=$revision" \
  --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -t "$IMAGE" "$@" "$ctx"
log "image $IMAGE built in $((SECONDS - start)) s"
