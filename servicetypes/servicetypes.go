// Package servicetypes is the one table of the service types myst runs.
// Each type is a package of its own (noop, openvpn, wireguard) exporting a
// session.Type; a new type is that package and one line here. The node
// provides and connects to these, the daemon's flags come from them, and
// discovery accepts proposals of these (by default).
package servicetypes

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mystnode/myst/noop"
	"github.com/mystnode/myst/openvpn"
	"github.com/mystnode/myst/session"
	"github.com/mystnode/myst/wireguard"
)

// All is every service type, in the order flags and help list them.
var All = []session.Type{
	noop.Type,
	openvpn.Type,
	wireguard.Type,
}

// Default is the type a connection asks for when it names none.
var Default = openvpn.Type.Name

// Names are the types' names, sorted.
func Names() []string {
	var names []string
	for _, t := range All {
		names = append(names, t.Name)
	}
	slices.Sort(names)
	return names
}

// Lookup is the type called name.
func Lookup(name string) (session.Type, error) {
	for _, t := range All {
		if t.Name == name {
			return t, nil
		}
	}
	return session.Type{}, fmt.Errorf("unsupported service type %q (this node runs: %s)", name, strings.Join(Names(), ", "))
}

// ClientInterfaces are the name prefixes of the consumer's tunnel
// interfaces, of every type.
func ClientInterfaces() []string {
	var out []string
	for _, t := range All {
		if t.ClientInterface != "" {
			out = append(out, t.ClientInterface)
		}
	}
	return out
}
