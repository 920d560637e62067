package identity

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

const key1 = "0000000000000000000000000000000000000000000000000000000000000001"

func TestPrivateKeyOneVector(t *testing.T) {
	key, err := ParsePrivateKey("0x" + key1)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSigner(key)
	if got, want := s.Address().Hex(), "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"; got != want {
		t.Fatalf("address of key 1 = %s, want %s", got, want)
	}
	addr, err := AddressOfPublicKey(s.PublicKey())
	if err != nil || addr != s.Address() {
		t.Fatalf("AddressOfPublicKey = %s, %v", addr.Hex(), err)
	}
}

func TestSignRecoverVerify(t *testing.T) {
	key, _ := ParsePrivateKey(key1)
	s := NewSigner(key)
	msg := []byte("hello myst")
	sig, err := s.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) != 65 || (sig[64] != 27 && sig[64] != 28) {
		t.Fatalf("signature %x: want 65 bytes with V 27/28", sig)
	}
	// go-ethereum's own personal-message recovery agrees.
	raw := bytes.Clone(sig)
	raw[64] -= 27
	pub, err := crypto.SigToPub(accounts.TextHash(msg), raw)
	if err != nil || crypto.PubkeyToAddress(*pub) != s.Address() {
		t.Fatalf("go-ethereum recovers %v, %v", pub, err)
	}
	if err := Verify(s.Address(), msg, sig); err != nil {
		t.Fatal(err)
	}
	if err := Verify(s.Address(), []byte("hello myst!"), sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("other message: %v", err)
	}
	other, _ := crypto.GenerateKey()
	if err := Verify(crypto.PubkeyToAddress(other.PublicKey), msg, sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("other signer: %v", err)
	}
	bad := bytes.Clone(sig)
	bad[64] = 5
	if _, _, err := Recover(msg, bad); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("bad V: %v", err)
	}
	if _, _, err := Recover(msg, sig[:64]); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("short: %v", err)
	}
}

func TestParseAddress(t *testing.T) {
	good := []string{
		"0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf",
		"0x7e5f4552091a69125d5dfcb7b8c2659029395bdf",
		"0x7E5F4552091A69125D5DFCB7B8C2659029395BDF",
	}
	for _, s := range good {
		if _, err := ParseAddress(s); err != nil {
			t.Errorf("ParseAddress(%q): %v", s, err)
		}
	}
	bad := []string{"", "0x", "7E5F4552091A69125d5DfCb7b8C2659029395Bdf", "0x7E5F4552091A69125d5DfCb7b8C2659029395Bd",
		"0x7E5F4552091A69125d5DfCb7b8C2659029395Bdg", "0x7e5F4552091A69125d5DfCb7b8C2659029395Bdf"}
	for _, s := range bad {
		if _, err := ParseAddress(s); !errors.Is(err, ErrBadAddress) {
			t.Errorf("ParseAddress(%q) = %v, want ErrBadAddress", s, err)
		}
	}
}

func TestStoreWritesFilesGoEthereumDecrypts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := NewStore(dir, LightKDF)
	addr, err := s.Create("pw")
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("keystore holds %d files, want 1", len(entries))
	}
	info, _ := entries[0].Info()
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", info.Mode().Perm())
	}
	blob, _ := os.ReadFile(filepath.Join(dir, entries[0].Name()))
	key, err := keystore.DecryptKey(blob, "pw")
	if err != nil {
		t.Fatalf("go-ethereum DecryptKey: %v", err)
	}
	if key.Address != addr {
		t.Fatalf("decrypted %s, want %s", key.Address.Hex(), addr.Hex())
	}
	if _, err := keystore.DecryptKey(blob, "nope"); err == nil {
		t.Fatal("wrong passphrase decrypted")
	}
}

func TestStoreUsesGoEthereumKeystore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ks := keystore.NewKeyStore(dir, keystore.LightScryptN, keystore.LightScryptP)
	acc, err := ks.NewAccount("geth-pw")
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(dir, LightKDF)
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0] != acc.Address {
		t.Fatalf("List = %v, %v; want [%s]", list, err, acc.Address.Hex())
	}
	if _, err := s.Unlock(acc.Address, "wrong"); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	signer, err := s.Unlock(acc.Address, "geth-pw")
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := signer.Sign([]byte("x"))
	if err := Verify(acc.Address, []byte("x"), sig); err != nil {
		t.Fatal(err)
	}
	// go-ethereum's keystore signs the same personal-message hash.
	if err := ks.Unlock(acc, "geth-pw"); err != nil {
		t.Fatal(err)
	}
	gsig, err := ks.SignHash(acc, accounts.TextHash([]byte("x")))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(acc.Address, []byte("x"), gsig); err != nil {
		t.Fatalf("go-ethereum's signature: %v", err)
	}
	ks.Lock(acc.Address)
}

func TestStoreImportExportLock(t *testing.T) {
	t.Parallel()
	s := NewStore(t.TempDir(), LightKDF)
	key, _ := ParsePrivateKey(key1)
	addr, err := s.ImportKey(key, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if addr != common.HexToAddress("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf") {
		t.Fatalf("imported %s", addr.Hex())
	}
	if _, err := s.ImportKey(key, "pw"); !errors.Is(err, ErrExists) {
		t.Fatalf("second import: %v", err)
	}
	if _, err := s.Signer(addr); !errors.Is(err, ErrLocked) {
		t.Fatalf("signer before unlock: %v", err)
	}
	if _, err := s.Export(addr, "bad"); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("export with wrong passphrase: %v", err)
	}
	blob, err := s.Export(addr, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(blob, []byte(key1)) {
		t.Fatal("export holds the private key in the clear")
	}
	other := NewStore(t.TempDir(), LightKDF)
	if _, err := other.ImportKeystore(blob, "bad"); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("import with wrong passphrase: %v", err)
	}
	if got, err := other.ImportKeystore(blob, "pw"); err != nil || got != addr {
		t.Fatalf("ImportKeystore = %s, %v", got.Hex(), err)
	}
	if _, err := other.Unlock(addr, "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Signer(addr); err != nil {
		t.Fatal(err)
	}
	other.Lock(addr)
	if _, err := other.Signer(addr); !errors.Is(err, ErrLocked) {
		t.Fatalf("after lock: %v", err)
	}
	unknown := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	if _, err := s.Unlock(unknown, "pw"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown identity: %v", err)
	}
}

func BenchmarkSign(b *testing.B) {
	key, _ := crypto.GenerateKey()
	s := NewSigner(key)
	msg := bytes.Repeat([]byte("m"), 256)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	key, _ := crypto.GenerateKey()
	s := NewSigner(key)
	msg := bytes.Repeat([]byte("m"), 256)
	sig, _ := s.Sign(msg)
	b.ReportAllocs()
	for b.Loop() {
		if err := Verify(s.Address(), msg, sig); err != nil {
			b.Fatal(err)
		}
	}
}
