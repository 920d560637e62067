#!/usr/bin/env bash
# Runs every test of myst, with the race detector. Needs what install.sh
# installs; tests that use namespaces need root.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
go vet ./...
unformatted="$(gofmt -l .)"
if [[ -n "$unformatted" ]]; then
	echo "gofmt needed on: $unformatted" >&2
	exit 1
fi
go test -race -count=1 -timeout 30m ./...
