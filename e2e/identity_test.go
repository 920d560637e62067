package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/keystore"
)

func TestRegisterIdentityThroughCLI(t *testing.T) {
	t.Parallel()
	ln := startLocalnet(t)
	dir := t.TempDir()
	pass := writeFile(t, dir, "pass", "correct horse\n")
	node := []string{"--data-dir", filepath.Join(dir, "node"), "--network", ln.network, "--lightkdf"}

	id := mustMyst(t, append(node, "identity", "new", "--passphrase-file", pass)...).lastLine()
	if !strings.HasPrefix(id, "0x") || len(id) != 42 {
		t.Fatalf("identity new printed %q as its last line", id)
	}
	if got := mustMyst(t, append(node, "identity", "list")...).lastLine(); got != id {
		t.Fatalf("identity list = %q, want %q", got, id)
	}
	if got := mustMyst(t, append(node, "identity", "status", id)...).lastLine(); got != "unregistered" {
		t.Fatalf("status before = %q", got)
	}
	if isRegistered(t, ln, id) {
		t.Fatal("eth_call says registered before registration")
	}

	r := mustMyst(t, append(node, "identity", "register", id, "--passphrase-file", pass)...)
	if !strings.Contains(r.stdout, "registered "+id) || !strings.Contains(r.stderr, "sent register "+id+" in transaction") {
		t.Fatalf("register output:\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
	}
	if !isRegistered(t, ln, id) {
		t.Fatal("eth_call isRegistered is false after `myst identity register`")
	}
	if got := mustMyst(t, append(node, "identity", "status", id)...).lastLine(); got != "registered" {
		t.Fatalf("status after = %q", got)
	}
	// Again: a success that says so.
	r = mustMyst(t, append(node, "identity", "register", id, "--passphrase-file", pass)...)
	if !strings.Contains(r.stdout, "already registered") {
		t.Fatalf("second register: %s", r.stdout)
	}

	// Export, then import into another node: the same identity, usable.
	exported := filepath.Join(dir, "exported.json")
	mustMyst(t, append(node, "identity", "export", id, "--passphrase-file", pass, "--out", exported)...)
	blob, err := os.ReadFile(exported)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := keystore.DecryptKey(blob, "correct horse"); err != nil || k.Address.Hex() != id {
		t.Fatalf("exported file: %v", err)
	}
	other := []string{"--data-dir", filepath.Join(dir, "other"), "--network", ln.network}
	if got := mustMyst(t, append(other, "identity", "import", exported, "--passphrase-file", pass)...).lastLine(); got != id {
		t.Fatalf("import printed %q, want %q", got, id)
	}
}

func TestIdentityBadInput(t *testing.T) {
	t.Parallel()
	ln := startLocalnet(t)
	dir := t.TempDir()
	pass := writeFile(t, dir, "pass", "pw\n")
	wrong := writeFile(t, dir, "wrong", "not-it\n")
	node := []string{"--data-dir", filepath.Join(dir, "node"), "--network", ln.network, "--lightkdf"}
	id := mustMyst(t, append(node, "identity", "new", "--passphrase-file", pass)...).lastLine()
	keystoreDir := filepath.Join(dir, "node", "keystore")

	unreachable := writeFile(t, dir, "unreachable.json", `{"chain_id":1337,"ether_rpc_url":"http://127.0.0.1:1","registry_address":"0x00000000000000000000000000000000000000aa"}`)
	garbage := writeFile(t, dir, "garbage.json", `{"chain_id":`)
	privKey := writeFile(t, dir, "key.hex", "0x0000000000000000000000000000000000000000000000000000000000000001\n")

	cases := []struct {
		name string
		args []string
		want string // in the one-line error
	}{
		{"wrong passphrase", append(node, "identity", "register", id, "--passphrase-file", wrong), "wrong passphrase"},
		{"unknown address", append(node, "identity", "register", "0x00000000000000000000000000000000000000aa", "--passphrase-file", pass), "myst identity list"},
		{"malformed address", append(node, "identity", "status", "0x1234"), "malformed identity address"},
		{"bad checksum", append(node, "identity", "status", flipOneLetterCase(id)), "malformed identity address"},
		{"missing network file", []string{"--data-dir", filepath.Join(dir, "node"), "--network", filepath.Join(dir, "nope.json"), "identity", "status", id}, "pass --network FILE"},
		{"unreadable network file", []string{"--data-dir", filepath.Join(dir, "node"), "--network", garbage, "identity", "status", id}, "not valid JSON"},
		{"unreachable rpc", []string{"--data-dir", filepath.Join(dir, "node"), "--network", unreachable, "identity", "status", id}, "is the chain running?"},
		{"no funds, self pay", append(node, "identity", "register", id, "--self-pay", "--passphrase-file", pass), "send ether to " + id},
		{"empty passphrase", append(node, "identity", "new"), "no passphrase"},
		{"export wrong passphrase", append(node, "identity", "export", id, "--passphrase-file", wrong), "wrong passphrase"},
		{"import keystore wrong passphrase", append([]string{"--data-dir", filepath.Join(dir, "third")}, "identity", "import", filepath.Join(keystoreDir, firstFile(t, keystoreDir)), "--passphrase-file", wrong), "does not open"},
		{"import garbage", append(node, "identity", "import", garbage, "--passphrase-file", pass), "neither a keystore v3 file nor a hex private key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := myst(t, c.args...)
			if r.code == 0 {
				t.Fatalf("exit 0, want failure; stdout %s", r.stdout)
			}
			msg := strings.TrimSpace(r.stderr)
			lines := strings.Split(msg, "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "myst: ") || !strings.Contains(last, c.want) {
				t.Fatalf("error %q, want one line containing %q", msg, c.want)
			}
		})
	}
	// Nothing was written half-way: one key in the keystore, still unregistered.
	if n := len(listDir(t, keystoreDir)); n != 1 {
		t.Fatalf("keystore holds %d files after the failures, want 1", n)
	}
	if isRegistered(t, ln, id) {
		t.Fatal("a failed registration registered the identity")
	}
	if _, err := os.Stat(filepath.Join(dir, "third", "keystore")); err == nil && len(listDir(t, filepath.Join(dir, "third", "keystore"))) != 0 {
		t.Fatal("a failed import left a file")
	}
	// A private key file imports (the test vector identity).
	if got := mustMyst(t, append(node, "identity", "import", privKey, "--passphrase-file", pass)...).lastLine(); got != "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf" {
		t.Fatalf("imported key 1 as %s", got)
	}
}

func listDir(t testing.TB, dir string) []os.DirEntry {
	t.Helper()
	e, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func firstFile(t testing.TB, dir string) string {
	t.Helper()
	e := listDir(t, dir)
	if len(e) == 0 {
		t.Fatal("empty keystore")
	}
	return e[0].Name()
}

// flipOneLetterCase breaks an EIP-55 checksum while keeping the address
// mixed case (only a mixed-case address carries a checksum).
func flipOneLetterCase(id string) string {
	for i := 2; i < len(id); i++ {
		b := []byte(id)
		switch {
		case b[i] >= 'a' && b[i] <= 'f':
			b[i] -= 'a' - 'A'
		case b[i] >= 'A' && b[i] <= 'F':
			b[i] += 'a' - 'A'
		default:
			continue
		}
		if body := string(b[2:]); body != strings.ToLower(body) && body != strings.ToUpper(body) {
			return string(b)
		}
	}
	return id
}
