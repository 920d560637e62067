#!/usr/bin/env bash
# The main job on the embedded default: installs what is needed, builds myst,
# starts `myst localnet`, creates a provider and a consumer identity,
# registers both on the local chain, shows their status, and tears down.
# (The tunnel between them comes with the OpenVPN service.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PATH:/usr/local/go/bin"

work="$(mktemp -d /tmp/myst-demo.XXXXXX)"
localnet_pid=""
cleanup() {
	if [[ -n "$localnet_pid" ]] && kill -0 "$localnet_pid" 2>/dev/null; then
		kill -TERM "$localnet_pid"
		wait "$localnet_pid" || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/myst" ./cmd/myst
myst="$work/myst"

echo "== starting myst localnet"
"$myst" localnet --data-dir "$work/localnet" --rpc-addr 127.0.0.1:0 --broker-addr 127.0.0.1:0 >"$work/localnet.out" 2>"$work/localnet.err" &
localnet_pid=$!
for _ in $(seq 1 600); do
	grep -q "localnet ready" "$work/localnet.out" 2>/dev/null && break
	kill -0 "$localnet_pid" 2>/dev/null || { cat "$work/localnet.err" >&2; exit 1; }
	sleep 0.1
done
cat "$work/localnet.out"
network="$work/localnet/network.json"

head -c 24 /dev/urandom | base64 >"$work/passphrase"
for role in provider consumer; do
	echo "== $role: new identity (standard scrypt, about a second)"
	id="$("$myst" --data-dir "$work/$role" --network "$network" identity new --passphrase-file "$work/passphrase" | tail -n1)"
	echo "$role identity: $id"
	echo "   status before: $("$myst" --data-dir "$work/$role" --network "$network" identity status "$id")"
	"$myst" --data-dir "$work/$role" --network "$network" identity register "$id" --passphrase-file "$work/passphrase"
	echo "   status after:  $("$myst" --data-dir "$work/$role" --network "$network" identity status "$id")"
done
echo "== done; stopping localnet"
