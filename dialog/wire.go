package dialog

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
)

// Every broker message starts with a one-byte tag naming its kind; the rest
// is ciphertext.
const (
	tagCreate   = 'C' // consumer -> provider: ECIES(provider key, createRequest)
	tagResponse = 'R' // provider -> consumer: ECIES(consumer key, createResponse)
	tagMessage  = 'M' // either way: seq || AEAD(frame || signature)
)

const (
	version    = 1
	idLen      = 16
	keyLen     = 32
	sigLen     = 65
	maxTopic   = 64
	maxErrText = 1024
	// MaxPayload bounds one message's payload.
	MaxPayload = 256 << 10
)

var (
	magicCreate   = []byte("MYDC")
	magicResponse = []byte("MYDR")
	// Domain separators of the signed byte strings.
	domainCreate   = []byte("myst dialog create v1\x00")
	domainResponse = []byte("myst dialog response v1\x00")
	domainMessage  = []byte("myst dialog message v1\x00")
)

// errMalformed is returned by every decoder for input it cannot parse.
var errMalformed = errors.New("malformed message")

// ID identifies a dialog; the consumer picks it at random.
type ID [idLen]byte

func (id ID) String() string { return fmt.Sprintf("%x", id[:]) }

// createRequest opens a dialog.
type createRequest struct {
	ID        ID
	Consumer  common.Address
	Provider  common.Address
	UnixMilli int64
	Ephemeral [keyLen]byte // consumer's X25519 public key
	Sig       []byte       // consumer's signature over signedBytes()
}

func (r *createRequest) signedBytes() []byte {
	b := make([]byte, 0, len(domainCreate)+4+1+idLen+20+20+8+keyLen)
	b = append(b, domainCreate...)
	b = append(b, magicCreate...)
	b = append(b, version)
	b = append(b, r.ID[:]...)
	b = append(b, r.Consumer[:]...)
	b = append(b, r.Provider[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.UnixMilli))
	b = append(b, r.Ephemeral[:]...)
	return b
}

func (r *createRequest) marshal() []byte {
	return append(r.signedBytes()[len(domainCreate):], r.Sig...)
}

const createRequestLen = 4 + 1 + idLen + 20 + 20 + 8 + keyLen + sigLen

func decodeCreateRequest(b []byte) (*createRequest, error) {
	if len(b) != createRequestLen || string(b[:4]) != string(magicCreate) {
		return nil, fmt.Errorf("%w: create request", errMalformed)
	}
	if b[4] != version {
		return nil, fmt.Errorf("%w: create request version %d", errMalformed, b[4])
	}
	r := &createRequest{}
	p := b[5:]
	copy(r.ID[:], p[:idLen])
	p = p[idLen:]
	copy(r.Consumer[:], p[:20])
	p = p[20:]
	copy(r.Provider[:], p[:20])
	p = p[20:]
	r.UnixMilli = int64(binary.BigEndian.Uint64(p[:8]))
	p = p[8:]
	copy(r.Ephemeral[:], p[:keyLen])
	p = p[keyLen:]
	r.Sig = append([]byte(nil), p[:sigLen]...)
	return r, nil
}

// createResponse accepts or refuses a dialog.
type createResponse struct {
	ID                ID
	Provider          common.Address
	Consumer          common.Address
	ConsumerEphemeral [keyLen]byte // echoed, binds the answer to the request
	Accepted          bool
	Ephemeral         [keyLen]byte // provider's X25519 public key (zero if refused)
	Reason            string       // why it was refused
	Sig               []byte       // provider's signature over signedBytes()
}

func (r *createResponse) signedBytes() []byte {
	b := make([]byte, 0, len(domainResponse)+4+1+idLen+40+keyLen+1+keyLen+2+len(r.Reason))
	b = append(b, domainResponse...)
	b = append(b, magicResponse...)
	b = append(b, version)
	b = append(b, r.ID[:]...)
	b = append(b, r.Provider[:]...)
	b = append(b, r.Consumer[:]...)
	b = append(b, r.ConsumerEphemeral[:]...)
	if r.Accepted {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = append(b, r.Ephemeral[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Reason)))
	b = append(b, r.Reason...)
	return b
}

func (r *createResponse) marshal() []byte {
	return append(r.signedBytes()[len(domainResponse):], r.Sig...)
}

const createResponseMin = 4 + 1 + idLen + 40 + keyLen + 1 + keyLen + 2 + sigLen

func decodeCreateResponse(b []byte) (*createResponse, error) {
	if len(b) < createResponseMin || string(b[:4]) != string(magicResponse) {
		return nil, fmt.Errorf("%w: create response", errMalformed)
	}
	if b[4] != version {
		return nil, fmt.Errorf("%w: create response version %d", errMalformed, b[4])
	}
	r := &createResponse{}
	p := b[5:]
	copy(r.ID[:], p[:idLen])
	p = p[idLen:]
	copy(r.Provider[:], p[:20])
	p = p[20:]
	copy(r.Consumer[:], p[:20])
	p = p[20:]
	copy(r.ConsumerEphemeral[:], p[:keyLen])
	p = p[keyLen:]
	switch p[0] {
	case 0:
	case 1:
		r.Accepted = true
	default:
		return nil, fmt.Errorf("%w: create response status %d", errMalformed, p[0])
	}
	p = p[1:]
	copy(r.Ephemeral[:], p[:keyLen])
	p = p[keyLen:]
	n := int(binary.BigEndian.Uint16(p[:2]))
	p = p[2:]
	if n > maxErrText || len(p) != n+sigLen {
		return nil, fmt.Errorf("%w: create response length", errMalformed)
	}
	r.Reason = string(p[:n])
	r.Sig = append([]byte(nil), p[n:]...)
	return r, nil
}

// Frame kinds inside a sealed message.
const (
	kindRequest  = 1
	kindResponse = 2
	kindOneWay   = 3
	kindClose    = 4
)

// frame is the plaintext of a sealed message (before its signature).
type frame struct {
	Kind    byte
	Corr    uint64 // correlation id of a request and its response
	Topic   string
	Err     string // a response's error, if the handler failed
	Payload []byte
}

func (f *frame) marshal(b []byte) []byte {
	b = append(b, f.Kind)
	b = binary.BigEndian.AppendUint64(b, f.Corr)
	b = append(b, byte(len(f.Topic)))
	b = append(b, f.Topic...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(f.Err)))
	b = append(b, f.Err...)
	return append(b, f.Payload...)
}

func decodeFrame(b []byte) (*frame, error) {
	if len(b) < 1+8+1+2 {
		return nil, fmt.Errorf("%w: short frame", errMalformed)
	}
	f := &frame{Kind: b[0], Corr: binary.BigEndian.Uint64(b[1:9])}
	if f.Kind < kindRequest || f.Kind > kindClose {
		return nil, fmt.Errorf("%w: frame kind %d", errMalformed, f.Kind)
	}
	p := b[9:]
	n := int(p[0])
	p = p[1:]
	if n > maxTopic || len(p) < n+2 {
		return nil, fmt.Errorf("%w: frame topic", errMalformed)
	}
	f.Topic = string(p[:n])
	p = p[n:]
	m := int(binary.BigEndian.Uint16(p[:2]))
	p = p[2:]
	if m > maxErrText || len(p) < m {
		return nil, fmt.Errorf("%w: frame error text", errMalformed)
	}
	f.Err = string(p[:m])
	p = p[m:]
	if len(p) > MaxPayload {
		return nil, fmt.Errorf("%w: payload over %d bytes", errMalformed, MaxPayload)
	}
	f.Payload = p
	return f, nil
}

// splitSealed splits a broker message tagged 'M' into its sequence number
// and AEAD ciphertext.
func splitSealed(b []byte) (uint64, []byte, error) {
	if len(b) < 1+8+16 || b[0] != tagMessage {
		return 0, nil, fmt.Errorf("%w: sealed message", errMalformed)
	}
	seq := binary.BigEndian.Uint64(b[1:9])
	if seq == 0 {
		return 0, nil, fmt.Errorf("%w: sequence 0", errMalformed)
	}
	return seq, b[9:], nil
}
