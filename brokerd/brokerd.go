// Package brokerd runs myst's message broker in-process: an embedded NATS
// server, alone or in a cluster, with the admission callout (package
// broker) that admits registered identities only. localnet and myst-net
// use it; the node binary does not link it.
package brokerd

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/mystnode/myst/broker"
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
	// broker.AdmissionConfig); nil leaves the broker open, for tests of other
	// parts.
	Admission *broker.AdmissionConfig
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
		conf := broker.AdmissionConfigText(authPub, issuerPub, a.Account)
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
		srv.auth, err = broker.ServeAdmission([]string{ns.ClientURL()}, authKey, issuer, *a)
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
