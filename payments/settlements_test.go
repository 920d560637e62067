package payments

import (
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/txsend"
)

// TestConcurrentSettlements runs against a separate geth --dev sealing
// every 2 s: 50 settlements (50 consumers, each to its own provider) sent
// at once by one gas payer through one transaction sender all get mined
// with 2 confirmations, each nonce used once, none replaced, each
// provider paid its promise to the unit, and the sender's journal is
// empty after.
func TestConcurrentSettlements(t *testing.T) {
	t.Parallel()
	g := mysttest.StartGeth(t, 2)
	ctx := mysttest.Ctx(t, 4*time.Minute)
	ec, err := ethclient.Dial(g.RPC)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	chainID := big.NewInt(1337)
	tok, pay := deployAll(t, ctx, ec, g.Dev, tokens(1000), 60)
	c, err := NewClient(ec, 1337, tok, pay)
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	consumers := make([]*identity.Signer, n)
	providers := make([]common.Address, n)
	addrs := make([]common.Address, n)
	for i := range n {
		consumers[i], providers[i] = mysttest.NewSigner(t), mysttest.NewSigner(t).Address()
		addrs[i] = consumers[i].Address()
	}
	if err := c.DepositBatch(ctx, txsend.New(c.Eth(), c.ChainID(), g.Dev, txsend.Config{}), addrs, tokens(1)); err != nil {
		t.Fatal(err)
	}
	journal, err := txsend.OpenJournal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := txsend.New(ec, chainID, g.Dev, txsend.Config{Confirmations: 2, Poll: 200 * time.Millisecond, StuckAfter: time.Minute, Journal: journal})
	nonce0, err := ec.NonceAt(ctx, g.Dev.Address(), nil)
	if err != nil {
		t.Fatal(err)
	}
	amount := func(i int) *big.Int { return big.NewInt(int64(1e15 + i)) }
	var wg sync.WaitGroup
	txs := make([]Tx, n)
	errs := make([]error, n)
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			p, err := c.SignPromise(consumers[i], providers[i], amount(i))
			if err == nil {
				_, txs[i], err = c.Settle(ctx, s, p)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	took := time.Since(start)
	nonces := map[uint64]bool{}
	var gas uint64
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("settlement %d: %v", i, errs[i])
		}
		tx, _, err := ec.TransactionByHash(ctx, txs[i].Hash)
		if err != nil {
			t.Fatal(err)
		}
		if nonces[tx.Nonce()] {
			t.Fatalf("nonce %d used twice", tx.Nonce())
		}
		nonces[tx.Nonce()] = true
		r, err := ec.TransactionReceipt(ctx, txs[i].Hash)
		if err != nil || r.Status != types.ReceiptStatusSuccessful {
			t.Fatalf("settlement %d: receipt %v %v", i, r, err)
		}
		got, err := c.TokenBalance(ctx, providers[i])
		if err != nil || got.Cmp(amount(i)) != 0 {
			t.Fatalf("provider %d holds %v (%v), its promise was %v", i, got, err, amount(i))
		}
		gas += txs[i].GasUsed
	}
	// Exactly n transactions: none replaced or sent twice.
	if nonce1, err := ec.NonceAt(ctx, g.Dev.Address(), nil); err != nil || nonce1-nonce0 != n {
		t.Fatalf("the gas payer sent %d transactions for %d settlements (%v)", nonce1-nonce0, n, err)
	}
	if es, err := journal.Entries(); err != nil || len(es) != 0 {
		t.Fatalf("journal after: %d entries, %v", len(es), err)
	}
	t.Logf("%d settlements from one gas payer: all mined with 2 confirmations in %s, %d gas each on average", n, took.Round(time.Millisecond), gas/n)

	// Reservations on the same chain: ten consumers reserve 0.1 MYSTT each
	// for their provider (the gas a provider pays to go past its credit
	// limit).
	const nr = 10
	rgas := make([]uint64, nr)
	start = time.Now()
	for i := range nr {
		wg.Go(func() {
			r, err := c.SignReservation(consumers[i], providers[i], new(big.Int).Quo(tokens(1), big.NewInt(10)), 0)
			var tx Tx
			if err == nil {
				tx, err = c.ReserveWith(ctx, s, r)
			}
			errs[i], rgas[i] = err, tx.GasUsed
		})
	}
	wg.Wait()
	var sum uint64
	for i := range nr {
		if errs[i] != nil {
			t.Fatalf("reservation %d: %v", i, errs[i])
		}
		if l, err := c.LaneOf(ctx, addrs[i], providers[i]); err != nil || l.Amount.Cmp(new(big.Int).Quo(tokens(1), big.NewInt(10))) != 0 {
			t.Fatalf("lane %d: %+v %v", i, l, err)
		}
		sum += rgas[i]
	}
	t.Logf("%d reservations from one gas payer: all mined with 2 confirmations in %s, %d gas each on average", nr, time.Since(start).Round(time.Millisecond), sum/nr)
}
