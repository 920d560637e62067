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
