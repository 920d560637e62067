#!/usr/bin/env bash
# Regenerates the compiled artifacts (ABI, bytecode) and Go bindings of the
# contracts in this folder. Needs Node.js/npm (for the solc compiler from the
# npm registry) and Go (abigen comes from the pinned go-ethereum module).
# Usage: bash contracts/generate.sh
set -euo pipefail
SOLC_VERSION=0.8.30
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="$here/build"
mkdir -p "$build"

tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
npm install --silent --prefix "$tools" "solc@$SOLC_VERSION" >/dev/null
solcjs="$tools/node_modules/.bin/solcjs"

cd "$here"
for contract in IdentityRegistry MystToken Payments; do
	rm -f "$build/${contract}".*
	"$solcjs" --optimize --abi --bin --base-path . -o "$tools/out" "$contract.sol" >/dev/null
	# solcjs names outputs <file>_<contract>.{abi,bin}.
	cp "$tools/out/${contract}_sol_${contract}.abi" "$build/$contract.abi"
	cp "$tools/out/${contract}_sol_${contract}.bin" "$build/$contract.bin"
done

cd "$root"
bind() {
	go run github.com/ethereum/go-ethereum/cmd/abigen@v1.17.10 \
		--abi "contracts/build/$1.abi" --bin "contracts/build/$1.bin" \
		--pkg contracts --type "$1" --out "contracts/$2.go"
}
bind IdentityRegistry identity_registry
bind MystToken myst_token
bind Payments payments
gofmt -l contracts/ || true
echo "contracts regenerated with solc $SOLC_VERSION"
