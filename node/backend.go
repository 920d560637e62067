package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/dialog"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/registry"
)

// The node is the API's backend.
var _ api.Backend = (*Node)(nil)

func parseID(field, s string) (common.Address, error) {
	a, err := identity.ParseAddress(s)
	if err != nil {
		return common.Address{}, api.Errorf(http.StatusBadRequest, field, "%s: %v", field, err)
	}
	return a, nil
}

// Health reports the node's state.
func (n *Node) Health() api.Health {
	return api.Health{Status: "ok", Uptime: time.Since(n.started), Version: n.cfg.Version, Broker: n.nc.Status().String()}
}

// Identities lists the keystore, marking unlocked identities.
func (n *Node) Identities() ([]api.Identity, error) {
	ids, err := n.store.List()
	if err != nil {
		return nil, err
	}
	out := make([]api.Identity, 0, len(ids))
	for _, a := range ids {
		_, err := n.store.Signer(a)
		out = append(out, api.Identity{ID: a.Hex(), Unlocked: err == nil})
	}
	return out, nil
}

// CreateIdentity makes a new identity in the keystore.
func (n *Node) CreateIdentity(passphrase string) (string, error) {
	a, err := n.store.Create(passphrase)
	if err != nil {
		return "", err
	}
	n.logger.Info("identity created", "id", a.Hex())
	return a.Hex(), nil
}

// Unlock decrypts an identity's key and starts answering dialogs addressed
// to it.
func (n *Node) Unlock(id, passphrase string) error {
	addr, err := parseID("id", id)
	if err != nil {
		return err
	}
	signer, err := n.store.Unlock(addr, passphrase)
	switch {
	case errors.Is(err, identity.ErrNotFound):
		return api.Errorf(http.StatusNotFound, "id", "%v", err)
	case errors.Is(err, identity.ErrWrongPassword):
		return api.Errorf(http.StatusForbidden, "passphrase", "%v", err)
	case err != nil:
		return err
	}
	if err := n.listen(signer); err != nil {
		return err
	}
	if n.paymentsEnabled() && !n.cfg.Network.HasGasPayer() {
		// The identity pays gas for its own settlements: settle what an
		// earlier run left.
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if _, err := n.settleAll(addr); err != nil {
				n.logger.Warn("settle", "provider", addr.Hex(), "err", err)
			}
		}()
	}
	return nil
}

// listen answers dialogs addressed to signer, once.
func (n *Node) listen(signer *identity.Signer) error {
	addr := signer.Address()
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.listeners[addr]; ok {
		return nil
	}
	l, err := dialog.Listen(n.nc, signer, n.cache, dialog.ListenConfig{
		Accept:         n.acceptDialog,
		IsUnregistered: isUnregistered,
		Metrics:        n.metrics,
		Logger:         n.logger,
	})
	if err != nil {
		return fmt.Errorf("listen for dialogs to %s: %w", addr.Hex(), err)
	}
	n.listeners[addr] = l
	n.logger.Info("identity unlocked; answering dialogs", "id", addr.Hex(), "subject", dialog.CreateSubject(addr))
	return nil
}

func isUnregistered(err error) bool { return errors.Is(err, registry.ErrNotRegistered) }

// echo answers "ping" requests on every dialog of this node.
func echo(_ context.Context, p []byte) ([]byte, error) { return p, nil }

// acceptDialog sets the handlers of a dialog a consumer opened to us.
func (n *Node) acceptDialog(d *dialog.Dialog) {
	d.Handle("ping", echo)
	n.provider.Attach(d)
	n.logger.Info("dialog opened", "consumer", d.Peer().Hex(), "provider", d.Self().Hex(), "dialog", d.ID().String())
}

// Registration asks the registry about an identity.
func (n *Node) Registration(ctx context.Context, id string) (api.Registration, error) {
	addr, err := parseID("id", id)
	if err != nil {
		return api.Registration{}, err
	}
	ok, err := n.cache.IsRegistered(ctx, addr)
	if err != nil {
		return api.Registration{}, api.Errorf(http.StatusBadGateway, "", "ask the registry: %v", err)
	}
	return api.Registration{ID: addr.Hex(), Registered: ok}, nil
}

// OpenDialog opens a dialog from an unlocked identity to a provider.
func (n *Node) OpenDialog(ctx context.Context, req api.DialogRequest) (api.Dialog, error) {
	consumer, err := parseID("consumer_id", req.ConsumerID)
	if err != nil {
		return api.Dialog{}, err
	}
	provider, err := parseID("provider_id", req.ProviderID)
	if err != nil {
		return api.Dialog{}, err
	}
	if req.TimeoutMillis < 0 || req.TimeoutMillis > 600_000 {
		return api.Dialog{}, api.Errorf(http.StatusBadRequest, "timeout_ms", "timeout_ms must be between 0 and 600000")
	}
	signer, err := n.store.Signer(consumer)
	if err != nil {
		return api.Dialog{}, api.Errorf(http.StatusConflict, "consumer_id", "%v: unlock it first (`myst identity unlock %s`)", err, consumer.Hex())
	}
	timeout := 10 * time.Second
	if req.TimeoutMillis > 0 {
		timeout = time.Duration(req.TimeoutMillis) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d, err := dialog.Dial(ctx, n.nc, signer, provider, n.cache, dialog.DialConfig{Metrics: n.metrics})
	switch {
	case errors.Is(err, registry.ErrNotRegistered):
		return api.Dialog{}, api.Errorf(http.StatusNotFound, "provider_id", "provider %s is not registered", provider.Hex())
	case errors.Is(err, dialog.ErrRefused):
		return api.Dialog{}, api.Errorf(http.StatusForbidden, "", "%v", err)
	case errors.Is(err, dialog.ErrTimeout):
		return api.Dialog{}, api.Errorf(http.StatusGatewayTimeout, "", "no answer from %s within %s (is its node running with the identity unlocked?)", provider.Hex(), timeout)
	case err != nil:
		return api.Dialog{}, api.Errorf(http.StatusBadGateway, "", "open dialog: %v", err)
	}
	d.Handle("ping", echo)
	id := d.ID().String()
	n.mu.Lock()
	n.dialogs[id] = &consumerDialog{d: d}
	n.mu.Unlock()
	go func() {
		<-d.Done()
		n.mu.Lock()
		delete(n.dialogs, id)
		n.mu.Unlock()
	}()
	return api.Dialog{ID: id, ConsumerID: consumer.Hex(), ProviderID: provider.Hex()}, nil
}

// Ping makes one request/response round trip on a dialog.
func (n *Node) Ping(ctx context.Context, dialogID string, req api.PingRequest) (api.Ping, error) {
	n.mu.Lock()
	cd := n.dialogs[dialogID]
	n.mu.Unlock()
	if cd == nil {
		return api.Ping{}, api.Errorf(http.StatusNotFound, "id", "no open dialog %q", dialogID)
	}
	if req.TimeoutMillis < 0 || req.TimeoutMillis > 600_000 {
		return api.Ping{}, api.Errorf(http.StatusBadRequest, "timeout_ms", "timeout_ms must be between 0 and 600000")
	}
	timeout := 5 * time.Second
	if req.TimeoutMillis > 0 {
		timeout = time.Duration(req.TimeoutMillis) * time.Millisecond
	}
	cd.mu.Lock()
	defer cd.mu.Unlock()
	cd.seq++
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	payload := []byte(fmt.Sprintf("myst-ping %d %d", cd.seq, time.Now().UnixNano()))
	start := time.Now()
	got, err := cd.d.Request(ctx, "ping", payload)
	rtt := time.Since(start)
	switch {
	case errors.Is(err, dialog.ErrTimeout):
		return api.Ping{}, api.Errorf(http.StatusGatewayTimeout, "", "no answer from %s within %s", cd.d.Peer().Hex(), timeout)
	case errors.Is(err, dialog.ErrClosed):
		return api.Ping{}, api.Errorf(http.StatusGone, "", "%v", err)
	case err != nil:
		return api.Ping{}, api.Errorf(http.StatusBadGateway, "", "ping: %v", err)
	case string(got) != string(payload):
		return api.Ping{}, api.Errorf(http.StatusBadGateway, "", "ping: the provider answered with other bytes")
	}
	return api.Ping{Seq: cd.seq, RTT: rtt}, nil
}

// CloseDialog closes a consumer dialog, telling the provider.
func (n *Node) CloseDialog(dialogID string) error {
	n.mu.Lock()
	cd := n.dialogs[dialogID]
	delete(n.dialogs, dialogID)
	n.mu.Unlock()
	if cd == nil {
		return api.Errorf(http.StatusNotFound, "id", "no open dialog %q", dialogID)
	}
	return cd.d.Close()
}
