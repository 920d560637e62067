#!/usr/bin/env bash
# The main job on the embedded default, as root: installs what is needed,
# builds myst, and runs cmd/myst-demo: network namespaces for a consumer, a
# provider and a web host reachable only through the provider; myst
# localnet; a provider daemon offering openvpn; a consumer daemon that finds
# it in discovery, connects and fetches a page from the web host. It prints
# the address the web host saw, the connect time and the bytes counted, then
# tears everything down.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PATH:/usr/local/go/bin"

bin="$(mktemp -d /tmp/myst-demo-bin.XXXXXX)"
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/myst" ./cmd/myst
go build -o "$bin/myst-demo" ./cmd/myst-demo
"$bin/myst-demo" --myst "$bin/myst"
