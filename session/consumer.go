package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mystnode/myst/dialog"
	"github.com/mystnode/myst/proposal"
)

// ConsumerConfig tunes a consumer session.
type ConsumerConfig struct {
	// KeepAliveEvery is the keep-alive period (default 5 s); after three
	// unanswered keep-alives in a row the session is lost.
	KeepAliveEvery time.Duration
	// OnEnd hears why the session ended (not called for Close).
	OnEnd func(reason string)
	// OnAccepted, if set, hears of the provider's acceptance before the
	// data channel comes up, with when the consumer asked (billing starts
	// at session-create: the payer must answer invoices from then on); an
	// error fails the session.
	OnAccepted func(sessionID string, asked time.Time) error
	// BeforeConnect, if set, runs with the provider's config before the
	// data channel comes up (the kill switch goes on there); an error
	// fails the session.
	BeforeConnect func(providerConfig json.RawMessage) error
	// OnKeepAlive, if set, hears of each keep-alive: its round trip, or
	// why it failed (for metrics and load tools).
	OnKeepAlive func(rtt time.Duration, err error)
}

// Conn is the consumer's end of an established session.
type Conn struct {
	d         *dialog.Dialog
	id        string
	proposal  *proposal.Proposal
	connector Connector
	cfg       ConsumerConfig
	since     time.Time

	endOnce sync.Once
	ended   chan struct{}
	reason  string
	wg      sync.WaitGroup
}

// Open negotiates a session on the proposal found in discovery over an open
// dialog to its provider, brings the data channel up, and acks it. The
// price in the proposal is the price the consumer accepts. On failure the
// provider is told and nothing stays up.
func Open(ctx context.Context, d *dialog.Dialog, found proposal.Signed, connector Connector, cfg ConsumerConfig) (*Conn, error) {
	if cfg.KeepAliveEvery <= 0 {
		cfg.KeepAliveEvery = 5 * time.Second
	}
	prop, err := found.Open()
	if err != nil {
		return nil, fmt.Errorf("proposal: %w", err)
	}
	var corr [8]byte
	rand.Read(corr[:])
	config, err := connector.Config()
	if err != nil {
		return nil, fmt.Errorf("%s config: %w", prop.ServiceType, err)
	}
	req := CreateRequest{Proposal: found, AcceptedPrice: prop.Price, CorrelationID: hex.EncodeToString(corr[:]), Config: config}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	c := &Conn{d: d, proposal: prop, connector: connector, cfg: cfg, ended: make(chan struct{})}
	// Handle the provider's destroy from the start.
	d.Handle(TopicDestroy, func(_ context.Context, b []byte) ([]byte, error) {
		var x Destroy
		if json.Unmarshal(b, &x) == nil && x.SessionID == c.id && c.id != "" {
			go c.lost("the provider ended the session: " + x.Reason)
		}
		return nil, nil
	})
	// And its news that the data path moved.
	d.Handle(TopicMove, func(_ context.Context, b []byte) ([]byte, error) {
		var m Move
		if err := json.Unmarshal(b, &m); err != nil || m.SessionID != c.id || c.id == "" {
			return nil, errors.New("session-move: not this session's")
		}
		f, ok := connector.(Follower)
		if !ok {
			return nil, errors.New("session-move: this service type cannot follow")
		}
		if err := f.Follow(m.Config); err != nil {
			return nil, fmt.Errorf("session-move refused: %w", err)
		}
		return nil, nil
	})
	asked := time.Now()
	raw, err := d.Request(ctx, TopicCreate, body)
	if err != nil {
		return nil, fmt.Errorf("session-create: %w", err)
	}
	var resp CreateResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		return nil, fmt.Errorf("session-create: malformed answer: %w", err)
	}
	if !resp.Accepted {
		return nil, &RefusedError{Reason: resp.Reason, Detail: resp.Detail}
	}
	c.id = resp.SessionID
	err = nil
	if cfg.OnAccepted != nil {
		err = cfg.OnAccepted(resp.SessionID, asked)
	}
	if err == nil && cfg.BeforeConnect != nil {
		err = cfg.BeforeConnect(resp.Config)
	}
	if err == nil {
		err = connector.Connect(ctx, resp.SessionID, resp.Config)
	}
	if err != nil {
		nack, _ := json.Marshal(Ack{SessionID: resp.SessionID, OK: false, Error: err.Error()})
		actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		d.Request(actx, TopicAck, nack)
		cancel()
		return nil, fmt.Errorf("connect %s: %w", prop.ServiceType, err)
	}
	ack, _ := json.Marshal(Ack{SessionID: resp.SessionID, OK: true})
	if _, err := d.Request(ctx, TopicAck, ack); err != nil {
		connector.Disconnect()
		return nil, fmt.Errorf("session-ack: %w", err)
	}
	c.since = time.Now()
	c.wg.Add(1)
	go c.keepAlive()
	return c, nil
}

// ID is the session id.
func (c *Conn) ID() string { return c.id }

// Proposal is the proposal the session runs on.
func (c *Conn) Proposal() *proposal.Proposal { return c.proposal }

// Since is when the session became active.
func (c *Conn) Since() time.Time { return c.since }

// Done is closed when the session ends.
func (c *Conn) Done() <-chan struct{} { return c.ended }

// Reason says why it ended.
func (c *Conn) Reason() string {
	select {
	case <-c.ended:
		return c.reason
	default:
		return ""
	}
}

func (c *Conn) keepAlive() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.KeepAliveEvery)
	defer t.Stop()
	misses := 0
	body, _ := json.Marshal(KeepAlive{SessionID: c.id})
	down := c.connector.Down()
	for {
		select {
		case <-c.ended:
			return
		case <-c.d.Done():
			go c.lost("the dialog with the provider closed")
			return
		case <-down:
			why := "the provider stopped answering"
			if e, ok := c.connector.(Explainer); ok && e.DownReason() != "" {
				why = e.DownReason()
			}
			go c.lost("the tunnel went down (" + why + ")")
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.KeepAliveEvery)
		sent := time.Now()
		raw, err := c.d.Request(ctx, TopicKeepAlive, body)
		cancel()
		if c.cfg.OnKeepAlive != nil {
			c.cfg.OnKeepAlive(time.Since(sent), err)
		}
		var answer KeepAliveAnswer
		if err == nil {
			if jerr := json.Unmarshal(raw, &answer); jerr != nil {
				err = fmt.Errorf("malformed keep-alive answer: %w", jerr)
			}
		}
		switch {
		case err == nil && !answer.Known:
			go c.lost("the provider no longer knows the session")
			return
		case err == nil:
			misses = 0
		case errors.Is(err, dialog.ErrClosed):
			go c.lost("the dialog with the provider closed")
			return
		default:
			misses++
			if misses >= 3 {
				go c.lost(fmt.Sprintf("the provider stopped answering (%d keep-alives lost)", misses))
				return
			}
		}
	}
}

// end ends the session once: the data channel goes down, the provider is
// told if tell, the dialog closes, and OnEnd hears of it if notify.
func (c *Conn) end(reason string, tell, notify bool) {
	c.endOnce.Do(func() {
		c.reason = reason
		close(c.ended)
		c.connector.Disconnect()
		if tell {
			b, _ := json.Marshal(Destroy{SessionID: c.id, Reason: reason})
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			c.d.Request(ctx, TopicDestroy, b)
			cancel()
		}
		c.d.Close()
		if notify && c.cfg.OnEnd != nil {
			c.cfg.OnEnd(reason)
		}
	})
}

// lost ends a session that ended on its own (the provider already knows, or
// can't be told) and reports it to OnEnd.
func (c *Conn) lost(reason string) { c.end(reason, false, true) }

// Close destroys the session: tells the provider, takes the data channel
// down and closes the dialog.
func (c *Conn) Close() {
	c.end("disconnected by the consumer", true, false)
	c.wg.Wait()
}

// Abort destroys the session for reason (telling the provider) and
// reports it to OnEnd, as if the session had ended on its own.
func (c *Conn) Abort(reason string) { c.end(reason, true, true) }

// Dialog is the session's dialog, for exchanges alongside it (payments).
func (c *Conn) Dialog() *dialog.Dialog { return c.d }
