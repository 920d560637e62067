package dialog

import (
	"testing"
	"time"

	"github.com/mystnode/myst/mysttest"
)

// Every decoder of broker input, fed arbitrary bytes: none may panic, and
// what decodes must re-encode to the same bytes.

func FuzzDecodeCreateRequest(f *testing.F) {
	f.Add(make([]byte, createRequestLen))
	good := (&createRequest{UnixMilli: 1, Sig: make([]byte, sigLen)}).marshal()
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeCreateRequest(b)
		if err != nil {
			return
		}
		if string(r.marshal()) != string(b) {
			t.Fatalf("round trip changed %x", b)
		}
	})
}

func FuzzDecodeCreateResponse(f *testing.F) {
	f.Add((&createResponse{Reason: "capacity", Sig: make([]byte, sigLen)}).marshal())
	f.Add((&createResponse{Accepted: true, Sig: make([]byte, sigLen)}).marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeCreateResponse(b)
		if err != nil {
			return
		}
		if string(r.marshal()) != string(b) {
			t.Fatalf("round trip changed %x", b)
		}
	})
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add((&frame{Kind: kindRequest, Corr: 7, Topic: "ping", Payload: []byte("x")}).marshal(nil))
	f.Add((&frame{Kind: kindResponse, Corr: 7, Err: "no"}).marshal(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := decodeFrame(b)
		if err != nil {
			return
		}
		if string(fr.marshal(nil)) != string(b) {
			t.Fatalf("round trip changed %x", b)
		}
	})
}

// FuzzBrokerInput sends arbitrary bytes to a live provider's create subject
// and to an open dialog's subjects; the dialog must keep working.
func FuzzBrokerInput(f *testing.F) {
	srv := mysttest.StartBroker(f)
	p := newPair(f, srv.URL(), srv.URL())
	toP, toC := subjects(p.dialog.ID(), p.consumer.Address(), p.provider.Address())
	raw := mysttest.Connect(f, srv.URL())
	pd := <-p.accepted
	f.Add([]byte{tagCreate, 4, 1, 2})
	f.Add([]byte{tagMessage, 0, 0, 0, 0, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte{tagResponse})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Straight into the handlers (fast, finds panics) ...
		p.dialog.receive(b)
		pd.receive(b)
		// ... and over the broker.
		raw.Publish(CreateSubject(p.provider.Address(), p.consumer.Address()), b)
		raw.Publish(toP, b)
		raw.Publish(toC, b)
	})
	raw.Flush()
	got, err := p.dialog.Request(mysttest.Ctx(f, 5*time.Second), "echo", []byte("ok"))
	if err != nil || string(got) != "ok" {
		f.Fatalf("dialog after fuzzing: %q, %v", got, err)
	}
}
