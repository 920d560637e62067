// Package contracts holds myst's Solidity contracts, their compiled artifacts
// (build/) and the Go bindings generated from them by generate.sh.
package contracts
