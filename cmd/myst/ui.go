package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"time"

	"github.com/mystnode/myst/api"
	"github.com/spf13/cobra"
)

func newUICmd(g *globals) *cobra.Command {
	var open bool
	var host string
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "Print a sign-in link to the daemon's web UI (valid once, for 2 minutes)",
		Long: `Asks the daemon for a one-time sign-in code and prints the web UI's URL
carrying it. Opening it signs the browser in for 12 hours (a cookie only
that browser holds); the link itself then no longer works. --open starts
the desktop's browser with it (xdg-open).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ask(g, cmd, 30*time.Second, (*api.Client).UICode, func(out io.Writer, c api.UICode) error {
				if host == "" {
					host = g.apiAddr
				}
				u := fmt.Sprintf("http://%s/ui/#code=%s", host, c.Code)
				fmt.Fprintln(out, u)
				if open {
					ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
					defer cancel()
					if err := exec.CommandContext(ctx, "xdg-open", u).Start(); err != nil {
						return fmt.Errorf("open a browser: %w (open the link above by hand)", err)
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&open, "open", false, "open the link in the desktop's browser")
	cmd.Flags().StringVar(&host, "host", "", "host:port the browser reaches the daemon at (its --ui-addr; default --api-addr)")
	return cmd
}
