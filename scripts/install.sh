#!/usr/bin/env bash
# Installs what myst needs on a Debian machine (run as root): the system
# packages the node and the demo use. With --tests, also what only the
# tests use: more Debian packages, every Go module, and go-ethereum's geth
# and a standalone nats-server built at the versions go.mod pins.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:/usr/local/go/bin"
if ! command -v go >/dev/null; then
	echo "install.sh: Go is not installed; myst needs Go 1.26 (see go.mod) at /usr/local/go" >&2
	exit 1
fi

packages=(iproute2 ca-certificates openvpn iptables procps wireguard-tools)
if [[ "${1:-}" == "--tests" ]]; then
	packages+=(postgresql e2fsprogs mount util-linux openresolv dnsmasq-base miniupnpd-nftables nftables coturn chromium fonts-dejavu-core)
fi
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [[ "${1:-}" != "--tests" ]]; then
	echo "install.sh: ready ($(go version))"
	exit 0
fi

go mod download
# go-ethereum's own geth, at the version go.mod pins, for the end-to-end
# tests against a separate chain process (e2e.TestDeployToRealChain).
tools=/usr/local/lib/myst-tools
gethv="$(go list -m -f '{{.Version}}' github.com/ethereum/go-ethereum)"
if [[ ! -x "$tools/geth" || "$(cat "$tools/geth.version" 2>/dev/null)" != "$gethv" ]]; then
	echo "install.sh: building geth $gethv into $tools (a few minutes, once)"
	GOBIN="$tools" go install "github.com/ethereum/go-ethereum/cmd/geth@$gethv"
	echo "$gethv" >"$tools/geth.version"
fi
# A standalone nats-server, at the version go.mod pins, for the end-to-end
# test of a network on separate processes (e2e.TestNetworkOnRealChain).
natsv="$(go list -m -f '{{.Version}}' github.com/nats-io/nats-server/v2)"
if [[ ! -x "$tools/nats-server" || "$(cat "$tools/nats-server.version" 2>/dev/null)" != "$natsv" ]]; then
	echo "install.sh: building nats-server $natsv into $tools"
	GOBIN="$tools" go install "github.com/nats-io/nats-server/v2@$natsv"
	echo "$natsv" >"$tools/nats-server.version"
fi
echo "install.sh: ready for the tests ($(go version))"
