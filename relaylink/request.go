// Package relaylink is a node's side of the network's TURN relay (RFC
// 8656): it asks the broker for time-limited credentials (a request signed
// by the node's identity; the network's broker-admission service issues
// them to registered identities only), holds an allocation on the relay
// (a relayed address consumers send to when no direct path exists),
// grants the relay's permissions to the consumers' addresses, keeps all of
// it refreshed, and allocates again when the relay lost it (a restart),
// telling the node the new address.
package relaylink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/broker"
	"github.com/mystnode/myst/identity"
	"github.com/nats-io/nats.go"
)

// Realm is the realm of myst's relays (coturn: realm=myst).
const Realm = "myst"

// Request asks for relay credentials: an identity's signature over the
// relay's realm and the time, so that nobody else asks in its name (and
// uses up its allocations).
type Request struct {
	ID        common.Address `json:"id"`
	At        int64          `json:"at"` // unix seconds
	Signature []byte         `json:"signature"`
}

// Grant is issued credentials.
type Grant struct {
	Username string    `json:"username"`
	Password string    `json:"password"`
	Expires  time.Time `json:"expires"`
	URLs     []string  `json:"urls"`
}

// Answer is the issuer's answer on the broker: a grant or why not.
type Answer struct {
	Grant *Grant `json:"grant,omitempty"`
	Error string `json:"error,omitempty"`
}

// MaxSkew bounds how far a request's time may be from the issuer's.
const MaxSkew = 2 * time.Minute

// RequestMessage is what a request's signature covers.
func RequestMessage(at int64) []byte {
	return []byte("myst relay credentials " + Realm + " " + strconv.FormatInt(at, 10))
}

// SignRequest is s's request for credentials, now.
func SignRequest(s *identity.Signer, now time.Time) (Request, error) {
	r := Request{ID: s.Address(), At: now.Unix()}
	sig, err := s.Sign(RequestMessage(r.At))
	if err != nil {
		return Request{}, err
	}
	r.Signature = sig
	return r, nil
}

// AskTimeout bounds one request for credentials over the broker.
const AskTimeout = 5 * time.Second

// ErrNoIssuer: nobody on the broker answered a request for credentials.
var ErrNoIssuer = errors.New("no relay credentials from the broker")

// Ask requests credentials for s over the broker connection nc: to
// broker.RelayCredentials(s), answered on a subject of s's own mailbox.
func Ask(ctx context.Context, nc *nats.Conn, s *identity.Signer) (Grant, error) {
	req, err := SignRequest(s, time.Now())
	if err != nil {
		return Grant{}, err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return Grant{}, err
	}
	var nonce [8]byte
	rand.Read(nonce[:])
	inbox := broker.RelayInbox(s.Address(), hex.EncodeToString(nonce[:]))
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return Grant{}, fmt.Errorf("relay credentials: %w", err)
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(broker.RelayCredentials(s.Address()), inbox, body); err != nil {
		return Grant{}, fmt.Errorf("relay credentials: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, AskTimeout)
	defer cancel()
	msg, err := sub.NextMsgWithContext(ctx)
	if err != nil {
		return Grant{}, fmt.Errorf("%w within %s (%v): the network's broker-admission service issues them; ask its operator to run it with the relay's secret", ErrNoIssuer, AskTimeout, err)
	}
	var a Answer
	if err := json.Unmarshal(msg.Data, &a); err != nil {
		return Grant{}, fmt.Errorf("relay credentials: undecodable answer: %v", err)
	}
	if a.Error != "" {
		return Grant{}, fmt.Errorf("relay credentials refused: %s", a.Error)
	}
	if a.Grant == nil || a.Grant.Username == "" {
		return Grant{}, errors.New("relay credentials: an empty answer")
	}
	return *a.Grant, nil
}
