#!/usr/bin/env bash
# Runs every test of myst, with the race detector, as root: first installs
# what the tests need if it is missing (scripts/install.sh: Debian packages,
# Go modules), then go vet, gofmt and go test -race ./... . Tests that use
# network namespaces need root.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $EUID -ne 0 ]]; then
	echo "test.sh: run as root (the end-to-end tests build network namespaces and NAT rules)" >&2
	exit 1
fi
bash scripts/install.sh
export PATH="$PATH:/usr/local/go/bin"
go vet ./...
unformatted="$(gofmt -l .)"
if [[ -n "$unformatted" ]]; then
	echo "gofmt needed on: $unformatted" >&2
	exit 1
fi
go test -race -count=1 -timeout 30m ./...
