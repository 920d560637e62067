// Package noop is the noop service type: sessions with no data channel, for
// tests and health checks of the marketplace itself.
package noop

import (
	"context"
	"encoding/json"

	"github.com/mystnode/myst/session"
)

// Type is the noop service type.
var Type = session.Type{
	Name:      "noop",
	Provide:   func(context.Context, session.ProvideEnv) (session.Provisioner, error) { return provisioner{}, nil },
	Connector: func(session.ConnectEnv) session.Connector { return connector{} },
}

type provisioner struct{}

func (provisioner) Start(context.Context, session.Info, json.RawMessage) (json.RawMessage, error) {
	return json.RawMessage(`{}`), nil
}
func (provisioner) Stop(session.Info)             {}
func (provisioner) Bytes(string) (uint64, uint64) { return 0, 0 }
func (provisioner) Close() error                  { return nil }

// Pause has nothing to stop: a noop session moves no traffic.
func (provisioner) Pause(string, bool) error { return nil }

type connector struct{}

func (connector) Config() (json.RawMessage, error)                       { return nil, nil }
func (connector) Connect(context.Context, string, json.RawMessage) error { return nil }
func (connector) Disconnect()                                            {}
func (connector) Stats() session.Stats                                   { return session.Stats{} }
func (connector) Down() <-chan struct{}                                  { return nil }
func (connector) Peer(json.RawMessage) (session.Peer, error)             { return session.Peer{}, nil }
