// Package registrytest is a stand-in for the Registered Identities cache in
// unit tests of the code around it: a set of identities and their keys.
package registrytest

import (
	"context"
	"fmt"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/registry"
)

// Registry knows the identities added to it.
type Registry struct {
	mu   sync.Mutex
	keys map[common.Address][]byte
}

// New makes a registry of signers.
func New(signers ...*identity.Signer) *Registry {
	r := &Registry{keys: map[common.Address][]byte{}}
	r.Add(signers...)
	return r
}

// Add registers signers.
func (r *Registry) Add(signers ...*identity.Signer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range signers {
		r.keys[s.Address()] = s.PublicKey()
	}
}

// PublicKey is the key of a registered identity, or an error wrapping
// registry.ErrNotRegistered.
func (r *Registry) PublicKey(_ context.Context, id common.Address) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k, ok := r.keys[id]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: %s", registry.ErrNotRegistered, id.Hex())
}

// IsRegistered says whether id was added.
func (r *Registry) IsRegistered(_ context.Context, id common.Address) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.keys[id]
	return ok, nil
}
