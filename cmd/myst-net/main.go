// Command myst-net runs the network side of myst: a whole development
// network in one process (localnet), the Discovery API, the broker's
// admission callout, and the deployment of the contracts to a chain. The
// node that providers and consumers run is cmd/myst, which links none of
// this.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/mystnode/myst/cmd/internal/cli"
	"github.com/mystnode/myst/network"
	"github.com/spf13/cobra"
)

// globals are the flags every command shares.
type globals struct {
	dataDir string
	network string
}

func (g *globals) networkFile() (*network.File, string, error) {
	return cli.LoadNetwork(g.network, g.dataDir)
}

func defaultDataDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ".myst-net"
	}
	return filepath.Join(home, ".myst-net")
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "myst-net",
		Short:         "myst-net runs the network side of myst: localnet, discovery, broker admission, relay, contract deployment",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.dataDir, "data-dir", defaultDataDir(), "folder for the network's state (localnet's chain, network.json)")
	pf.StringVar(&g.network, "network", "", "network file (network.json); default <data-dir>/network.json")
	root.AddCommand(newLocalnetCmd(g), newDiscoveryCmd(g), newBrokerAdmissionCmd(g), newDeployCmd(), newRelayCmd())
	return root
}

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "myst-net: %v\n", err)
		os.Exit(1)
	}
}
