#!/usr/bin/env bash
# Builds ./bin/otelcol-dockerlogs, a collector that carries this receiver,
# from builder-config.yaml with the OpenTelemetry Collector Builder (ocb).
#
#   scripts/build-collector.sh          (or: make build)
#
# Needs nothing but Go and the Go module proxy: ocb itself is installed into
# ./.tools/bin on first use. Sources are generated into ./.build/<name>.
#
# Why not a plain `builder --config builder-config.yaml`: ocb runs
# `go mod tidy` in the generated module, and tidy also resolves the test-only
# imports of every dependency. The contrib file exporter's tests import
# extension/encoding/otlpencodingextension, a module version that the Go
# module proxy refuses, so ocb's tidy fails although the collector itself
# never needs that module. The recipe is therefore:
#   1. ocb --skip-compilation        generate main.go, components.go, go.mod
#                                    (its own tidy may fail: tolerated here)
#   2. go mod tidy -e                in the generated module: same tidy, but
#                                    errors about unneeded packages are kept
#                                    as warnings
#   3. ocb --skip-generate --skip-get-modules
#                                    compile with ocb's own flags
#                                    (CGO_ENABLED=0, -trimpath, -ldflags "-s -w")
# Steps 1-2 run only when an input changed (builder-config.yaml, the root
# go.mod/go.sum, this script, the Go or ocb version), or once more when the
# compile reports that the generated go.mod/go.sum are stale; step 3 always
# runs and is incremental through Go's build cache (a no-op build relinks
# nothing and leaves ./bin untouched).
#
# Environment:
#   OCB_VERSION   ocb to use (default v0.165.0, matches the core pin)
#   BUILD_CONFIG  ocb manifest (default builder-config.yaml)
#   FORCE=1       regenerate even when no input changed
#   VERBOSE=1     show ocb's and go's full output
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELF="$ROOT/scripts/$(basename "${BASH_SOURCE[0]}")"
cd "$ROOT"

OCB_VERSION="${OCB_VERSION:-v0.165.0}"
BUILD_CONFIG="${BUILD_CONFIG:-builder-config.yaml}"
FORCE="${FORCE:-0}"
VERBOSE="${VERBOSE:-0}"
TOOLS_BIN="$ROOT/.tools/bin"
OCB="$TOOLS_BIN/builder"

log() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# show_log FILE: print a captured log, without the "go: downloading" noise.
show_log() { grep -v '^go: downloading ' "$1" | sed 's/^/    /' >&2 || true; }

# yaml_dist KEY: a scalar under the top-level "dist:" block of the manifest.
yaml_dist() {
  awk -v key="$1" '
    /^[^[:space:]#]/ { in_dist = ($0 ~ /^dist:/) }
    in_dist && $1 == key":" { sub(/^[^:]*:[[:space:]]*/, ""); sub(/[[:space:]]+#.*$/, ""); gsub(/["\047]/, ""); print; exit }
  ' "$BUILD_CONFIG"
}

command -v go >/dev/null 2>&1 || die "go is not on PATH (Go $(sed -n 's/^go //p' go.mod) or newer is needed)"
[[ -f "$BUILD_CONFIG" ]] || die "$BUILD_CONFIG not found in $ROOT"

DIST_NAME="$(yaml_dist name)"
OUTPUT_PATH="$(yaml_dist output_path)"
[[ -n "$DIST_NAME" ]] || die "$BUILD_CONFIG: dist.name is not set"
[[ -n "$OUTPUT_PATH" ]] || die "$BUILD_CONFIG: dist.output_path is not set"
BUILD_DIR="$(realpath -m "$OUTPUT_PATH")"
case "$BUILD_DIR/" in
  "$ROOT/.build/"?*) ;;
  *) die "$BUILD_CONFIG: dist.output_path must be below ./.build/ (got $OUTPUT_PATH); this script deletes and regenerates it" ;;
esac
BIN_OUT="$ROOT/bin/$DIST_NAME"
STAMP="$BUILD_DIR/.inputs.sha256"
LOG_DIR="$ROOT/.build"

# The generated module lives inside this repository: a go.work elsewhere must
# not pull it into a workspace, and VCS stamping would only describe the outer
# repository (and force a relink on every edit of any file).
export GOWORK=off
case " ${GOFLAGS:-} " in
  *" -buildvcs="*) ;;
  *) export GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false" ;;
esac

# --- 1. ocb ------------------------------------------------------------------
ocb_version() { "$OCB" version 2>&1 | awk '/version/ {print $NF}'; } # prints on stderr
if [[ ! -x "$OCB" || "$(ocb_version)" != "$OCB_VERSION" ]]; then
  log "installing ocb $OCB_VERSION into .tools/bin"
  mkdir -p "$TOOLS_BIN"
  GOBIN="$TOOLS_BIN" go install "go.opentelemetry.io/collector/cmd/builder@$OCB_VERSION"
  [[ "$(ocb_version)" == "$OCB_VERSION" ]] || die "installed ocb reports version '$(ocb_version)', want $OCB_VERSION"
fi

run_logged() { # run_logged LOGFILE CMD... : output to LOGFILE (and the terminal if VERBOSE=1)
  local logfile="$1"; shift
  if [[ "$VERBOSE" == 1 ]]; then
    "$@" 2>&1 | tee "$logfile"
  else
    "$@" >"$logfile" 2>&1
  fi
}

# --- 2. generate + resolve modules (only when an input changed) ---------------
inputs_hash() {
  {
    echo "ocb $OCB_VERSION"
    go env GOVERSION
    for f in "$BUILD_CONFIG" go.mod go.sum "$SELF"; do
      echo "== $f"
      cat "$f" 2>/dev/null || true
    done
  } | sha256sum | awk '{print $1}'
}
want_hash="$(inputs_hash)"

generate() {
  log "generating collector sources with ocb $OCB_VERSION into ${BUILD_DIR#"$ROOT"/}"
  rm -rf "$BUILD_DIR"
  mkdir -p "$LOG_DIR"
  local gen_log="$LOG_DIR/ocb-generate.log" tidy_log="$LOG_DIR/go-mod-tidy.log"
  if run_logged "$gen_log" "$OCB" --config "$BUILD_CONFIG" --skip-compilation; then
    log "ocb resolved the modules itself"
  else
    # Tolerate only the failure of ocb's own `go mod tidy`, after it wrote
    # the sources; anything else (bad manifest, missing path) stops here.
    if [[ -f "$BUILD_DIR/go.mod" && -f "$BUILD_DIR/components.go" ]] \
        && grep -q "failed to update go.mod" "$gen_log"; then
      log "ocb's own 'go mod tidy' failed (expected: a dependency's test-only import is unavailable); retrying with 'go mod tidy -e'"
    else
      show_log "$gen_log"
      die "ocb failed to generate the sources (full log: ${gen_log#"$ROOT"/})"
    fi
  fi

  if ! (cd "$BUILD_DIR" && run_logged "$tidy_log" go mod tidy -e); then
    show_log "$tidy_log"
    die "'go mod tidy -e' failed in ${BUILD_DIR#"$ROOT"/} (full log: ${tidy_log#"$ROOT"/})"
  fi
  if grep -v '^go: downloading ' "$tidy_log" | grep -q .; then
    warn "'go mod tidy -e' skipped these problems (harmless when they are only 'tested by' imports of dependencies; a real one makes the compile fail):"
    show_log "$tidy_log"
  fi
  echo "$want_hash" >"$STAMP"
}

# compile LOGFILE: ocb's compile step only, on the sources generated above.
compile() {
  log "compiling $DIST_NAME (CGO_ENABLED=0, -trimpath, -ldflags '-s -w')"
  run_logged "$1" "$OCB" --config "$BUILD_CONFIG" --skip-generate --skip-get-modules
}

# Errors that mean the generated go.mod/go.sum no longer fit the receiver's
# imports (e.g. it started importing a package of a module whose checksum
# the generated go.sum lacks): fixed by resolving the modules again.
MODULE_ERRORS='missing go.sum entry|no required module provides package|updates to go.mod needed|go: inconsistent vendoring'

regenerated=0
if [[ "$FORCE" != 1 && -f "$STAMP" && "$(cat "$STAMP")" == "$want_hash" \
      && -f "$BUILD_DIR/go.mod" && -f "$BUILD_DIR/go.sum" && -f "$BUILD_DIR/components.go" ]]; then
  log "generated sources in ${BUILD_DIR#"$ROOT"/} are up to date"
else
  generate
  regenerated=1
fi

# --- 3. compile --------------------------------------------------------------
mkdir -p "$LOG_DIR"
build_log="$LOG_DIR/ocb-compile.log"
if ! compile "$build_log"; then
  if [[ "$regenerated" == 0 ]] && grep -qE "$MODULE_ERRORS" "$build_log"; then
    log "the generated go.mod/go.sum are out of date; regenerating once"
    generate
    compile "$build_log" || compile_failed=1
  else
    compile_failed=1
  fi
  if [[ "${compile_failed:-0}" == 1 ]]; then
    show_log "$build_log"
    if grep -q 'undefined: dockerlogsrotating.NewFactory' "$build_log"; then
      warn "the root package of this repository does not export NewFactory() yet"
    fi
    die "compiling the collector failed (full log: ${build_log#"$ROOT"/})"
  fi
fi

built="$BUILD_DIR/$DIST_NAME"
[[ -x "$built" ]] || die "ocb reported success but $built is missing"
mkdir -p "$(dirname "$BIN_OUT")"
if cmp -s "$built" "$BIN_OUT"; then
  log "${BIN_OUT#"$ROOT"/} is up to date"
else
  # Copy then rename: replacing a running binary in place fails ("text file busy").
  cp -f "$built" "$BIN_OUT.tmp"
  chmod 0755 "$BIN_OUT.tmp"
  mv -f "$BIN_OUT.tmp" "$BIN_OUT"
  log "built ${BIN_OUT#"$ROOT"/} ($(du -h "$BIN_OUT" | awk '{print $1}'))"
fi
