#!/usr/bin/env bash
# Runs every fuzz target in the module for a while each (default 20s):
#   scripts/fuzz.sh 10m
# New crashers are written to the package's testdata/fuzz/ by go test; check
# them in once fixed so they stay in the seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-20s}
status=0
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "== $pkg $target ($fuzztime)"
		go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s || status=1
	done
done
exit $status
