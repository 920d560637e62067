#!/usr/bin/env bash
# The main job on the embedded default: installs what is needed, builds myst,
# starts `myst localnet`, creates a provider and a consumer identity,
# registers both on the local chain, runs a daemon for each, pings the
# provider from the consumer over a signed, encrypted dialog, has the
# provider announce a noop service that the consumer finds in discovery and
# connects to, and tears everything down. (The tunnel between them comes with the OpenVPN service.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PATH:/usr/local/go/bin"

work="$(mktemp -d /tmp/myst-demo.XXXXXX)"
pids=()
cleanup() {
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		if kill -0 "${pids[i]}" 2>/dev/null; then
			kill -TERM "${pids[i]}"
			wait "${pids[i]}" || true
		fi
	done
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/myst" ./cmd/myst
myst="$work/myst"

echo "== starting myst localnet"
"$myst" localnet --data-dir "$work/localnet" --rpc-addr 127.0.0.1:0 --broker-addr 127.0.0.1:0 --discovery-addr 127.0.0.1:0 >"$work/localnet.out" 2>"$work/localnet.err" &
pids+=($!)
# wait_for FILE PATTERN PID: until FILE holds PATTERN, or the process died.
wait_for() {
	for _ in $(seq 1 600); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || { cat "${1%.out}.err" >&2; exit 1; }
		sleep 0.1
	done
	echo "timed out waiting for $2 in $1" >&2
	exit 1
}
wait_for "$work/localnet.out" "localnet ready" "${pids[-1]}"
cat "$work/localnet.out"
network="$work/localnet/network.json"

head -c 24 /dev/urandom | base64 >"$work/passphrase"
declare -A ids api
for role in provider consumer; do
	echo "== $role: new identity (standard scrypt, about a second)"
	id="$("$myst" --data-dir "$work/$role" --network "$network" identity new --passphrase-file "$work/passphrase" | tail -n1)"
	ids[$role]="$id"
	echo "$role identity: $id"
	echo "   status before: $("$myst" --data-dir "$work/$role" --network "$network" identity status "$id")"
	"$myst" --data-dir "$work/$role" --network "$network" identity register "$id" --passphrase-file "$work/passphrase"
	echo "   status after:  $("$myst" --data-dir "$work/$role" --network "$network" identity status "$id")"

	echo "== $role: myst daemon"
	"$myst" --data-dir "$work/$role" --network "$network" --api-addr 127.0.0.1:0 daemon >"$work/$role.out" 2>"$work/$role.err" &
	pids+=($!)
	wait_for "$work/$role.out" "myst daemon ready" "${pids[-1]}"
	api[$role]="$(sed -n 's|.*API on http://\([^,]*\),.*|\1|p' "$work/$role.out")"
	"$myst" --data-dir "$work/$role" --api-addr "${api[$role]}" identity unlock "$id" --passphrase-file "$work/passphrase"
done

P=(--data-dir "$work/provider" --api-addr "${api[provider]}")
C=(--data-dir "$work/consumer" --api-addr "${api[consumer]}")
echo "== consumer pings provider over a dialog"
"$myst" "${C[@]}" ping "${ids[provider]}" --identity "${ids[consumer]}" -c 3

echo "== provider starts a noop service; consumer finds it in discovery and connects"
svc="$("$myst" "${P[@]}" service start noop --identity "${ids[provider]}" --country DE --city Berlin --price-hour 0.01 --max-sessions 1 | tail -n1)"
"$myst" "${C[@]}" proposals --service-type noop --country DE
"$myst" "${C[@]}" connect "${ids[provider]}" --identity "${ids[consumer]}" --service noop
"$myst" "${C[@]}" status
"$myst" "${P[@]}" sessions
"$myst" "${C[@]}" disconnect
"$myst" "${P[@]}" service stop "$svc"
echo "== done; stopping daemons and localnet"
