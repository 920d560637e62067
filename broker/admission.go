package broker

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/mystnode/myst/identity"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Admission lets only registered identities use the broker, through the
// NATS auth callout (nats-server 2.10+): the server presents a fresh
// nonce to every connection (it has an nkey user, the callout's own, so
// it always does); a node answers with one Ethereum signature of the nonce
// per identity it holds (in the CONNECT's "sig", with "nkey" set to
// AuthNkey); the callout service recovers the addresses, asks the
// registry, and issues the connection a user JWT whose permissions are
// those of Permissions for its registered identities. Anonymous clients,
// bad signatures and unregistered identities are refused.
const AuthNkey = "myst-ethereum"

// loginDigest is what an identity signs to join the broker: a fixed
// domain, so a broker nonce signature is good for nothing else.
func loginDigest(nonce []byte) []byte {
	return crypto.Keccak256([]byte("myst broker admission\n"), nonce)
}

// SignNonce is the CONNECT signature for signers: their signatures of the
// nonce, 65 bytes each.
func SignNonce(nonce []byte, signers []*identity.Signer) ([]byte, error) {
	if len(signers) == 0 {
		return nil, errors.New("no unlocked identity to join the broker with")
	}
	out := make([]byte, 0, 65*len(signers))
	for _, s := range signers {
		sig, err := s.SignHash(loginDigest(nonce))
		if err != nil {
			return nil, err
		}
		out = append(out, sig...)
	}
	return out, nil
}

// Identities is the connect option that joins an admission broker as the
// identities signers returns at each (re)connect. A broker without
// admission ignores it.
func Identities(signers func() []*identity.Signer) nats.Option {
	return func(o *nats.Options) error {
		o.Nkey = AuthNkey
		o.SignatureCB = func(nonce []byte) ([]byte, error) { return SignNonce(nonce, signers()) }
		return nil
	}
}

// MaxIdentities bounds the identities one connection may join with.
const MaxIdentities = 16

// AdmissionConfig configures the callout service.
type AdmissionConfig struct {
	// Registered says whether an identity is registered; registry.Cache's
	// IsRegistered (cached, like every registry check of the node).
	Registered func(ctx context.Context, id common.Address) (bool, error)
	// Issuer signs the user JWTs; members of a cluster share it. Nil:
	// a new one.
	Issuer nkeys.KeyPair
	// Account is where admitted connections go (default "MYST").
	Account string
	// Valid is how long an admission lasts; the connection is closed then
	// and reconnects, checking the registry again (default 24 h).
	Valid time.Duration
	// RelayCredentials, if set, answers requests for relay credentials
	// (RelayCredentials subjects; the sender is vouched for by the
	// broker's permissions) with the body to send back: the relay's
	// relay.Issuer.Answer.
	RelayCredentials func(ctx context.Context, from common.Address, body []byte) []byte
	Logger           *slog.Logger
}

// admission is the running callout service.
type admission struct {
	cfg    AdmissionConfig
	issuer nkeys.KeyPair
	sem    chan struct{}
}

// verify recovers the identities a CONNECT's signature holds.
func verify(nonce string, sig string) ([]common.Address, error) {
	if nonce == "" {
		return nil, errors.New("no nonce was presented")
	}
	raw, err := decodeSig(sig)
	if err != nil || len(raw) == 0 || len(raw)%65 != 0 {
		return nil, errors.New("the signature is not one or more Ethereum signatures")
	}
	if len(raw)/65 > MaxIdentities {
		return nil, fmt.Errorf("%d identities, more than the %d a connection may hold", len(raw)/65, MaxIdentities)
	}
	var ids []common.Address
	for i := 0; i < len(raw); i += 65 {
		id, _, err := identity.RecoverHash(loginDigest([]byte(nonce)), raw[i:i+65])
		if err != nil {
			return nil, fmt.Errorf("signature %d: %w", i/65+1, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// handle answers one authorization request.
func (a *admission) handle(msg *nats.Msg) {
	req, err := jwt.DecodeAuthorizationRequestClaims(string(msg.Data))
	if err != nil {
		a.cfg.Logger.Warn("broker admission: undecodable request", "err", err)
		return
	}
	ids, why := a.decide(req)
	resp := jwt.NewAuthorizationResponseClaims(req.UserNkey)
	resp.Audience = req.Server.ID
	if why != "" {
		resp.Error = why
		a.cfg.Logger.Info("broker admission refused", "client", req.ClientInformation.Host, "reason", why)
	} else {
		uc := jwt.NewUserClaims(req.UserNkey)
		uc.Audience = a.cfg.Account
		uc.Name = ids[0].Hex()
		uc.Expires = time.Now().Add(a.cfg.Valid).Unix()
		pub, sub := Permissions(ids)
		uc.Pub.Allow.Add(pub...)
		uc.Sub.Allow.Add(sub...)
		if resp.Jwt, err = uc.Encode(a.issuer); err != nil {
			resp.Jwt, resp.Error = "", "the broker could not issue the admission"
		}
	}
	token, err := resp.Encode(a.issuer)
	if err != nil {
		a.cfg.Logger.Warn("broker admission: encode", "err", err)
		return
	}
	msg.Respond([]byte(token))
}

// decide returns the registered identities a request proves, or why it
// is refused.
func (a *admission) decide(req *jwt.AuthorizationRequestClaims) ([]common.Address, string) {
	co := req.ConnectOptions
	if co.Nkey != AuthNkey || co.SignedNonce == "" {
		return nil, "anonymous: this broker admits registered myst identities only (connect with a node that has a registered identity unlocked)"
	}
	ids, err := verify(req.ClientInformation.Nonce, co.SignedNonce)
	if err != nil {
		return nil, "bad admission signature: " + err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var ok []common.Address
	var unknown []string
	for _, id := range ids {
		reg, err := a.cfg.Registered(ctx, id)
		if err != nil {
			return nil, "the broker cannot reach the registry: " + err.Error()
		}
		if reg {
			ok = append(ok, id)
		} else {
			unknown = append(unknown, id.Hex())
		}
	}
	if len(ok) == 0 {
		return nil, "not registered: " + strings.Join(unknown, ", ") + " (register with `myst identity register`)"
	}
	return ok, ""
}

// start subscribes the callout service on nc (a connection as the
// callout's auth user).
func (a *admission) start(nc *nats.Conn) error {
	if a.cfg.RelayCredentials != nil {
		_, err := nc.Subscribe(RelayCredentialsAll, func(msg *nats.Msg) {
			from, ok := relaySender(msg.Subject)
			if !ok || msg.Reply == "" {
				return
			}
			select {
			case a.sem <- struct{}{}:
			default:
				return // busy: the node asks again
			}
			go func() {
				defer func() { <-a.sem }()
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				msg.Respond(a.cfg.RelayCredentials(ctx, from, msg.Data))
			}()
		})
		if err != nil {
			return err
		}
	}
	_, err := nc.Subscribe("$SYS.REQ.USER.AUTH", func(msg *nats.Msg) {
		select {
		case a.sem <- struct{}{}:
		default:
			// Too many at once: the server times the client out; it retries.
			return
		}
		go func() {
			defer func() { <-a.sem }()
			a.handle(msg)
		}()
	})
	if err != nil {
		return err
	}
	return nc.Flush()
}

// relaySender is the identity of a RelayCredentials subject.
func relaySender(subject string) (common.Address, bool) {
	rest, ok := strings.CutPrefix(subject, Prefix+"relay.")
	if !ok {
		return common.Address{}, false
	}
	id, ok := strings.CutSuffix(rest, ".credentials")
	if !ok || !common.IsHexAddress(id) || strings.Contains(id, ".") {
		return common.Address{}, false
	}
	return common.HexToAddress(id), true
}

func decodeSig(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// AdmissionConfigText is the nats-server configuration that hands every
// client but the callout's own user (authPub, an nkey user) to the
// admission callout, whose JWTs issuerPub signs, placing admitted clients
// in account; the callout's account exports the relay-credentials service
// (RelayCredentialsAll) to it. It goes into an external server's
// configuration as it is.
func AdmissionConfigText(authPub, issuerPub, account string) string {
	return fmt.Sprintf(`accounts {
  AUTH { users: [ { nkey: %q } ], exports: [ { service: %q } ] }
  %s { imports: [ { service: { account: AUTH, subject: %q } } ] }
}
authorization {
  auth_callout { issuer: %q, account: AUTH, auth_users: [ %q ] }
}
`, authPub, RelayCredentialsAll, account, RelayCredentialsAll, issuerPub, authPub)
}

// ServeAdmission runs the admission callout service on the NATS servers
// at urls (embedded, or an external cluster configured with
// AdmissionConfigText), connecting as the callout's user authKey and
// signing with issuer. Closing the connection stops it.
func ServeAdmission(urls []string, authKey, issuer nkeys.KeyPair, cfg AdmissionConfig) (*nats.Conn, error) {
	if cfg.Registered == nil {
		return nil, errors.New("broker admission needs a registry")
	}
	if cfg.Account == "" {
		cfg.Account = "MYST"
	}
	if cfg.Valid <= 0 {
		cfg.Valid = 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	authPub, err := authKey.PublicKey()
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.Name("myst-admission"), nats.Nkey(authPub, authKey.Sign),
		nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("connect as the admission callout's user: %w", err)
	}
	adm := &admission{cfg: cfg, issuer: issuer, sem: make(chan struct{}, 256)}
	if err := adm.start(nc); err != nil {
		nc.Close()
		return nil, err
	}
	return nc, nil
}
