package node

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/dialog"
	"github.com/mystnode/myst/discovery"
	"github.com/mystnode/myst/payments"
	"github.com/mystnode/myst/proposal"
	"github.com/mystnode/myst/session"
)

// connection is the consumer's one connection.
type connection struct {
	view      api.Connection
	session   *session.Conn
	connector session.Connector
	payer     *payments.Payer
}

// Connection reports the consumer's connection.
func (n *Node) Connection() api.Connection {
	n.connMu.Lock()
	v, c, p := n.conn.view, n.conn.connector, n.conn.payer
	n.connMu.Unlock()
	if v.State == api.Connected {
		v.Duration = time.Since(v.Since)
		st := c.Stats()
		v.BytesReceived, v.BytesSent, v.TunnelIP = st.BytesIn, st.BytesOut, st.TunnelIP
		if p != nil {
			v.Cost = proposal.FormatAmount(p.Paid())
		}
	}
	return v
}

func (n *Node) setConn(v api.Connection, c *session.Conn) {
	n.connMu.Lock()
	n.conn = connection{view: v, session: c}
	n.connMu.Unlock()
}

// Connect finds the provider's proposal for the service type in
// discovery, opens a dialog, negotiates a session and brings it up.
func (n *Node) Connect(ctx context.Context, req api.ConnectionRequest) (api.Connection, error) {
	consumer, err := parseID("consumer_id", req.ConsumerID)
	if err != nil {
		return api.Connection{}, err
	}
	provider, err := parseID("provider_id", req.ProviderID)
	if err != nil {
		return api.Connection{}, err
	}
	if req.ServiceType == "" {
		req.ServiceType = "openvpn"
	}
	if !proposal.ValidServiceType(req.ServiceType) {
		return api.Connection{}, fieldErrorf("service_type", "%q is not a service type", req.ServiceType)
	}
	signer, err := n.unlocked("consumer_id", consumer)
	if err != nil {
		return api.Connection{}, err
	}
	connector, err := n.connector(req.ServiceType, signer)
	if err != nil {
		return api.Connection{}, &FieldError{Field: "service_type", Err: err}
	}
	if n.discovery == nil {
		return api.Connection{}, ErrNoDiscovery
	}
	n.connMu.Lock()
	if n.conn.view.State != api.NotConnected {
		state := n.conn.view.State
		n.connMu.Unlock()
		return api.Connection{}, retell(ErrBusy, "the connection is %s: disconnect first (`myst disconnect`)", state)
	}
	view := api.Connection{State: api.Connecting, ConsumerID: consumer.Hex(), ProviderID: provider.Hex(), ServiceType: req.ServiceType, Since: time.Now().UTC()}
	n.conn = connection{view: view}
	n.connMu.Unlock()

	fail := func(err error) (api.Connection, error) {
		n.setConn(api.Connection{State: api.NotConnected, LastError: err.Error()}, nil)
		return api.Connection{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	found, _, _, err := n.discovery.Search(ctx, url.Values{"provider_id": {provider.Hex()}, "service_type": {req.ServiceType}})
	if err != nil {
		var he *discovery.HTTPError
		if errors.As(err, &he) {
			return fail(retell(err, "discovery: %s", he.Body.Error))
		}
		return fail(upstreamf("%w", err))
	}
	if len(found) == 0 {
		return fail(&FieldError{Field: "provider_id", Err: retell(ErrNotOffered, "%s offers no %s service in discovery (see `myst proposals`)", provider.Hex(), req.ServiceType)})
	}
	d, err := dialog.Dial(ctx, n.nc, signer, provider, n.cache, dialog.DialConfig{Metrics: n.metrics})
	if err != nil {
		return fail(dialError(err, provider, "(its node may be down)"))
	}
	d.Handle("ping", echo)
	conn, err := session.Open(ctx, d, found[0].Signed, connector, session.ConsumerConfig{
		KeepAliveEvery: n.cfg.KeepAliveEvery,
		OnEnd: func(reason string) {
			n.logger.Warn("connection lost", "provider", provider.Hex(), "reason", reason)
			n.connMu.Lock()
			if n.conn.view.SessionID != "" && n.conn.view.State == api.Connected {
				n.conn = connection{view: api.Connection{State: api.NotConnected, LastError: reason}}
			}
			n.connMu.Unlock()
		},
	})
	if err != nil {
		d.Close()
		var re *session.RefusedError
		if errors.As(err, &re) {
			return fail(retell(err, "%s refused the session: %s", provider.Hex(), re.Explain()))
		}
		return fail(upstreamf("%w", err))
	}
	var payer *payments.Payer
	if payments.Priced(conn.Proposal().Price) {
		if !n.paymentsEnabled() {
			conn.Abort("the network has no payment contracts to pay a priced service with")
			return fail(fmt.Errorf("%w to pay a priced service with", ErrNoPayments))
		}
		bytes := func() uint64 { st := connector.Stats(); return st.BytesIn + st.BytesOut }
		payer, err = payments.NewPayer(ctx, payments.PayerConfig{
			Client: n.pay, Store: n.payStore, Consumer: signer, Provider: provider, SessionID: conn.ID(),
			Price: conn.Proposal().Price, Start: conn.Since(), Bytes: bytes,
			OnOverbilled: func(reason string) {
				n.logger.Warn("refusing an invoice; ending the session", "provider", provider.Hex(), "reason", reason)
				conn.Abort(reason)
			},
		})
		if err != nil {
			conn.Abort("the consumer could not set up payments")
			return fail(fmt.Errorf("payments: %w", err))
		}
		conn.Dialog().Handle(payments.TopicInvoice, payer.Handle)
	}
	view.State, view.SessionID, view.Since = api.Connected, conn.ID(), conn.Since().UTC()
	n.connMu.Lock()
	if n.conn.view.State != api.Connecting {
		// The daemon is stopping.
		n.connMu.Unlock()
		conn.Close()
		return api.Connection{}, ErrStopping
	}
	n.conn = connection{view: view, session: conn, connector: connector, payer: payer}
	n.connMu.Unlock()
	n.logger.Info("connected", "provider", provider.Hex(), "service", req.ServiceType, "session", conn.ID())
	return n.Connection(), nil
}

// Disconnect ends the consumer's session.
func (n *Node) Disconnect(ctx context.Context) (api.Connection, error) {
	n.connMu.Lock()
	c := n.conn
	if c.view.State != api.Connected || c.session == nil {
		n.connMu.Unlock()
		return api.Connection{}, fmt.Errorf("%w (the connection is %s)", ErrNotConnected, c.view.State)
	}
	n.conn.view.State = api.Disconnecting
	n.connMu.Unlock()
	c.session.Close()
	v := api.Connection{State: api.NotConnected}
	n.setConn(v, nil)
	n.logger.Info("disconnected", "provider", c.view.ProviderID, "session", c.view.SessionID)
	return v, nil
}
