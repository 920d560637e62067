package identity

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/google/uuid"
	"github.com/mystnode/myst/atomicfile"
)

// KDF strengths for new keystore files.
const (
	// StandardKDF is go-ethereum's standard scrypt strength (about 1 s and
	// 256 MiB per unlock): the default.
	StandardKDF = iota
	// LightKDF is go-ethereum's light scrypt strength, for tests and
	// throw-away development networks only.
	LightKDF
)

// Store is a folder of keystore v3 files, one per identity, compatible with
// go-ethereum's keystore, plus the identities unlocked in this process.
type Store struct {
	dir     string
	scryptN int
	scryptP int

	mu       sync.Mutex
	unlocked map[common.Address]*Signer
}

// NewStore opens the keystore folder dir (created on first write) with the
// given KDF strength for keys it writes.
func NewStore(dir string, kdf int) *Store {
	s := &Store{dir: dir, scryptN: keystore.StandardScryptN, scryptP: keystore.StandardScryptP, unlocked: map[common.Address]*Signer{}}
	if kdf == LightKDF {
		s.scryptN, s.scryptP = keystore.LightScryptN, keystore.LightScryptP
	}
	return s
}

// Dir is the keystore folder.
func (s *Store) Dir() string { return s.dir }

// keyFile is the part of a keystore v3 file the store reads without
// decrypting.
type keyFile struct {
	Address string          `json:"address"`
	Crypto  json.RawMessage `json:"crypto"`
	Version int             `json:"version"`
}

// scan maps every identity in the folder to its file. Files that are not
// keystore v3 JSON are ignored, as go-ethereum does.
func (s *Store) scan() (map[common.Address]string, error) {
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, os.ErrNotExist) {
		return map[common.Address]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read keystore %s: %w", s.dir, err)
	}
	found := make(map[common.Address]string, len(entries))
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") {
			continue
		}
		path := filepath.Join(s.dir, name)
		raw, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var kf keyFile
		if json.Unmarshal(raw, &kf) != nil || len(kf.Crypto) == 0 {
			continue
		}
		b, err := hex.DecodeString(strings.TrimPrefix(kf.Address, "0x"))
		if err != nil || len(b) != common.AddressLength {
			continue
		}
		addr := common.BytesToAddress(b)
		if prev, ok := found[addr]; !ok || path < prev {
			found[addr] = path
		}
	}
	return found, nil
}

// List returns the identities in the keystore, sorted.
func (s *Store) List() ([]common.Address, error) {
	files, err := s.scan()
	if err != nil {
		return nil, err
	}
	out := make([]common.Address, 0, len(files))
	for a := range files {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i][:], out[j][:]) < 0 })
	return out, nil
}

// Has reports whether addr is in the keystore.
func (s *Store) Has(addr common.Address) (bool, error) {
	files, err := s.scan()
	if err != nil {
		return false, err
	}
	_, ok := files[addr]
	return ok, nil
}

// Create generates a new identity, stores it encrypted with passphrase and
// returns its address.
func (s *Store) Create(passphrase string) (common.Address, error) {
	key, err := crypto.GenerateKey()
	if err != nil {
		return common.Address{}, fmt.Errorf("generate key: %w", err)
	}
	return s.ImportKey(key, passphrase)
}

// ImportKey stores key encrypted with passphrase.
func (s *Store) ImportKey(key *ecdsa.PrivateKey, passphrase string) (common.Address, error) {
	addr := crypto.PubkeyToAddress(key.PublicKey)
	if ok, err := s.Has(addr); err != nil {
		return common.Address{}, err
	} else if ok {
		return common.Address{}, fmt.Errorf("%w: %s", ErrExists, addr.Hex())
	}
	id, err := uuid.NewRandom()
	if err != nil {
		return common.Address{}, fmt.Errorf("key id: %w", err)
	}
	k := &keystore.Key{Id: id, Address: addr, PrivateKey: key}
	blob, err := keystore.EncryptKey(k, passphrase, s.scryptN, s.scryptP)
	if err != nil {
		return common.Address{}, fmt.Errorf("encrypt key: %w", err)
	}
	if err := s.write(addr, blob); err != nil {
		return common.Address{}, err
	}
	return addr, nil
}

// ImportKeystore stores a keystore v3 file as it is, after checking that
// passphrase decrypts it, and returns its identity.
func (s *Store) ImportKeystore(blob []byte, passphrase string) (common.Address, error) {
	key, err := keystore.DecryptKey(blob, passphrase)
	if err != nil {
		if errors.Is(err, keystore.ErrDecrypt) {
			return common.Address{}, ErrWrongPassword
		}
		return common.Address{}, fmt.Errorf("read keystore file: %w", err)
	}
	addr := key.Address
	if ok, err := s.Has(addr); err != nil {
		return common.Address{}, err
	} else if ok {
		return common.Address{}, fmt.Errorf("%w: %s", ErrExists, addr.Hex())
	}
	if err := s.write(addr, blob); err != nil {
		return common.Address{}, err
	}
	return addr, nil
}

// Export returns the encrypted keystore v3 file of addr, after checking that
// passphrase opens it; the key never leaves in the clear.
func (s *Store) Export(addr common.Address, passphrase string) ([]byte, error) {
	blob, _, err := s.decrypt(addr, passphrase)
	return blob, err
}

// Unlock decrypts addr's key with passphrase and keeps it in memory for
// signing until Lock.
func (s *Store) Unlock(addr common.Address, passphrase string) (*Signer, error) {
	_, key, err := s.decrypt(addr, passphrase)
	if err != nil {
		return nil, err
	}
	signer := NewSigner(key)
	s.mu.Lock()
	s.unlocked[addr] = signer
	s.mu.Unlock()
	return signer, nil
}

// Signer returns addr's signer if it is unlocked.
func (s *Store) Signer(addr common.Address) (*Signer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if signer, ok := s.unlocked[addr]; ok {
		return signer, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrLocked, addr.Hex())
}

// Signers are the unlocked identities, in address order.
func (s *Store) Signers() []*Signer {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Signer, 0, len(s.unlocked))
	for _, sg := range s.unlocked {
		out = append(out, sg)
	}
	slices.SortFunc(out, func(a, b *Signer) int { return bytes.Compare(a.addr[:], b.addr[:]) })
	return out
}

// Lock forgets addr's decrypted key.
func (s *Store) Lock(addr common.Address) {
	s.mu.Lock()
	delete(s.unlocked, addr)
	s.mu.Unlock()
}

func (s *Store) decrypt(addr common.Address, passphrase string) ([]byte, *ecdsa.PrivateKey, error) {
	files, err := s.scan()
	if err != nil {
		return nil, nil, err
	}
	path, ok := files[addr]
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s (see `myst identity list`)", ErrNotFound, addr.Hex())
	}
	blob, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	key, err := keystore.DecryptKey(blob, passphrase)
	if errors.Is(err, keystore.ErrDecrypt) {
		return nil, nil, fmt.Errorf("%w for %s", ErrWrongPassword, addr.Hex())
	}
	if err != nil {
		return nil, nil, fmt.Errorf("decrypt %s: %w", path, err)
	}
	if key.Address != addr {
		return nil, nil, fmt.Errorf("keystore file %s holds the key of %s, not %s", path, key.Address.Hex(), addr.Hex())
	}
	return blob, key.PrivateKey, nil
}

// write stores blob as addr's key file atomically: a temporary file in the
// same folder, synced, then renamed, then the folder synced.
func (s *Store) write(addr common.Address, blob []byte) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("create keystore folder: %w", err)
	}
	name := fmt.Sprintf("UTC--%s--%x", time.Now().UTC().Format("2006-01-02T15-04-05.000000000Z"), addr[:])
	return atomicfile.Write(filepath.Join(s.dir, name), blob, 0o600)
}
