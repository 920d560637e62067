package node

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/dialog"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/registry"
)

// Health reports the node's state.
func (n *Node) Health() api.Health {
	chain := "not read yet"
	if st := n.cache.Stats(); st.ScannedTo > 0 {
		chain = fmt.Sprintf("registry read to block %d", st.ScannedTo)
	}
	return api.Health{Status: "ok", Uptime: time.Since(n.started), Version: n.cfg.Version, Broker: n.brokerStatus(), Chain: chain}
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

// brokerStatus is the broker connection's state for Health.
func (n *Node) brokerStatus() string {
	nc := n.broker()
	if nc == nil {
		return "not joined (no identity unlocked yet)"
	}
	st := nc.Status().String()
	if err := nc.LastError(); err != nil && !nc.IsConnected() {
		st += ": " + err.Error()
	}
	return st
}

// Unlock decrypts an identity's key and starts answering dialogs addressed
// to it.
func (n *Node) Unlock(id, passphrase string) error {
	addr, err := parseID("id", id)
	if err != nil {
		return err
	}
	// One scrypt at a time (256 MiB each with the standard parameters),
	// and that memory goes back to the system at once instead of minutes
	// later with the periodic scavenger.
	// After a wrong passphrase the next try for that identity waits 1 s,
	// 2 s, 4 s… (up to a minute): guessing costs time, not just memory.
	n.unlockMu.Lock()
	if f := n.unlockFails[addr]; time.Now().Before(f.next) {
		n.unlockMu.Unlock()
		return &FieldError{Field: "passphrase", Err: fmt.Errorf("%w (%d in a row): try again in %s",
			ErrTryLater, f.count, time.Until(f.next).Round(100*time.Millisecond))}
	}
	signer, err := n.store.Unlock(addr, passphrase)
	debug.FreeOSMemory()
	if errors.Is(err, identity.ErrWrongPassword) {
		f := n.unlockFails[addr]
		f.count++
		f.next = time.Now().Add(min(time.Second<<(f.count-1), time.Minute))
		n.unlockFails[addr] = f
	} else if err == nil {
		delete(n.unlockFails, addr)
	}
	n.unlockMu.Unlock()
	switch {
	case errors.Is(err, identity.ErrNotFound):
		return &FieldError{Field: "id", Err: err}
	case errors.Is(err, identity.ErrWrongPassword):
		return &FieldError{Field: "passphrase", Err: err}
	case err != nil:
		return err
	}
	if err := n.joinBroker(); err != nil {
		return err
	}
	if err := n.listen(signer); err != nil {
		return err
	}
	if n.paymentsEnabled() && !n.cfg.Network.HasGasPayer() {
		// The identity pays gas for its own settlements: settle what an
		// earlier run left.
		if err := n.money.billing.settler.QueueUnsettled(n.ctx, addr); err != nil {
			n.logger.Warn("settle", "provider", addr.Hex(), "err", err)
		}
	}
	return nil
}

// listen answers dialogs addressed to signer, once.
func (n *Node) listen(signer *identity.Signer) error {
	addr := signer.Address()
	n.peers.mu.Lock()
	defer n.peers.mu.Unlock()
	if _, ok := n.peers.listeners[addr]; ok {
		return nil
	}
	nc, err := n.brokerConn()
	if err != nil {
		return err
	}
	l, err := dialog.Listen(nc, signer, n.cache, dialog.ListenConfig{
		Accept:  n.acceptDialog,
		Metrics: n.metrics,
		Logger:  n.logger,
	})
	if err != nil {
		return fmt.Errorf("listen for dialogs to %s: %w", addr.Hex(), err)
	}
	n.peers.listeners[addr] = l
	n.logger.Info("identity unlocked; answering dialogs", "id", addr.Hex(), "subject", dialog.CreatesTo(addr))
	return nil
}

// echo answers "ping" requests on every dialog of this node.
func echo(_ context.Context, p []byte) ([]byte, error) { return p, nil }

// acceptDialog sets the handlers of a dialog a consumer opened to us.
func (n *Node) acceptDialog(d *dialog.Dialog) {
	d.Handle("ping", echo)
	n.offer.sessions.Attach(d)
	n.logger.Info("dialog opened", "consumer", d.Peer().Hex(), "provider", d.Self().Hex(), "dialog", d.ID().String())
}

// mustBeRegistered refuses an identity the registry does not hold, before
// anything is sent: the broker admits registered identities only, and
// providers answer only them.
func (n *Node) mustBeRegistered(ctx context.Context, field string, id common.Address) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ok, err := n.cache.IsRegistered(ctx, id)
	if err != nil {
		return upstreamf("ask the registry about %s: %w", id.Hex(), err)
	}
	if !ok {
		return &FieldError{Field: field, Err: retell(registry.ErrNotRegistered, "consumer not registered: %s is not in the identity registry; register it first (`myst identity register %s`)", id.Hex(), id.Hex())}
	}
	return nil
}

// Registration asks the registry about an identity.
func (n *Node) Registration(ctx context.Context, id string) (api.Registration, error) {
	addr, err := parseID("id", id)
	if err != nil {
		return api.Registration{}, err
	}
	ok, err := n.cache.IsRegistered(ctx, addr)
	if err != nil {
		return api.Registration{}, upstreamf("ask the registry: %w", err)
	}
	if nc := n.broker(); ok && nc != nil && !nc.IsConnected() {
		// Perhaps the broker waited for this registration: try now.
		nc.ForceReconnect()
	}
	return api.Registration{ID: addr.Hex(), Registered: ok}, nil
}

// Register registers an unlocked identity, gas paid by the network's gas
// payer when it has one, else by the identity itself; it returns once the
// transaction is mined (or at once when it is registered already).
func (n *Node) Register(ctx context.Context, id string) (api.Registration, error) {
	addr, err := parseID("id", id)
	if err != nil {
		return api.Registration{}, err
	}
	signer, err := n.unlocked("id", addr)
	if err != nil {
		return api.Registration{}, err
	}
	payer, err := n.gasSender(addr)
	if err != nil {
		return api.Registration{}, upstreamf("the network's gas payer: %w", err)
	}
	if _, err := n.reg.Register(ctx, signer, n.txSender(payer)); err != nil {
		if errors.Is(err, registry.ErrNoFunds) && payer == signer {
			return api.Registration{}, upstreamf("%w: send ether to %s to pay for the registration", err, addr.Hex())
		}
		return api.Registration{}, upstreamf("register %s: %w", addr.Hex(), err)
	}
	n.logger.Info("identity registered", "id", addr.Hex())
	// The broker admitted this connection for the identities registered
	// when it was made: connect again to be admitted for this one too.
	if err := n.joinBroker(); err != nil {
		n.logger.Warn("broker: join again after a registration", "id", addr.Hex(), "err", err)
	}
	return n.Registration(ctx, id)
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
		return api.Dialog{}, fieldErrorf("timeout_ms", "timeout_ms must be between 0 and 600000")
	}
	signer, err := n.unlocked("consumer_id", consumer)
	if err != nil {
		return api.Dialog{}, err
	}
	if err := n.mustBeRegistered(ctx, "consumer_id", consumer); err != nil {
		return api.Dialog{}, err
	}
	timeout := 10 * time.Second
	if req.TimeoutMillis > 0 {
		timeout = time.Duration(req.TimeoutMillis) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nc, err := n.brokerConn()
	if err != nil {
		return api.Dialog{}, err
	}
	d, err := dialog.Dial(ctx, nc, signer, provider, n.cache, dialog.DialConfig{Metrics: n.metrics, Now: n.cfg.Now})
	if err != nil {
		return api.Dialog{}, dialError(err, provider, fmt.Sprintf("within %s (is its node running with the identity unlocked?)", timeout))
	}
	d.Handle("ping", echo)
	id := d.ID().String()
	n.peers.mu.Lock()
	n.peers.dialogs[id] = &consumerDialog{d: d}
	n.peers.mu.Unlock()
	go func() {
		<-d.Done()
		n.peers.mu.Lock()
		delete(n.peers.dialogs, id)
		n.peers.mu.Unlock()
	}()
	return api.Dialog{ID: id, ConsumerID: consumer.Hex(), ProviderID: provider.Hex()}, nil
}

// Ping makes one request/response round trip on a dialog.
func (n *Node) Ping(ctx context.Context, dialogID string, req api.PingRequest) (api.Ping, error) {
	n.peers.mu.Lock()
	cd := n.peers.dialogs[dialogID]
	n.peers.mu.Unlock()
	if cd == nil {
		return api.Ping{}, &FieldError{Field: "id", Err: fmt.Errorf("%w %q", ErrUnknownDialog, dialogID)}
	}
	if req.TimeoutMillis < 0 || req.TimeoutMillis > 600_000 {
		return api.Ping{}, fieldErrorf("timeout_ms", "timeout_ms must be between 0 and 600000")
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
		return api.Ping{}, retell(err, "no answer from %s within %s", cd.d.Peer().Hex(), timeout)
	case errors.Is(err, dialog.ErrClosed):
		return api.Ping{}, err
	case err != nil:
		return api.Ping{}, upstreamf("ping: %w", err)
	case string(got) != string(payload):
		return api.Ping{}, upstreamf("ping: %w", ErrBadAnswer)
	}
	return api.Ping{Seq: cd.seq, RTT: rtt}, nil
}

// CloseDialog closes a consumer dialog, telling the provider.
func (n *Node) CloseDialog(dialogID string) error {
	n.peers.mu.Lock()
	cd := n.peers.dialogs[dialogID]
	delete(n.peers.dialogs, dialogID)
	n.peers.mu.Unlock()
	if cd == nil {
		return &FieldError{Field: "id", Err: fmt.Errorf("%w %q", ErrUnknownDialog, dialogID)}
	}
	return cd.d.Close()
}

// dialError says why a dialog to provider could not be opened; when says
// how long the node waited, for a timeout.
func dialError(err error, provider common.Address, when string) error {
	switch {
	case errors.Is(err, registry.ErrNotRegistered):
		return &FieldError{Field: "provider_id", Err: retell(err, "provider %s is not registered", provider.Hex())}
	case errors.Is(err, dialog.ErrRefused):
		return err
	case errors.Is(err, dialog.ErrTimeout):
		return retell(err, "no answer from %s %s", provider.Hex(), when)
	}
	return upstreamf("open dialog: %w", err)
}
