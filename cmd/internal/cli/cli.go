// Package cli holds what the myst and myst-net commands share: reading a
// passphrase and loading the network file.
package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mystnode/myst/network"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// ReadPassphrase reads a passphrase from the first line of file, else from
// the terminal without echo (asking twice when confirm), else from one
// line of stdin.
func ReadPassphrase(cmd *cobra.Command, file, prompt string, confirm bool) (string, error) {
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read passphrase file: %w", err)
		}
		line, _, _ := strings.Cut(string(raw), "\n")
		return strings.TrimSuffix(line, "\r"), nil
	}
	if f, ok := cmd.InOrStdin().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(cmd.ErrOrStderr(), prompt)
		p, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return "", fmt.Errorf("read passphrase: %w", err)
		}
		if confirm {
			fmt.Fprint(cmd.ErrOrStderr(), "Repeat passphrase: ")
			again, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(cmd.ErrOrStderr())
			if err != nil {
				return "", fmt.Errorf("read passphrase: %w", err)
			}
			if string(again) != string(p) {
				return "", errors.New("the passphrases differ: run the command again")
			}
		}
		return string(p), nil
	}
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && (!errors.Is(err, io.EOF) || line == "") {
		return "", errors.New("no passphrase: pass --passphrase-file FILE or run the command in a terminal")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// LoadNetwork loads the network file at path, or <dataDir>/network.json
// when path is "", saying what to do when it is missing or broken.
func LoadNetwork(path, dataDir string) (*network.File, string, error) {
	if path == "" {
		path = filepath.Join(dataDir, network.FileName)
	}
	f, err := network.Load(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, path, fmt.Errorf("no network file at %s: pass --network FILE (`myst-net localnet` writes one into its data dir)", path)
	}
	if err != nil {
		return nil, path, fmt.Errorf("%w: fix the file or pass another with --network", err)
	}
	return f, path, nil
}
