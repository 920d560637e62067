package txsend

import (
	"context"
	"log/slog"
	"math/big"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/mystnode/myst/devchain"
	"github.com/mystnode/myst/mysttest"
)

// manualChain is an in-process dev chain that seals only on Commit.
func manualChain(t *testing.T, funded ...common.Address) (*devchain.Chain, *ethclient.Client) {
	t.Helper()
	c, err := devchain.Start(devchain.Config{RPCAddr: "127.0.0.1:0", Funded: funded, Manual: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ec, err := ethclient.Dial(c.RPCURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ec.Close)
	c.Commit()
	return c, ec
}

// pay builds a transfer of 1 finney to `to`.
func pay(to common.Address) Build {
	return func(o *bind.TransactOpts) (*types.Transaction, error) {
		gas := o.GasLimit
		if gas == 0 {
			gas = 21000
		}
		tx := types.NewTx(&types.DynamicFeeTx{ChainID: big.NewInt(devchain.ChainID), Nonce: o.Nonce.Uint64(), GasTipCap: o.GasTipCap,
			GasFeeCap: o.GasFeeCap, Gas: gas, To: &to, Value: big.NewInt(1e15)})
		return o.Signer(o.From, tx)
	}
}

// waitPending waits until the pool holds n transactions of from.
func waitPending(t *testing.T, ctx context.Context, ec *ethclient.Client, from common.Address, n uint64) {
	t.Helper()
	mysttest.WaitFor(t, 30*time.Second, func() bool {
		p, err := ec.PendingNonceAt(ctx, from)
		return err == nil && p >= n
	})
}

func balance(t *testing.T, ctx context.Context, ec *ethclient.Client, a common.Address) *big.Int {
	t.Helper()
	b, err := ec.BalanceAt(ctx, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReorgDropsTransaction: a transfer is mined, then a reorg takes it
// out of the chain and another transaction of the same account takes its
// nonce before it is confirmed. The sender notices, sends it again with a
// new nonce and returns that one's receipt: paid exactly once.
func TestReorgDropsTransaction(t *testing.T) {
	from, to, other := mysttest.NewSigner(t), mysttest.NewSigner(t).Address(), mysttest.NewSigner(t).Address()
	chain, ec := manualChain(t, from.Address())
	ctx := mysttest.Ctx(t, 2*time.Minute)
	genesisNext, err := ec.HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s := New(ec, big.NewInt(devchain.ChainID), from, Config{Poll: 50 * time.Millisecond, Confirmations: 3, StuckAfter: time.Hour, Logger: logger})
	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		r, err := s.Send(ctx, "pay", pay(to))
		done <- outcome{r, err}
	}()
	waitPending(t, ctx, ec, from.Address(), 1)
	chain.Commit() // mined: one confirmation of three
	mysttest.WaitFor(t, 10*time.Second, func() bool { return balance(t, ctx, ec, to).Sign() > 0 })

	// The reorg: a side chain from before that block becomes canonical;
	// the transfer returns to the pool, where a transaction of the same
	// account with the same nonce and higher fees replaces it.
	if err := chain.Fork(genesisNext.Hash()); err != nil {
		t.Fatal(err)
	}
	if b := balance(t, ctx, ec, to); b.Sign() != 0 {
		t.Fatalf("after the reorg the recipient still holds %s", b)
	}
	tip, feeCap, err := s.Fees(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conflict := types.NewTx(&types.DynamicFeeTx{ChainID: big.NewInt(devchain.ChainID), Nonce: 0, GasTipCap: new(big.Int).Mul(tip, big.NewInt(3)),
		GasFeeCap: new(big.Int).Mul(feeCap, big.NewInt(3)), Gas: 21000, To: &other, Value: big.NewInt(1)})
	signed, err := from.SignTx(conflict, big.NewInt(devchain.ChainID))
	if err != nil {
		t.Fatal(err)
	}
	if err := ec.SendTransaction(ctx, signed); err != nil {
		t.Fatalf("the conflicting transaction: %v", err)
	}
	// Blocks keep coming until the sender is done.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				chain.Commit()
			}
		}
	})
	o := <-done
	close(stop)
	wg.Wait()
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Dropped != 1 || o.res.Receipt.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("result %+v", o.res)
	}
	tx, _, err := ec.TransactionByHash(ctx, o.res.Receipt.TxHash)
	if err != nil || tx.Nonce() != 1 {
		t.Fatalf("the transfer mined with nonce %d (%v), want 1 (sent again after the drop)", tx.Nonce(), err)
	}
	if got := balance(t, ctx, ec, to); got.Cmp(big.NewInt(1e15)) != 0 {
		t.Fatalf("the recipient holds %s wei, want one transfer (1e15)", got)
	}
	if got := balance(t, ctx, ec, other); got.Cmp(big.NewInt(1)) != 0 {
		t.Fatalf("the conflicting transaction was not mined: %s", got)
	}
}

// TestJournalResume: a sender "crashes" (its Send is cancelled) after
// sending and before the transaction is mined; a new sender on the same
// journal, asked to send the same thing, waits for the journaled
// transaction instead of sending a second, and the journal is empty after.
func TestJournalResume(t *testing.T) {
	from, to := mysttest.NewSigner(t), mysttest.NewSigner(t).Address()
	chain, ec := manualChain(t, from.Address())
	ctx := mysttest.Ctx(t, time.Minute)
	j, err := OpenJournal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Poll: 50 * time.Millisecond, Confirmations: 2, StuckAfter: time.Hour, Journal: j}
	crashed, cancel := context.WithCancel(ctx)
	first := New(ec, big.NewInt(devchain.ChainID), from, cfg)
	errc := make(chan error, 1)
	go func() {
		_, err := first.Send(crashed, "pay alice", pay(to))
		errc <- err
	}()
	waitPending(t, ctx, ec, from.Address(), 1)
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("the first send finished without a block")
	}
	if es, err := j.Entries(); err != nil || len(es) != 1 || es[0].Nonce != 0 || len(es[0].Raw) != 1 {
		t.Fatalf("journal after the crash: %+v %v", es, err)
	}
	// At start a node sends what the journal holds again (not mined yet).
	if done, resent, err := j.Resume(ctx, ec); err != nil || done != 0 || resent != 1 {
		t.Fatalf("resume: done %d, sent again %d, %v", done, resent, err)
	}
	second := New(ec, big.NewInt(devchain.ChainID), from, cfg)
	done := make(chan error, 1)
	var res Result
	go func() {
		var err error
		res, err = second.Send(ctx, "pay alice", pay(to))
		done <- err
	}()
	var err2 error
	for loop := true; loop; {
		select {
		case err2 = <-done:
			loop = false
		case <-time.After(100 * time.Millisecond):
			chain.Commit()
		}
	}
	if err2 != nil {
		t.Fatal(err2)
	}
	if !res.Resumed || len(res.Sent) != 1 {
		t.Fatalf("result %+v: want the journaled transaction waited for", res)
	}
	if n, err := ec.NonceAt(ctx, from.Address(), nil); err != nil || n != 1 {
		t.Fatalf("the account sent %d transactions (%v), want 1", n, err)
	}
	if es, _ := j.Entries(); len(es) != 0 {
		t.Fatalf("journal not emptied: %+v", es)
	}
}
