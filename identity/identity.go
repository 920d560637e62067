// Package identity manages a node's identities: secp256k1 keys kept as
// encrypted Ethereum keystore v3 files, and the EIP-191 signatures they make.
package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/crypto/ecies"
)

// Sentinel errors, for errors.Is.
var (
	ErrBadAddress    = errors.New("malformed identity address")
	ErrNotFound      = errors.New("identity not found in keystore")
	ErrWrongPassword = errors.New("wrong passphrase")
	ErrLocked        = errors.New("identity is locked")
	ErrExists        = errors.New("identity already in keystore")
	ErrBadSignature  = errors.New("invalid signature")
	ErrBadKey        = errors.New("invalid private key")
)

// SignatureLength is the length of a signature: R || S || V.
const SignatureLength = 65

// ParseAddress parses an identity written as 0x followed by 40 hex digits.
// A mixed-case address must carry a valid EIP-55 checksum.
func ParseAddress(s string) (common.Address, error) {
	s = strings.TrimSpace(s)
	if len(s) != 42 || !(strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X")) {
		return common.Address{}, fmt.Errorf("%w %q: want 0x followed by 40 hex digits", ErrBadAddress, s)
	}
	if _, err := hex.DecodeString(s[2:]); err != nil {
		return common.Address{}, fmt.Errorf("%w %q: want 0x followed by 40 hex digits", ErrBadAddress, s)
	}
	addr := common.HexToAddress(s)
	body := s[2:]
	if body != strings.ToLower(body) && body != strings.ToUpper(body) && addr.Hex() != "0x"+body {
		return common.Address{}, fmt.Errorf("%w %q: bad EIP-55 checksum (a typo?)", ErrBadAddress, s)
	}
	return addr, nil
}

// PublicKeyBytes returns the 64-byte uncompressed public key (X || Y, no
// 0x04 prefix), the form the registry contract stores.
func PublicKeyBytes(pub *ecdsa.PublicKey) []byte {
	return crypto.FromECDSAPub(pub)[1:]
}

// AddressOfPublicKey derives the identity of a 64-byte public key: the last 20
// bytes of its keccak256 hash.
func AddressOfPublicKey(pub []byte) (common.Address, error) {
	if len(pub) != 64 {
		return common.Address{}, fmt.Errorf("public key is %d bytes, want 64", len(pub))
	}
	if _, err := crypto.UnmarshalPubkey(append([]byte{4}, pub...)); err != nil {
		return common.Address{}, fmt.Errorf("public key is not on the curve: %w", err)
	}
	return common.BytesToAddress(crypto.Keccak256(pub)[12:]), nil
}

// Signer is an unlocked identity: it holds the private key in memory and
// signs with it.
type Signer struct {
	key  *ecdsa.PrivateKey
	addr common.Address
}

// NewSigner wraps a private key.
func NewSigner(key *ecdsa.PrivateKey) *Signer {
	return &Signer{key: key, addr: crypto.PubkeyToAddress(key.PublicKey)}
}

// Address is the identity.
func (s *Signer) Address() common.Address { return s.addr }

// PublicKey is the 64-byte uncompressed public key.
func (s *Signer) PublicKey() []byte { return PublicKeyBytes(&s.key.PublicKey) }

// Sign signs msg as an EIP-191 personal message and returns R || S || V with
// V 27 or 28, the form Ethereum tools and the ecrecover precompile use.
func (s *Signer) Sign(msg []byte) ([]byte, error) {
	return s.SignHash(accounts.TextHash(msg))
}

// SignHash signs a 32-byte digest as-is (no prefix) and returns R || S || V
// with V 27 or 28. Use Sign unless a protocol defines the digest itself.
func (s *Signer) SignHash(digest []byte) ([]byte, error) {
	sig, err := crypto.Sign(digest, s.key)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	sig[64] += 27
	return sig, nil
}

// RecoverHash returns the identity that signed a 32-byte digest. V may be 0/1
// or 27/28; high-S (malleable) signatures are rejected.
func RecoverHash(digest, sig []byte) (common.Address, []byte, error) {
	if len(sig) != SignatureLength {
		return common.Address{}, nil, fmt.Errorf("%w: %d bytes, want %d", ErrBadSignature, len(sig), SignatureLength)
	}
	s := make([]byte, SignatureLength)
	copy(s, sig)
	if s[64] >= 27 {
		s[64] -= 27
	}
	if s[64] > 1 {
		return common.Address{}, nil, fmt.Errorf("%w: recovery id %d", ErrBadSignature, sig[64])
	}
	if !crypto.ValidateSignatureValues(s[64], new(big.Int).SetBytes(s[:32]), new(big.Int).SetBytes(s[32:64]), true) {
		return common.Address{}, nil, fmt.Errorf("%w: R or S out of range", ErrBadSignature)
	}
	pub, err := crypto.Ecrecover(digest, s)
	if err != nil {
		return common.Address{}, nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return common.BytesToAddress(crypto.Keccak256(pub[1:])[12:]), pub[1:], nil
}

// Recover returns the identity that signed msg as an EIP-191 personal
// message, and its 64-byte public key.
func Recover(msg, sig []byte) (common.Address, []byte, error) {
	return RecoverHash(accounts.TextHash(msg), sig)
}

// Verify checks that sig is want's EIP-191 signature of msg.
func Verify(want common.Address, msg, sig []byte) error {
	got, _, err := Recover(msg, sig)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: signed by %s, not %s", ErrBadSignature, got.Hex(), want.Hex())
	}
	return nil
}

// ParsePrivateKey parses a hex private key (with or without 0x, surrounding
// whitespace ignored).
func ParsePrivateKey(text string) (*ecdsa.PrivateKey, error) {
	text = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(text), "0x"), "0X")
	key, err := crypto.HexToECDSA(text)
	if err != nil {
		return nil, fmt.Errorf("%w: want 64 hex digits of a secp256k1 key", ErrBadKey)
	}
	return key, nil
}

// TransactOpts returns contract-binding transaction options that send from
// this identity and sign with its key.
func (s *Signer) TransactOpts(ctx context.Context, chainID *big.Int) *bind.TransactOpts {
	chainID = new(big.Int).Set(chainID)
	return &bind.TransactOpts{
		From:    s.addr,
		Context: ctx,
		Signer: func(from common.Address, tx *types.Transaction) (*types.Transaction, error) {
			if from != s.addr {
				return nil, fmt.Errorf("cannot sign for %s", from.Hex())
			}
			return s.SignTx(tx, chainID)
		},
	}
}

// SignTx signs an Ethereum transaction with the identity's key, so an
// identity can pay gas for its own transactions.
func (s *Signer) SignTx(tx *types.Transaction, chainID *big.Int) (*types.Transaction, error) {
	return types.SignTx(tx, types.LatestSignerForChainID(chainID), s.key)
}

// eciesInfo separates myst's ECIES use from any other use of the same keys.
var eciesInfo = []byte("myst ecies v1")

// EncryptTo encrypts msg so that only the holder of the 64-byte public key
// pub can read it (ECIES over secp256k1, AES-128-CTR and HMAC-SHA-256).
func EncryptTo(pub, msg []byte) ([]byte, error) {
	key, err := crypto.UnmarshalPubkey(append([]byte{4}, pub...))
	if err != nil {
		return nil, fmt.Errorf("encrypt: bad public key: %w", err)
	}
	return ecies.Encrypt(rand.Reader, ecies.ImportECDSAPublic(key), msg, nil, eciesInfo)
}

// Decrypt opens a message made by EncryptTo for this identity.
func (s *Signer) Decrypt(ct []byte) ([]byte, error) {
	return ecies.ImportECDSA(s.key).Decrypt(ct, nil, eciesInfo)
}
