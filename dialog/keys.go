package dialog

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/identity"
)

// Direction labels, used in key derivation and in every message's
// associated data, so a message can't be reflected back to its sender.
const (
	toProvider = 'p'
	toConsumer = 'c'
)

func newEphemeral() (*ecdh.PrivateKey, [keyLen]byte, error) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, [keyLen]byte{}, fmt.Errorf("ephemeral key: %w", err)
	}
	var pub [keyLen]byte
	copy(pub[:], k.PublicKey().Bytes())
	return k, pub, nil
}

// sessionKeys derives the two directions' AEADs from the X25519 exchange,
// bound to the dialog id, both identities and both ephemeral keys.
func sessionKeys(own *ecdh.PrivateKey, peer [keyLen]byte, id ID, consumer, provider common.Address, consumerEph, providerEph [keyLen]byte) (toP, toC cipher.AEAD, err error) {
	peerKey, err := ecdh.X25519().NewPublicKey(peer[:])
	if err != nil {
		return nil, nil, fmt.Errorf("peer ephemeral key: %w", err)
	}
	shared, err := own.ECDH(peerKey)
	if err != nil {
		return nil, nil, fmt.Errorf("x25519: %w", err)
	}
	salt := sha256.New()
	salt.Write(id[:])
	salt.Write(consumer[:])
	salt.Write(provider[:])
	salt.Write(consumerEph[:])
	salt.Write(providerEph[:])
	s := salt.Sum(nil)
	mk := func(label string) (cipher.AEAD, error) {
		key, err := hkdf.Key(sha256.New, shared, s, label, 32)
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(block)
	}
	if toP, err = mk("myst dialog v1 consumer to provider"); err != nil {
		return nil, nil, fmt.Errorf("derive keys: %w", err)
	}
	if toC, err = mk("myst dialog v1 provider to consumer"); err != nil {
		return nil, nil, fmt.Errorf("derive keys: %w", err)
	}
	return toP, toC, nil
}

// nonce is unique per key: the sequence number never repeats in one
// direction of one dialog.
func nonce(seq uint64) []byte {
	var n [12]byte
	binary.BigEndian.PutUint64(n[4:], seq)
	return n[:]
}

func associatedData(id ID, dir byte, seq uint64) []byte {
	b := make([]byte, 0, 1+idLen+1+8)
	b = append(b, tagMessage)
	b = append(b, id[:]...)
	b = append(b, dir)
	return binary.BigEndian.AppendUint64(b, seq)
}

// messageSignedBytes is what the sender of a message signs.
func messageSignedBytes(id ID, dir byte, seq uint64, frameBytes []byte) []byte {
	b := make([]byte, 0, len(domainMessage)+idLen+1+8+len(frameBytes))
	b = append(b, domainMessage...)
	b = append(b, id[:]...)
	b = append(b, dir)
	b = binary.BigEndian.AppendUint64(b, seq)
	return append(b, frameBytes...)
}

// encryptTo is identity.EncryptTo, named here for tests.
var encryptTo = identity.EncryptTo
