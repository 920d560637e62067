#!/usr/bin/env bash
# Runs every test of myst, with the race detector, as root: first installs
# what the tests need if it is missing (scripts/install.sh --tests: Debian
# packages, Go modules, geth and nats-server), then go vet, gofmt, the node
# binary's size and go test -race ./... . Tests that use network namespaces
# need root.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $EUID -ne 0 ]]; then
	echo "test.sh: run as root (the end-to-end tests build network namespaces and NAT rules)" >&2
	exit 1
fi
bash scripts/install.sh --tests
export PATH="$PATH:/usr/local/go/bin"
go vet ./...
unformatted="$(gofmt -l .)"
if [[ -n "$unformatted" ]]; then
	echo "gofmt needed on: $unformatted" >&2
	exit 1
fi
# The node that providers and consumers run (a Raspberry Pi among them)
# stays light: it links no dev chain, NATS server or PostgreSQL driver.
bash scripts/size.sh
go test -race -count=1 -timeout 30m ./...
# Every decoder of what a peer sends, fuzzed for a bounded number of
# inputs each (go test runs one fuzz target at a time); FUZZTIME=0 skips
# this. A count, not a duration: with a duration, Go 1.26's fuzz
# coordinator can report its own deadline as a failure when the time runs
# out mid-input (golang/go#75804, fixed in Go 1.27), with nothing found.
fuzztime="${FUZZTIME:-30000x}"
if [[ "$fuzztime" != "0" ]]; then
	for target in dialog:FuzzDecodeCreateRequest dialog:FuzzDecodeCreateResponse dialog:FuzzDecodeFrame \
		wireguard:FuzzProviderConfig wireguard:FuzzConsumerConfig openvpn:FuzzClientConfig discovery:FuzzProposalDecoding; do
		go test -run '^$' -fuzz "^${target#*:}\$" -fuzztime "$fuzztime" "./${target%%:*}"
	done
fi
