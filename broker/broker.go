// Package broker is myst's message broker: an embedded NATS server for local
// networks, and the node's connection to one or more NATS servers, which
// reconnects and re-subscribes on its own.
package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
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
}

// Server is a running embedded NATS server.
type Server struct {
	ns *server.Server
}

// StartServer starts an embedded NATS server and waits until it accepts
// clients.
func StartServer(cfg ServerConfig) (*Server, error) {
	host, port, err := splitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("broker address: %w", err)
	}
	opts := &server.Options{
		Host:       host,
		Port:       port,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: cfg.MaxPayload,
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
	return &Server{ns: ns}, nil
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
	return s.ns.GlobalAccount().SubscriptionInterest(subject)
}

// Close stops the server and waits for it.
func (s *Server) Close() {
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
func Connect(urls []string, name string, logger *slog.Logger) (*nats.Conn, error) {
	if len(urls) == 0 {
		return nil, ErrNoURLs
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	nc, err := nats.Connect(strings.Join(urls, ","),
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.RetryOnFailedConnect(false),
		nats.PingInterval(10*time.Second),
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
	)
	if err != nil {
		return nil, fmt.Errorf("connect to broker %s: %w", strings.Join(urls, ","), err)
	}
	return nc, nil
}
