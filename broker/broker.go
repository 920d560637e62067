// Package broker is myst's message broker: an embedded NATS server for local
// networks, and the node's connection to one or more NATS servers, which
// reconnects and re-subscribes on its own.
package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/mystnode/myst/identity"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// ServerConfig says how to run an embedded NATS server.
type ServerConfig struct {
	// Addr is host:port for clients; port 0 picks a free one.
	Addr string
	// ClusterAddr, if set, is host:port for routes to other servers of a
	// cluster; Routes lists their route URLs (nats-route://host:port).
	ClusterAddr string
	ClusterName string
	Routes      []string
	// MaxPayload caps a message's size (default 1 MiB).
	MaxPayload int32
	// MaxConn caps client connections (default 16,384).
	MaxConn int
	// Admission, if set, admits registered identities only (see
	// AdmissionConfig); nil leaves the broker open, for tests of other
	// parts.
	Admission *AdmissionConfig
}

// Server is a running embedded NATS server.
type Server struct {
	ns      *server.Server
	account string     // where clients are: MYST under admission, else $G
	auth    *nats.Conn // the admission callout's connection
}

// StartServer starts an embedded NATS server and waits until it accepts
// clients.
func StartServer(cfg ServerConfig) (*Server, error) {
	host, port, err := splitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("broker address: %w", err)
	}
	opts := &server.Options{}
	var authKey, issuer nkeys.KeyPair
	if a := cfg.Admission; a != nil {
		if a.Registered == nil {
			return nil, errors.New("broker admission needs a registry")
		}
		if authKey, err = nkeys.CreateUser(); err != nil {
			return nil, err
		}
		if issuer = a.Issuer; issuer == nil {
			if issuer, err = nkeys.CreateAccount(); err != nil {
				return nil, err
			}
		}
		authPub, _ := authKey.PublicKey()
		issuerPub, _ := issuer.PublicKey()
		if a.Account == "" {
			a.Account = "MYST"
		}
		conf := AdmissionConfigText(authPub, issuerPub, a.Account)
		if err := opts.ProcessConfigString(conf); err != nil {
			return nil, fmt.Errorf("broker admission config: %w", err)
		}
	}
	opts.Host, opts.Port, opts.NoSigs, opts.NoLog, opts.MaxPayload = host, port, true, true, cfg.MaxPayload
	// Every client gets a nonce, so nodes joining with Identities connect
	// to an open embedded broker too.
	opts.AlwaysEnableNonce = true
	opts.MaxConn = cfg.MaxConn
	if opts.MaxConn <= 0 {
		opts.MaxConn = 16384
	}
	if opts.MaxPayload == 0 {
		opts.MaxPayload = 1 << 20
	}
	if port == 0 {
		opts.Port = server.RANDOM_PORT
	}
	if cfg.ClusterAddr != "" {
		ch, cp, err := splitHostPort(cfg.ClusterAddr)
		if err != nil {
			return nil, fmt.Errorf("cluster address: %w", err)
		}
		if cp == 0 {
			cp = server.RANDOM_PORT
		}
		opts.Cluster = server.ClusterOpts{Name: cfg.ClusterName, Host: ch, Port: cp}
		if opts.Cluster.Name == "" {
			opts.Cluster.Name = "myst"
		}
		opts.Routes = server.RoutesFromStr(strings.Join(cfg.Routes, ","))
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("nats server on %s not ready after 10s (is the port free?)", cfg.Addr)
	}
	srv := &Server{ns: ns, account: server.DEFAULT_GLOBAL_ACCOUNT}
	if a := cfg.Admission; a != nil {
		srv.account = a.Account
		srv.auth, err = ServeAdmission([]string{ns.ClientURL()}, authKey, issuer, *a)
		if err != nil {
			srv.Close()
			return nil, fmt.Errorf("broker admission service: %w", err)
		}
	}
	return srv, nil
}

// URL is the nats:// URL clients dial.
func (s *Server) URL() string { return s.ns.ClientURL() }

// RouteURL is the nats-route:// URL other cluster members dial ("" when not
// clustered).
func (s *Server) RouteURL() string {
	if a := s.ns.ClusterAddr(); a != nil {
		return "nats-route://" + a.String()
	}
	return ""
}

// NumRoutes is the number of routes to other cluster members.
func (s *Server) NumRoutes() int { return s.ns.NumRoutes() }

// HasInterest says whether a client of this server or of a route peer is
// subscribed to subject (route peers' subscriptions arrive a moment after
// they are made).
func (s *Server) HasInterest(subject string) bool {
	acc, err := s.ns.LookupAccount(s.account)
	if err != nil {
		return false
	}
	return acc.SubscriptionInterest(subject)
}

// Close stops the server and waits for it.
func (s *Server) Close() {
	if s.auth != nil {
		s.auth.Close()
	}
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", addr)
	}
	return host, port, nil
}

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
