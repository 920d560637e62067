// Package broker is the node's side of myst's message broker: its
// connection to one or more NATS servers, which reconnects and
// re-subscribes on its own, the identity proof it joins with, the subjects
// of the dialogs, and the admission callout that lets only registered
// identities in. The server itself is package brokerd, which nodes do not
// link.
package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/mystnode/myst/identity"
	"github.com/nats-io/nats.go"
)

// ErrNoURLs means no broker URL was given.
var ErrNoURLs = errors.New("no broker URLs")

// Connect dials the first reachable of urls and keeps the connection up:
// after a broker restart or a network fault it reconnects (to any of urls)
// forever, re-subscribing and flushing what was published meanwhile.
// opts add to that (Identities, to join an admission broker).
func Connect(urls []string, name string, logger *slog.Logger, opts ...nats.Option) (*nats.Conn, error) {
	if len(urls) == 0 {
		return nil, ErrNoURLs
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	nc, err := nats.Connect(strings.Join(urls, ","), append([]nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.RetryOnFailedConnect(false),
		nats.PingInterval(10 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			logger.Warn("broker disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			logger.Info("broker reconnected", "url", c.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			logger.Warn("broker error", "subject", subject, "err", err)
		}),
	}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to broker %s: %w", strings.Join(urls, ","), err)
	}
	return nc, nil
}

// Join connects as the identities signers returns (see Identities) and
// stays connected as they change (ForceReconnect makes it connect again
// as the current ones). When the broker does not admit them yet (none is
// registered) or cannot be reached, the connection keeps trying in the
// background, backing off up to 5 s, and Join returns it with the first
// error, to be told to the user. A broker with no nonce to sign (an open
// one without admission) is joined anonymously.
func Join(urls []string, name string, logger *slog.Logger, signers func() []*identity.Signer) (*nats.Conn, error) {
	nc, err := Connect(urls, name, logger, Identities(signers), nats.IgnoreAuthErrorAbort(), nats.CustomReconnectDelay(backoff))
	if err == nil {
		return nc, nil
	}
	if errors.Is(err, nats.ErrNkeysNotSupported) {
		return Connect(urls, name, logger)
	}
	nc, rerr := Connect(urls, name, logger, Identities(signers), nats.IgnoreAuthErrorAbort(), nats.CustomReconnectDelay(backoff), nats.RetryOnFailedConnect(true))
	if rerr != nil {
		return nil, rerr
	}
	return nc, err
}

// backoff is the wait before reconnect attempt n: 250 ms doubling up to
// 5 s, with up to a quarter more at random.
func backoff(attempts int) time.Duration {
	d := min(250*time.Millisecond<<min(attempts, 5), 5*time.Second)
	return d + rand.N(d/4+1)
}
