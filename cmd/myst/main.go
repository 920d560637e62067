// Command myst is the myst node: it sells VPN service (provider) and buys
// it (consumer). The network side (localnet, the Discovery API, broker
// admission, contract deployment) is cmd/myst-net, so that the node links
// none of it.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// globals are the flags every command shares.
type globals struct {
	dataDir  string
	network  string
	lightKDF bool
	apiAddr  string
}

func defaultDataDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ".myst"
	}
	return filepath.Join(home, ".myst")
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "myst",
		Short:         "myst is a node of the decentralized VPN marketplace",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.dataDir, "data-dir", defaultDataDir(), "folder for the node's keystore and state")
	pf.StringVar(&g.network, "network", "", "network file (network.json); default <data-dir>/network.json")
	pf.BoolVar(&g.lightKDF, "lightkdf", false, "encrypt new keys with light scrypt (fast, weak: tests and throw-away networks only)")
	pf.StringVar(&g.apiAddr, "api-addr", "127.0.0.1:4050", "host:port of the daemon's local API")
	root.AddCommand(newIdentityCmd(g), newDaemonCmd(g), newPingCmd(g),
		newServiceCmd(g), newProposalsCmd(g), newConnectCmd(g), newStatusCmd(g), newNATCmd(g), newUICmd(g), newDisconnectCmd(g), newSessionsCmd(g),
		newPaymentsCmd(g), newEarningsCmd(g), newSettleCmd(g), newLeaktestCmd())
	// The network side's commands, which the node does not link.
	for name, netName := range map[string]string{"localnet": "localnet", "discovery": "discovery", "broker-admission": "broker-admission", "network": "deploy"} {
		root.AddCommand(&cobra.Command{Use: name, Hidden: true, DisableFlagParsing: true, RunE: func(*cobra.Command, []string) error {
			return fmt.Errorf("%q is a command of myst-net, the network side, which the node does not link: go build ./cmd/myst-net, then myst-net %s --help", name, netName)
		}})
	}
	return root
}

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "myst: %v\n", err)
		os.Exit(1)
	}
}
