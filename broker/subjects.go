package broker

import (
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

// Prefix starts every subject of myst's peer messages. A subject names
// the recipient and the sender: Prefix + "<to>.<from>." + kind, addresses
// in lower-case hex. Admission lets a connection subscribe only under its
// own identities' "<to>" and publish only with one of them as "<from>", so
// a node receives only its own mail and cannot send as anyone else.
const Prefix = "myst.v2."

func token(a common.Address) string { return strings.ToLower(a.Hex()) }

// Subject is the subject of kind messages from one identity to another.
func Subject(to, from common.Address, kind string) string {
	return Prefix + token(to) + "." + token(from) + "." + kind
}

// Mailbox is the prefix of every subject to id: what a provider's
// proposal names as its contact subject (dialog-creates go to
// Mailbox(provider) + ".<consumer>.create").
func Mailbox(id common.Address) string { return Prefix + token(id) }

// FromAny is the subscription to kind messages for to from any sender.
func FromAny(to common.Address, kind string) string {
	return Prefix + token(to) + ".*." + kind
}

// Sender is the "<from>" of a subject made by Subject.
func Sender(subject string) (common.Address, bool) {
	rest, ok := strings.CutPrefix(subject, Prefix)
	if !ok {
		return common.Address{}, false
	}
	f := strings.SplitN(rest, ".", 3)
	if len(f) < 3 || !common.IsHexAddress(f[1]) {
		return common.Address{}, false
	}
	return common.HexToAddress(f[1]), true
}

// Permissions are what a connection holding ids may publish and subscribe
// to: mail to anyone from one of ids, and mail to ids.
func Permissions(ids []common.Address) (pub, sub []string) {
	for _, id := range ids {
		pub = append(pub, Prefix+"*."+token(id)+".>")
		sub = append(sub, Prefix+token(id)+".>")
	}
	return pub, sub
}

// RelayCredentials is the subject a node asks for relay credentials on,
// as from: under Prefix with "relay" as the recipient, so the permissions
// every admitted connection has let it ask only in its own name. The
// broker-admission service answers it (see AdmissionConfigText).
func RelayCredentials(from common.Address) string {
	return Prefix + "relay." + token(from) + ".credentials"
}

// RelayCredentialsAll is what the issuer subscribes to.
const RelayCredentialsAll = Prefix + "relay.*.credentials"

// RelayInbox is where id's request for relay credentials is answered: in
// its own mailbox.
func RelayInbox(id common.Address, nonce string) string {
	return Prefix + token(id) + ".relay.credentials." + nonce
}
