package network

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

func TestLoadValidates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := map[string]string{
		"not valid JSON":        `{"chain_id":`,
		"chain_id":              `{"ether_rpc_url":"http://127.0.0.1:8545","registry_address":"0x00000000000000000000000000000000000000aa"}`,
		"ether_rpc_url":         `{"chain_id":1,"ether_rpc_url":"ftp://x","registry_address":"0x00000000000000000000000000000000000000aa"}`,
		"registry_address":      `{"chain_id":1,"ether_rpc_url":"http://127.0.0.1:8545"}`,
		"go together":           `{"chain_id":1,"ether_rpc_url":"http://127.0.0.1:8545","registry_address":"0x00000000000000000000000000000000000000aa","gas_payer_keystore":"k.json"}`,
		"hex string of odd len": `{"chain_id":1,"ether_rpc_url":"http://127.0.0.1:8545","registry_address":"0x123"}`,
	}
	for want, content := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(want, " ", "_")+".json")
		os.WriteFile(p, []byte(content), 0o600)
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%s) = %v, want an error naming %q", content, err, want)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); !os.IsNotExist(errUnwrapAll(err)) {
		t.Errorf("missing file: %v", err)
	}
}

func errUnwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	payer := common.HexToAddress("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf")
	f := &File{ChainID: 1337, EtherRPCURL: "http://127.0.0.1:8545", RegistryAddress: common.HexToAddress("0xaa"),
		GasPayerAddress: &payer, GasPayerKeystore: "payer.json"}
	p := filepath.Join(dir, FileName)
	if err := f.Save(p); err != nil {
		t.Fatal(err)
	}
	g, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if g.ChainID != 1337 || g.RegistryAddress != f.RegistryAddress || *g.GasPayerAddress != payer || g.path(g.GasPayerKeystore) != filepath.Join(dir, "payer.json") {
		t.Fatalf("round trip: %+v", g)
	}
	if _, err := g.GasPayer(); err == nil {
		t.Fatal("GasPayer with a missing keystore file succeeded")
	}
}
