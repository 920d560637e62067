// Package mysttest holds what the tests of many packages need: polling with
// a deadline, contexts bound to a test, fresh identities, and a real NATS
// server and dev chain started on free loopback ports and stopped when the
// test ends.
package mysttest

import (
	"context"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/mystnode/myst/broker"
	"github.com/mystnode/myst/brokerd"
	"github.com/mystnode/myst/devchain"
	"github.com/mystnode/myst/identity"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"
)

// WaitFor polls cond until it holds, failing the test if it does not
// within d. It polls every 5 ms at first, backing off to every 100 ms.
func WaitFor(t testing.TB, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	pause := 5 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(pause)
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// Ctx is a context that ends after d or with the test.
func Ctx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// NewSigner makes a fresh identity.
func NewSigner(t testing.TB) *identity.Signer {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return identity.NewSigner(k)
}

// StartBroker runs an embedded NATS server on a free loopback port.
func StartBroker(t testing.TB) *brokerd.Server {
	t.Helper()
	s, err := brokerd.StartServer(brokerd.ServerConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Connect connects to the broker at urls as a node would.
func Connect(t testing.TB, urls ...string) *nats.Conn {
	t.Helper()
	nc, err := broker.Connect(urls, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// StartChain runs an in-process dev chain with HTTP JSON-RPC on a free
// loopback port, funded gives ether to accounts.
func StartChain(t testing.TB, funded ...common.Address) *devchain.Chain {
	t.Helper()
	c, err := devchain.Start(devchain.Config{RPCAddr: "127.0.0.1:0", Funded: funded})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// LeakOptions ignore the process-wide goroutines go-ethereum starts and
// never stops (metrics, caches shared by every chain in the process), and
// idle HTTP and database/sql connection goroutines, for goleak checks.
func LeakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/ethereum/go-ethereum/metrics.(*meterArbiter).tick"),
		goleak.IgnoreAnyFunction("github.com/ethereum/go-ethereum/core/state/snapshot.(*diskLayer).generate"),
		goleak.IgnoreAnyFunction("github.com/ethereum/go-ethereum/eth/filters.(*FilterSystem).cacheLoop"),
		goleak.IgnoreAnyFunction("github.com/ethereum/go-ethereum/core.(*txSenderCacher).cache"),
		goleak.IgnoreAnyFunction("github.com/syndtr/goleveldb/leveldb.(*DB).mpoolDrain"),
		goleak.IgnoreTopFunction("github.com/ethereum/go-ethereum/consensus/ethash.(*remoteSealer).loop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
	}
}
