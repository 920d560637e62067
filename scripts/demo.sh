#!/usr/bin/env bash
# The main job on the embedded default, as root: installs what is needed,
# builds myst (the node), myst-net (the network side) and cmd/myst-demo, and
# runs the demo: network namespaces for a consumer, a provider, and a web
# host reachable only through the provider with a resolver that names it;
# myst-net localnet; a provider daemon offering wireguard; a consumer daemon
# that finds it in discovery, connects, resolves the web host's name and
# fetches its page through the tunnel. It prints the address the web host
# saw, the name resolved, the connect time, the bytes counted and what was
# paid, then tears everything down.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PATH:/usr/local/go/bin"

bin="$(mktemp -d /tmp/myst-demo-bin.XXXXXX)"
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/" ./cmd/myst ./cmd/myst-net ./cmd/myst-demo
"$bin/myst-demo" --myst "$bin/myst" --myst-net "$bin/myst-net" "$@"
