package main

import (
	"context"
	"io"
	"path/filepath"
	"time"

	"github.com/mystnode/myst/api"
	"github.com/spf13/cobra"
)

// client is the API client for the daemon of --data-dir at --api-addr.
func (g *globals) client() (*api.Client, error) {
	token, err := api.ReadToken(filepath.Join(g.dataDir, api.TokenFile))
	if err != nil {
		return nil, err
	}
	return api.NewClient(g.apiAddr, token), nil
}

// ask is every daemon command's "client, deadline, call, print": it makes
// one call to the daemon, bounded by d, and prints the answer.
func ask[T any](g *globals, cmd *cobra.Command, d time.Duration, call func(*api.Client, context.Context) (T, error), print func(io.Writer, T) error) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), d)
	defer cancel()
	v, err := call(c, ctx)
	if err != nil {
		return err
	}
	return print(cmd.OutOrStdout(), v)
}

// none is the answer of calls that return only an error.
type none struct{}

func noAnswer(err error) (none, error) { return none{}, err }
