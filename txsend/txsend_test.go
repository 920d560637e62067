package txsend

import (
	"context"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/mystnode/myst/contracts"
	"github.com/mystnode/myst/mysttest"
)

// TestConcurrentAndStuck runs against a separate geth --dev sealing every
// 2 s: 50 token transfers sent at once from one account are all mined,
// each nonce used once, none replaced; a transaction priced under the base
// fee (stuck) is replaced with higher fees and mined.
func TestConcurrentAndStuck(t *testing.T) {
	g := mysttest.StartGeth(t, 2)
	ctx := mysttest.Ctx(t, 4*time.Minute)
	ec, err := ethclient.Dial(g.RPC)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	chainID, err := ec.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := New(ec, chainID, g.Dev, Config{Poll: 200 * time.Millisecond, StuckAfter: time.Minute, Confirmations: 2})
	dep, err := s.Send(ctx, "deploy MystToken", func(o *bind.TransactOpts) (*types.Transaction, error) {
		_, tx, _, err := contracts.DeployMystToken(o, ec)
		return tx, err
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := contracts.NewMystToken(dep.Receipt.ContractAddress, ec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(ctx, "mint", func(o *bind.TransactOpts) (*types.Transaction, error) {
		return tok.Mint(o, g.Dev.Address(), big.NewInt(1e18))
	}); err != nil {
		t.Fatal(err)
	}
	before, err := ec.NonceAt(ctx, g.Dev.Address(), nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	var wg sync.WaitGroup
	results := make([]Result, n)
	errs := make([]error, n)
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			to := mysttest.NewSigner(t).Address()
			results[i], errs[i] = s.Send(ctx, "transfer", func(o *bind.TransactOpts) (*types.Transaction, error) {
				return tok.Transfer(o, to, big.NewInt(int64(1000+i)))
			})
		})
	}
	wg.Wait()
	nonces := map[uint64]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("transfer %d: %v", i, errs[i])
		}
		r := results[i]
		if r.Receipt.Status != types.ReceiptStatusSuccessful || r.Replaced != 0 {
			t.Fatalf("transfer %d: status %d, replaced %d", i, r.Receipt.Status, r.Replaced)
		}
		tx, _, err := ec.TransactionByHash(ctx, r.Receipt.TxHash)
		if err != nil {
			t.Fatal(err)
		}
		if nonces[tx.Nonce()] {
			t.Fatalf("nonce %d used twice", tx.Nonce())
		}
		nonces[tx.Nonce()] = true
	}
	after, _ := ec.NonceAt(ctx, g.Dev.Address(), nil)
	t.Logf("%d concurrent transfers mined with 2 confirmations in %s; nonces %d..%d", n, time.Since(start).Round(time.Millisecond), before, after-1)
	if after-before != n {
		t.Fatalf("the account sent %d transactions for %d transfers", after-before, n)
	}

	// Stuck: offered under the base fee, so no block takes it.
	stuck := New(ec, chainID, g.Dev, Config{Poll: 200 * time.Millisecond, StuckAfter: 3 * time.Second,
		firstFee: func(tip, cap *big.Int) (*big.Int, *big.Int) { return big.NewInt(1), big.NewInt(2) }})
	to := mysttest.NewSigner(t).Address()
	r, err := stuck.Send(ctx, "stuck transfer", func(o *bind.TransactOpts) (*types.Transaction, error) {
		return tok.Transfer(o, to, big.NewInt(7))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stuck transfer: sent %d versions, mined %s", len(r.Sent), r.Receipt.TxHash.Hex())
	if r.Replaced < 1 || r.Receipt.TxHash == r.Sent[0] {
		t.Fatalf("the stuck transaction was not replaced: %+v", r)
	}
	bal, err := tok.BalanceOf(&bind.CallOpts{Context: context.Background()}, to)
	if err != nil || bal.Int64() != 7 {
		t.Fatalf("balance %v %v, want the transfer done once", bal, err)
	}
}
