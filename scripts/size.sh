#!/usr/bin/env bash
# Checks that the node binary (cmd/myst, what providers and consumers run)
# stays light: at most MAX_MB (default 40) megabytes as `go build` makes it,
# and none of the network side linked in (the dev chain, the NATS server,
# PostgreSQL's driver, the Discovery API server).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
max_mb="${MAX_MB:-40}"
heavy="$(go list -deps ./cmd/myst | grep -E '^(github.com/nats-io/nats-server|github.com/jackc/pgx|github.com/ethereum/go-ethereum/(eth|node|core)$|github.com/mystnode/myst/(devchain|localnet|discoveryd|brokerd|deploy)$)' || true)"
if [[ -n "$heavy" ]]; then
	echo "size.sh: cmd/myst links the network side: $heavy" >&2
	exit 1
fi
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/myst" ./cmd/myst
bytes="$(stat -c %s "$bin/myst")"
echo "size.sh: cmd/myst is $((bytes / 1000000)) MB ($bytes bytes; at most $max_mb MB)"
if ((bytes > max_mb * 1000000)); then
	echo "size.sh: cmd/myst is over $max_mb MB: find what grew it (go list -deps ./cmd/myst) before raising MAX_MB" >&2
	exit 1
fi
