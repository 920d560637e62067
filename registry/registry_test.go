package registry

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/mystnode/myst/contracts"
	"github.com/mystnode/myst/devchain"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/txsend"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, mysttest.LeakOptions()...)
}

type env struct {
	chain  *devchain.Chain
	client *Client
	payer  *identity.Signer
}

// startChain runs a dev chain on a free loopback port with the registry
// deployed, and stops it when the test ends.
func startChain(t testing.TB) *env {
	t.Helper()
	payer := mysttest.NewSigner(t)
	chain := mysttest.StartChain(t, payer.Address())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ec := chain.Client()
	addr, _, err := Deploy(ctx, ec, big.NewInt(devchain.ChainID), payer)
	ec.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Over HTTP, as a node would.
	client, err := Dial(ctx, chain.RPCURL(), devchain.ChainID, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return &env{chain: chain, client: client, payer: payer}
}

func TestRegisterAndEvents(t *testing.T) {
	e := startChain(t)
	ctx := mysttest.Ctx(t, 30*time.Second)
	id := mysttest.NewSigner(t)
	if ok, err := e.client.IsRegistered(ctx, id.Address()); err != nil || ok {
		t.Fatalf("before: IsRegistered = %v, %v", ok, err)
	}
	if _, err := e.client.PublicKeyOf(ctx, id.Address()); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("before: PublicKeyOf: %v", err)
	}
	var reports []string
	r, err := e.client.Register(ctx, id, txsend.New(e.client.Eth(), e.client.ChainID(), e.payer, txsend.Config{Progress: func(s string) { reports = append(reports, s) }}))
	if err != nil {
		t.Fatal(err)
	}
	if r.AlreadyRegistered || r.Block == 0 || len(reports) == 0 {
		t.Fatalf("receipt %+v, reports %q", r, reports)
	}
	t.Logf("register gas used: %d", r.GasUsed) // see README
	if ok, err := e.client.IsRegistered(ctx, id.Address()); err != nil || !ok {
		t.Fatalf("after: IsRegistered = %v, %v", ok, err)
	}
	key, err := e.client.PublicKeyOf(ctx, id.Address())
	if err != nil || string(key) != string(id.PublicKey()) {
		t.Fatalf("PublicKeyOf = %x, %v", key, err)
	}
	// Exactly one event, for this identity, with its key.
	it, err := e.client.contract.FilterRegistered(&bind.FilterOpts{Context: ctx}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for it.Next() {
		n++
		if it.Event.Identity != id.Address() || string(it.Event.PublicKey) != string(id.PublicKey()) {
			t.Fatalf("event %+v", it.Event)
		}
	}
	if n != 1 {
		t.Fatalf("%d Registered events, want 1", n)
	}

	// Registering again sends nothing and says so.
	r, err = e.client.Register(ctx, id, txsend.New(e.client.Eth(), e.client.ChainID(), e.payer, txsend.Config{}))
	if err != nil || !r.AlreadyRegistered {
		t.Fatalf("second Register = %+v, %v", r, err)
	}
}

// rawRegister sends register() straight to the contract with a fixed gas
// limit, skipping estimation, so a bad call is mined and reverts on chain.
func rawRegister(t *testing.T, e *env, pub, sig []byte) *types.Receipt {
	t.Helper()
	ctx := mysttest.Ctx(t, 30*time.Second)
	c, err := contracts.NewIdentityRegistry(e.client.Address(), e.client.eth)
	if err != nil {
		t.Fatal(err)
	}
	opts := e.client.TransactOpts(ctx, e.payer)
	opts.GasLimit = 1_000_000
	tx, err := c.Register(opts, pub, sig)
	if err != nil {
		t.Fatal(err)
	}
	rcpt, err := bind.WaitMined(ctx, e.client.eth, tx.Hash())
	if err != nil {
		t.Fatal(err)
	}
	return rcpt
}

func TestContractRejectsBadRegistrations(t *testing.T) {
	e := startChain(t)
	ctx := mysttest.Ctx(t, 30*time.Second)
	id := mysttest.NewSigner(t)
	forger := mysttest.NewSigner(t)
	digest := RegistrationDigest(e.client.Address(), e.client.ChainID(), id.Address())

	t.Run("forged signature reverts", func(t *testing.T) {
		sig, _ := forger.Sign(digest)
		if r := rawRegister(t, e, id.PublicKey(), sig); r.Status != types.ReceiptStatusFailed {
			t.Fatal("forged registration did not revert")
		}
		// And estimation names the reason before anything is sent.
		c, _ := contracts.NewIdentityRegistry(e.client.Address(), e.client.eth)
		_, err := c.Register(e.client.TransactOpts(ctx, e.payer), id.PublicKey(), sig)
		if err == nil || !strings.Contains(err.Error(), "signature is not by the identity") {
			t.Fatalf("estimate error = %v", err)
		}
	})
	t.Run("signature for another chain reverts", func(t *testing.T) {
		sig, _ := id.Sign(RegistrationDigest(e.client.Address(), big.NewInt(1), id.Address()))
		if r := rawRegister(t, e, id.PublicKey(), sig); r.Status != types.ReceiptStatusFailed {
			t.Fatal("registration signed for chain 1 did not revert")
		}
	})
	t.Run("signature for another registry reverts", func(t *testing.T) {
		sig, _ := id.Sign(RegistrationDigest(common.HexToAddress("0x01"), e.client.ChainID(), id.Address()))
		if r := rawRegister(t, e, id.PublicKey(), sig); r.Status != types.ReceiptStatusFailed {
			t.Fatal("registration signed for another registry did not revert")
		}
	})
	t.Run("short public key reverts", func(t *testing.T) {
		sig, _ := id.Sign(digest)
		if r := rawRegister(t, e, id.PublicKey()[:63], sig); r.Status != types.ReceiptStatusFailed {
			t.Fatal("63-byte key did not revert")
		}
	})
	t.Run("high-s signature reverts", func(t *testing.T) {
		sig, _ := id.Sign(digest)
		// (r, n-s, v^1) is the same signature's malleable twin.
		n := crypto.S256().Params().N
		s := new(big.Int).Sub(n, new(big.Int).SetBytes(sig[32:64]))
		twin := append(append(append([]byte{}, sig[:32]...), common.LeftPadBytes(s.Bytes(), 32)...), sig[64]^1)
		if r := rawRegister(t, e, id.PublicKey(), twin); r.Status != types.ReceiptStatusFailed {
			t.Fatal("high-s twin did not revert")
		}
	})
	if ok, _ := e.client.IsRegistered(ctx, id.Address()); ok {
		t.Fatal("a bad registration registered the identity")
	}
	t.Run("re-registration reverts, one record", func(t *testing.T) {
		sig, _ := id.Sign(digest)
		if r := rawRegister(t, e, id.PublicKey(), sig); r.Status != types.ReceiptStatusSuccessful {
			t.Fatalf("good registration reverted: gas used %d", r.GasUsed)
		}
		if r := rawRegister(t, e, id.PublicKey(), sig); r.Status != types.ReceiptStatusFailed {
			t.Fatal("second registration did not revert")
		}
		it, err := e.client.contract.FilterRegistered(&bind.FilterOpts{Context: ctx}, []common.Address{id.Address()})
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		n := 0
		for it.Next() {
			n++
		}
		if n != 1 {
			t.Fatalf("%d events for the identity, want 1", n)
		}
	})
}

func TestRegisterWithoutFunds(t *testing.T) {
	e := startChain(t)
	id := mysttest.NewSigner(t)
	_, err := e.client.Register(mysttest.Ctx(t, 30*time.Second), id, txsend.New(e.client.Eth(), e.client.ChainID(), id, txsend.Config{}))
	if !errors.Is(err, ErrNoFunds) {
		t.Fatalf("self-paid registration without ether: %v", err)
	}
}

func TestDialErrors(t *testing.T) {
	e := startChain(t)
	ctx := mysttest.Ctx(t, 30*time.Second)
	if _, err := Dial(ctx, "http://127.0.0.1:1", devchain.ChainID, e.client.Address()); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("unreachable: %v", err)
	}
	if _, err := Dial(ctx, e.chain.RPCURL(), 5, e.client.Address()); !errors.Is(err, ErrWrongChain) {
		t.Fatalf("wrong chain: %v", err)
	}
	if _, err := Dial(ctx, e.chain.RPCURL(), devchain.ChainID, common.HexToAddress("0xdead")); !errors.Is(err, ErrNoContract) {
		t.Fatalf("no contract: %v", err)
	}
}

func TestCacheFollowsEvents(t *testing.T) {
	e := startChain(t)
	ctx := mysttest.Ctx(t, 30*time.Second)
	a, b, never := mysttest.NewSigner(t), mysttest.NewSigner(t), mysttest.NewSigner(t)
	if _, err := e.client.Register(ctx, a, txsend.New(e.client.Eth(), e.client.ChainID(), e.payer, txsend.Config{})); err != nil {
		t.Fatal(err)
	}
	cache := NewCache(e.client, 0)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); cache.Run(runCtx, 20*time.Millisecond, func(err error) { t.Log(err) }) }()
	defer func() { stop(); <-done }()

	if _, err := e.client.Register(ctx, b, txsend.New(e.client.Eth(), e.client.ChainID(), e.payer, txsend.Config{})); err != nil {
		t.Fatal(err)
	}
	// Both arrive from events, without asking the contract.
	deadline := time.Now().Add(10 * time.Second)
	for cache.Stats().Known < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("cache knows %d identities after 10s, want 2", cache.Stats().Known)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, s := range []*identity.Signer{a, b} {
		key, err := cache.PublicKey(ctx, s.Address())
		if err != nil || string(key) != string(s.PublicKey()) {
			t.Fatalf("PublicKey(%s) = %x, %v", s.Address().Hex(), key, err)
		}
	}
	if st := cache.Stats(); st.Misses != 0 || st.Hits != 2 {
		t.Fatalf("stats %+v: want 2 hits from events, no misses", st)
	}
	if ok, err := cache.IsRegistered(ctx, never.Address()); err != nil || ok {
		t.Fatalf("unregistered: %v, %v", ok, err)
	}
	if _, err := cache.PublicKey(ctx, never.Address()); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("unregistered PublicKey: %v", err)
	}
}

func TestCacheFallsBackToViews(t *testing.T) {
	e := startChain(t)
	ctx := mysttest.Ctx(t, 30*time.Second)
	a := mysttest.NewSigner(t)
	cache := NewCache(e.client, 0) // never synced
	cache.NegativeTTL = 300 * time.Millisecond
	for range 2 {
		if ok, _ := cache.IsRegistered(ctx, a.Address()); ok {
			t.Fatal("registered before registration")
		}
	}
	if st := cache.Stats(); st.NegativeHits != 1 {
		t.Fatalf("stats %+v: want the second negative answered from memory", st)
	}
	if _, err := e.client.Register(ctx, a, txsend.New(e.client.Eth(), e.client.ChainID(), e.payer, txsend.Config{})); err != nil {
		t.Fatal(err)
	}
	// The negative answer expires: the view finds it now.
	time.Sleep(cache.NegativeTTL)
	if ok, err := cache.IsRegistered(ctx, a.Address()); err != nil || !ok {
		t.Fatalf("after registration: %v, %v", ok, err)
	}
	if st := cache.Stats(); st.ViewHits != 1 {
		t.Fatalf("stats %+v: want one answer from the view", st)
	}
}

// TestCacheAnswersNegativesFromScan: once scanned to the head, a flood of
// questions about fresh keys costs a few catch-up scans, not a chain call
// each; an identity registered a moment ago is found by a catch-up.
func TestCacheAnswersNegativesFromScan(t *testing.T) {
	e := startChain(t)
	ctx := mysttest.Ctx(t, 30*time.Second)
	cache := NewCache(e.client, 0)
	if err := cache.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	scans := cache.Stats().Scans
	var wg sync.WaitGroup
	for i := range 500 {
		wg.Go(func() {
			id := common.BytesToAddress(crypto.Keccak256([]byte{byte(i >> 8), byte(i)})[:20])
			if _, err := cache.PublicKey(ctx, id); !errors.Is(err, ErrNotRegistered) {
				t.Errorf("fresh key: %v", err)
			}
		})
	}
	wg.Wait()
	if st := cache.Stats(); st.ScanAnswers != 500 || st.ViewHits != 0 || st.Scans-scans > 3 {
		t.Fatalf("stats %+v: want 500 answers from at most 3 scans", st)
	}
	a := mysttest.NewSigner(t)
	if _, err := e.client.Register(ctx, a, txsend.New(e.client.Eth(), e.client.ChainID(), e.payer, txsend.Config{})); err != nil {
		t.Fatal(err)
	}
	if key, err := cache.PublicKey(ctx, a.Address()); err != nil || string(key) != string(a.PublicKey()) {
		t.Fatalf("registered just now: %x, %v", key, err)
	}
	// The chain gone: a negative cannot be vouched for, and says so.
	e.chain.Close()
	if _, err := cache.PublicKey(ctx, mysttest.NewSigner(t).Address()); err == nil || errors.Is(err, ErrNotRegistered) {
		t.Fatalf("chain down: %v, want an error that is not ErrNotRegistered", err)
	}
}

func BenchmarkCacheLookup(b *testing.B) {
	e := startChain(b)
	ctx := mysttest.Ctx(b, 30*time.Second)
	ids := make([]*identity.Signer, 4)
	for i := range ids {
		ids[i] = mysttest.NewSigner(b)
		if _, err := e.client.Register(ctx, ids[i], txsend.New(e.client.Eth(), e.client.ChainID(), e.payer, txsend.Config{})); err != nil {
			b.Fatal(err)
		}
	}
	cache := NewCache(e.client, 0)
	if err := cache.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := cache.PublicKey(ctx, ids[i%len(ids)].Address()); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkViewLookup(b *testing.B) {
	e := startChain(b)
	ctx := mysttest.Ctx(b, 30*time.Second)
	id := mysttest.NewSigner(b)
	if _, err := e.client.Register(ctx, id, txsend.New(e.client.Eth(), e.client.ChainID(), e.payer, txsend.Config{})); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.client.PublicKeyOf(ctx, id.Address()); err != nil {
			b.Fatal(err)
		}
	}
}
