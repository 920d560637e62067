package payments

import (
	"context"
	"errors"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/mystnode/myst/deploy"
	"github.com/mystnode/myst/devchain"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/txsend"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, mysttest.LeakOptions()...)
}

var token = new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil) // 1 MYSTT

func tokens(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), token) }

type chain struct {
	c     *Client
	payer *identity.Signer
}

// startChain runs a dev chain with the contracts; challenge is the
// withdrawal challenge period in seconds.
func startChain(t testing.TB, challenge uint64) *chain {
	t.Helper()
	payer := mysttest.NewSigner(t)
	dc := mysttest.StartChain(t, payer.Address())
	ec := dc.Client()
	t.Cleanup(ec.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tok, pay := deployAll(t, ctx, ec, payer, tokens(1_000_000), challenge)
	c, err := NewClient(ec, devchain.ChainID, tok, pay)
	if err != nil {
		t.Fatal(err)
	}
	return &chain{c: c, payer: payer}
}

func must(t testing.TB) func(*big.Int, error) *big.Int {
	return func(v *big.Int, err error) *big.Int {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func TestDepositSettleAttacksWithdraw(t *testing.T) {
	ch := startChain(t, 2)
	ctx := mysttest.Ctx(t, time.Minute)
	c := ch.c
	consumer, provider, other := mysttest.NewSigner(t), mysttest.NewSigner(t), mysttest.NewSigner(t)
	// Fund the consumer (tokens + gas) and deposit 10 MYSTT.
	if _, err := c.Fund(ctx, txsend.New(c.Eth(), c.ChainID(), ch.payer, txsend.Config{}), consumer.Address(), tokens(100), big.NewInt(1e17)); err != nil {
		t.Fatal(err)
	}
	dep, err := c.Deposit(ctx, txsend.New(c.Eth(), c.ChainID(), consumer, txsend.Config{}), consumer.Address(), tokens(10))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("gas: deposit %d (approve not included)", dep.GasUsed)
	if b := must(t)(c.Balance(ctx, consumer.Address())); b.Cmp(tokens(10)) != 0 {
		t.Fatalf("deposit balance %v", b)
	}

	p1, _ := c.SignPromise(consumer, provider.Address(), tokens(1))
	p3, _ := c.SignPromise(consumer, provider.Address(), tokens(3))
	paid, tx, err := c.Settle(ctx, txsend.New(c.Eth(), c.ChainID(), ch.payer, txsend.Config{}), p3)
	if err != nil || paid.Cmp(tokens(3)) != 0 {
		t.Fatalf("settle 3: %v, %v", paid, err)
	}
	t.Logf("gas: settle %d", tx.GasUsed)
	// A replayed older (or the same) promise settles nothing more.
	if _, _, err := c.Settle(ctx, txsend.New(c.Eth(), c.ChainID(), ch.payer, txsend.Config{}), p1); err != ErrNothingToPay {
		t.Fatalf("older promise: %v", err)
	}
	if _, _, err := c.Settle(ctx, txsend.New(c.Eth(), c.ChainID(), ch.payer, txsend.Config{}), p3); err != ErrNothingToPay {
		t.Fatalf("replayed promise: %v", err)
	}
	// A promise for another provider can't be settled to this one.
	forOther, _ := c.SignPromise(consumer, other.Address(), tokens(5))
	stolen := forOther
	stolen.Provider = provider.Address()
	if _, _, err := c.Settle(ctx, txsend.New(c.Eth(), c.ChainID(), ch.payer, txsend.Config{}), stolen); err == nil || !strings.Contains(err.Error(), "not signed by the consumer") {
		t.Fatalf("promise redirected to another provider: %v", err)
	}
	// A promise for another contract can't be settled here.
	otherContract := *c
	otherContract.payAt = common.HexToAddress("0x1234")
	wrong, _ := otherContract.SignPromise(consumer, provider.Address(), tokens(5))
	if _, _, err := c.Settle(ctx, txsend.New(c.Eth(), c.ChainID(), ch.payer, txsend.Config{}), wrong); err == nil || !strings.Contains(err.Error(), "not signed by the consumer") {
		t.Fatalf("promise for another contract: %v", err)
	}
	// A forged signature is rejected.
	forged := Promise{Consumer: consumer.Address(), Provider: provider.Address(), Cumulative: tokens(8)}
	forged.Signature, _ = other.Sign(PromiseDigest(c.payAt, c.chainID, consumer.Address(), provider.Address(), tokens(8)))
	if _, _, err := c.Settle(ctx, txsend.New(c.Eth(), c.ChainID(), ch.payer, txsend.Config{}), forged); err == nil || !strings.Contains(err.Error(), "not signed by the consumer") {
		t.Fatalf("forged promise: %v", err)
	}
	if err := c.Verify(forged); err == nil {
		t.Fatal("Verify accepted a forged promise")
	}
	// A promise above the deposit settles at most the deposit (7 left).
	big100, _ := c.SignPromise(consumer, provider.Address(), tokens(103))
	paid, _, err = c.Settle(ctx, txsend.New(c.Eth(), c.ChainID(), ch.payer, txsend.Config{}), big100)
	if err != nil || paid.Cmp(tokens(7)) != 0 {
		t.Fatalf("promise above deposit paid %v, %v; want 7 MYSTT", paid, err)
	}
	if b := must(t)(c.TokenBalance(ctx, provider.Address())); b.Cmp(tokens(10)) != 0 {
		t.Fatalf("provider holds %v, want 10 MYSTT", b)
	}

	// Withdrawal: announce, can't withdraw during the challenge period,
	// providers can still settle then; afterwards the rest goes out.
	if _, err := c.Deposit(ctx, txsend.New(c.Eth(), c.ChainID(), consumer, txsend.Config{}), consumer.Address(), tokens(20)); err != nil {
		t.Fatal(err)
	}
	req, err := c.RequestWithdrawal(ctx, txsend.New(c.Eth(), c.ChainID(), ch.payer, txsend.Config{}), consumer, consumer.Address())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Withdraw(ctx, txsend.New(c.Eth(), c.ChainID(), ch.payer, txsend.Config{}), consumer.Address()); !errors.Is(err, ErrChallengePeriod) {
		t.Fatalf("withdraw during the challenge period: %v", err)
	}
	p12, _ := c.SignPromise(consumer, provider.Address(), tokens(12)) // 10 settled so far: adds 2
	if paid, _, err := c.Settle(ctx, txsend.New(c.Eth(), c.ChainID(), ch.payer, txsend.Config{}), p12); err != nil || paid.Cmp(tokens(2)) != 0 {
		t.Fatalf("settle during the challenge period: %v, %v", paid, err)
	}
	// The dev chain's clock runs ahead of the wall clock when blocks come
	// faster than one a second; wait until the period is over by both.
	var w Tx
	deadline := time.Now().Add(30 * time.Second)
	for {
		w, err = c.Withdraw(ctx, txsend.New(c.Eth(), c.ChainID(), ch.payer, txsend.Config{}), consumer.Address())
		if !errors.Is(err, ErrChallengePeriod) || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("gas: requestWithdrawal %d, withdraw %d", req.GasUsed, w.GasUsed)
	if b := must(t)(c.Balance(ctx, consumer.Address())); b.Sign() != 0 {
		t.Fatalf("deposit after withdraw %v", b)
	}
	// 100 funded - 30 deposited + 18 withdrawn = 88.
	if b := must(t)(c.TokenBalance(ctx, consumer.Address())); b.Cmp(tokens(88)) != 0 {
		t.Fatalf("consumer holds %v after withdrawing, want 88 MYSTT", b)
	}
}

// deployAll deploys the token (supply minted to payer) and Payments the
// way networks are deployed (package deploy).
func deployAll(t testing.TB, ctx context.Context, ec *ethclient.Client, payer *identity.Signer, supply *big.Int, challenge uint64) (token, pay common.Address) {
	t.Helper()
	st, err := deploy.Run(ctx, deploy.Config{RPC: ec, Deployer: payer, TestSupply: supply, ChallengeSeconds: challenge, StatePath: filepath.Join(t.TempDir(), "deploy.json")})
	if err != nil {
		t.Fatal(err)
	}
	return st.Step("MystToken").Address, st.Step("Payments").Address
}
