#!/usr/bin/env bash
# check-test-imports.sh: no product package imports test support.
#
# Test support (fakes, sinks, checkers, engine helpers, the loggen command)
# lives under internal/testing/. A product package, any package of this
# module outside internal/testing/, may use it only from its _test.go files
# (TestImports, XTestImports), never from the code that ships (Imports).
# Packages under internal/testing/ may import each other.
#
# Run from the repository root (make lint does). Exits 1 and prints
# "package imports test-support-package" for each offending pair.
set -euo pipefail

GO="${GO:-go}"
module="$("$GO" list -m)"
testing_prefix="$module/internal/testing"

pairs="$("$GO" list -f '{{$p := .ImportPath}}{{range .Imports}}{{$p}} {{.}}{{"\n"}}{{end}}' ./...)"

fail=0
while read -r pkg imp; do
	[[ -z "$pkg" ]] && continue
	case "$pkg" in "$testing_prefix" | "$testing_prefix"/*) continue ;; esac
	case "$imp" in
	"$testing_prefix" | "$testing_prefix"/*)
		echo "product package $pkg imports test support $imp" >&2
		fail=1
		;;
	esac
done <<<"$pairs"

if [[ "$fail" != 0 ]]; then
	echo "check-test-imports: FAILED (test support under internal/testing/ is for _test.go files only)" >&2
	exit 1
fi
echo "check-test-imports: ok"
