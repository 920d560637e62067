package session

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"

	"github.com/mystnode/myst/identity"
)

// Type is one kind of service (noop, openvpn, wireguard…) with both of its
// sides. A node keeps a table of the types it runs; adding a type is its
// package, which exports its Type, and one line in that table.
type Type struct {
	Name string
	// Tunnel types get a tunnel subnet and a UDP port from the node's pool
	// for each service, with forwarding and NAT of the subnet to the
	// uplink; DefaultPort and DefaultSubnet are the pool's defaults.
	Tunnel        bool
	DefaultPort   int
	DefaultSubnet netip.Prefix
	// Provide starts a service of this type.
	Provide func(ctx context.Context, env ProvideEnv) (Provisioner, error)
	// Punches: the type can reach consumers through a cone NAT by
	// punching (ProvideEnv.Punch), so it runs behind NAT without a port
	// mapping.
	Punches bool
	// Relays: the type takes a relay allocation (ProvideEnv.Relay), so it
	// is reached through the network's relay when no direct path exists.
	Relays bool
	// Connector makes the consumer's side of one connection.
	Connector func(env ConnectEnv) Connector
	// ClientInterface begins the name of every consumer tunnel interface
	// of the type ("" for none): the consumer refuses new connections
	// coming in on them.
	ClientInterface string
}

// ProvideEnv is what a node gives a new service.
type ProvideEnv struct {
	ServiceID string
	Dir       string     // runtime files of the service; the type creates it (0700)
	PublicIP  netip.Addr // where consumers reach the provider
	// PublicPort is the port consumers send to (0: Port); it differs from
	// Port behind a NAT or a mapping that changes ports.
	PublicPort int
	// Punch: the provider is behind a cone NAT; before answering a
	// session it sends a packet from Port to each of the consumer's
	// candidates so that the consumer's packets get through its NAT.
	Punch bool
	// Subnet and Port are the service's slot (tunnel types only). Port 0:
	// pick a free one.
	Subnet netip.Prefix
	Port   int
	Binary string // the program the type runs, where it runs one (openvpn)
	// SessionMbit holds each session to this many Mbit/s each way in the
	// data plane (0: no limit).
	SessionMbit float64
	// Relay, if set, is the service's allocation on the network's relay:
	// consumers that ask for it (ConsumerRelay) send there.
	Relay  Relay
	Logger *slog.Logger
}

// Relay is a relayed address a tunnel service is reached at besides its
// direct endpoint (a relaylink.Link).
type Relay interface {
	// Addr is the relayed address consumers send to.
	Addr() netip.AddrPort
	// Server is the relay's own address (where a consumer asks STUN).
	Server() netip.AddrPort
	// Permit lets packets from these addresses through the relay; Forget
	// stops granting one again.
	Permit(ips ...netip.Addr) error
	Forget(ip netip.Addr)
	// ReadFrom and WriteTo carry the tunnel's packets.
	ReadFrom(p []byte) (int, netip.AddrPort, error)
	WriteTo(p []byte, to netip.AddrPort) error
}

// ConnectEnv is what a node gives the consumer's side of a connection.
type ConnectEnv struct {
	Signer *identity.Signer // the consumer
	Dir    string           // runtime files; the type creates it (0700)
	// Exclude lists hosts that stay reachable outside the tunnel (broker,
	// chain RPC, discovery), besides the provider's own endpoint.
	Exclude []netip.Addr
	Binary  string
	Logger  *slog.Logger
	// STUN servers the consumer's side may ask for its public candidates
	// (for providers that punch, and for the relay's permission).
	STUN []netip.AddrPort
	// Relay: the consumer goes through the provider's relayed address (no
	// direct path between the two); STUN's first server is the relay.
	Relay bool
	// Upgrade (with Relay): the pair could punch; the connection starts
	// through the relay and moves to the direct path once it works, for a
	// type that can.
	Upgrade bool
	// ExcludeNets are networks the user keeps outside the tunnel (split
	// tunnelling): they keep the host's own route. OnlyNets, instead, are
	// the only ones routed through the tunnel (with its DNS address).
	ExcludeNets []netip.Prefix
	OnlyNets    []netip.Prefix
}

// Provisioner is the provider's side of one running service: it grants and
// revokes consumers' access to the data channel.
type Provisioner interface {
	// Start grants a new session access, given the config the consumer sent
	// in session-create, and returns the config the consumer needs. An
	// error refuses the session with its text.
	Start(ctx context.Context, s Info, consumerConfig json.RawMessage) (json.RawMessage, error)
	// Stop revokes a session's access.
	Stop(s Info)
	// Bytes is what the session moved from and to the consumer so far.
	Bytes(sessionID string) (in, out uint64)
	// Close stops the service; every session was stopped before.
	Close() error
}

// Explainer is a Connector that says why its data channel went down.
type Explainer interface {
	DownReason() string
}

// Mover is a Provisioner whose sessions' data path can move (a relay
// allocation made again): Moved is the new config of a session whose path
// moved, false for one whose did not.
type Mover interface {
	Moved(sessionID string) (json.RawMessage, bool)
}

// Follower is a Connector that can follow its provider's data path to a
// new place mid-session (see Mover). It refuses what it cannot follow
// safely; the session is then lost when the old path goes quiet.
type Follower interface {
	Follow(providerConfig json.RawMessage) error
}

// Pauser is a Provisioner that can stop a session's forwarding for a
// while without ending it: a provider holding a consumer at its credit
// limit until the consumer's funds are reserved.
type Pauser interface {
	Pause(sessionID string, paused bool) error
}

// Connector is the consumer's side of one connection.
type Connector interface {
	// Config is what the consumer sends in session-create (nil for none).
	Config() (json.RawMessage, error)
	// Peer reads from the provider's config where the data channel goes
	// and the provider's DNS address (both invalid for a type without).
	Peer(providerConfig json.RawMessage) (Peer, error)
	// Connect brings the data channel up with the provider's config and
	// returns once traffic flows.
	Connect(ctx context.Context, sessionID string, providerConfig json.RawMessage) error
	// Disconnect takes it down, restoring what Connect changed.
	Disconnect()
	// Stats is what the connection moved so far.
	Stats() Stats
	// Down is closed when an established data channel goes down on its own.
	Down() <-chan struct{}
}

// Peer is the provider's side of a data channel.
type Peer struct {
	Endpoint netip.Addr // where the tunnel's packets go
	DNS      netip.Addr // the resolver on the provider's tunnel address
	// Path is how the tunnel reaches the provider: "direct" or "relayed"
	// ("" for a type without).
	Path string
	// Direct is the provider's direct address for a connection that starts
	// relayed and moves there (invalid: none): the kill switch allows it
	// from the start.
	Direct netip.Addr
}

// Stats are a connection's counters and where its tunnel is.
type Stats struct {
	BytesIn, BytesOut uint64
	TunnelIP          string
	Interface         string // the tunnel's network interface, "" for none
	// Path is the path the tunnel takes now, for a connection whose path
	// can change ("" otherwise).
	Path string
}
