package e2e

import (
	"context"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/contracts"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/network"
	"github.com/mystnode/myst/proposal"
)

// balances reads `myst payments balance` output.
func balances(t testing.TB, args []string, id string) (deposit, tokens *big.Int) {
	t.Helper()
	out := mustMyst(t, append(args, "payments", "balance", id)...).stdout
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, ": ")
		if !ok {
			continue
		}
		amount, err := proposal.ParseAmount(strings.TrimSuffix(strings.TrimSpace(v), " MYSTT"))
		if err != nil {
			continue
		}
		switch k {
		case "deposit":
			deposit = amount
		case "tokens":
			tokens = amount
		}
	}
	if deposit == nil || tokens == nil {
		t.Fatalf("balance output:\n%s", out)
	}
	return deposit, tokens
}

// laneOf reads what consumer reserved for provider in the Payments
// contract, with eth_call.
func laneOf(t testing.TB, ln *localnet, consumer, provider string) *big.Int {
	t.Helper()
	var f network.File
	readJSONFile(t, ln.network, &f)
	a, err := contracts.PaymentsMetaData.GetAbi()
	if err != nil {
		t.Fatal(err)
	}
	data, err := a.Pack("lanes", common.HexToAddress(consumer), common.HexToAddress(provider))
	if err != nil {
		t.Fatal(err)
	}
	out, err := a.Unpack("lanes", ethCall(t, ln.rpcURL, *f.PaymentsAddress, data))
	if err != nil {
		t.Fatal(err)
	}
	return out[0].(*big.Int)
}

func TestPricedSessionPaidOnChain(t *testing.T) {
	t.Parallel()
	ln, dir, pass, ids := startNetwork(t, "provider", "consumer", "broke")
	provider, consumer, broke := ids[0], ids[1], ids[2]
	cli := []string{"--data-dir", filepath.Join(dir, "consumer"), "--network", ln.network, "--lightkdf"}

	// Bad amounts are refused before anything is sent.
	for _, a := range []string{"1e3", "0", "lots"} {
		if r := myst(t, append(cli, "payments", "fund", consumer, a)...); r.code == 0 || !strings.Contains(r.stderr, "amount") {
			t.Fatalf("fund %s: %s", a, r.stderr)
		}
	}
	mustMyst(t, append(cli, "payments", "fund", consumer, "100")...)
	r := mustMyst(t, append(cli, "payments", "deposit", "10", "--identity", consumer, "--passphrase-file", pass)...)
	t.Logf("%s", strings.TrimSpace(r.stdout))
	dep0, _ := balances(t, cli, consumer)
	if dep0.Cmp(mustAmount(t, "10")) != 0 {
		t.Fatalf("deposit %v", dep0)
	}
	_, prov0 := balances(t, cli, provider)

	// 36 MYSTT an hour = 0.01 a second; invoices every 300 ms; settle only at the end.
	pArgs := []string{"--invoice-every", "300ms", "--payment-grace", "3s", "--settle-threshold", "1000"}
	pd := startDaemon(t, ln, filepath.Join(dir, "provider"), pArgs...)
	cd := startDaemon(t, ln, filepath.Join(dir, "consumer"))
	bd := startDaemon(t, ln, filepath.Join(dir, "broke"))
	mustMyst(t, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
	mustMyst(t, append(cd.args, "identity", "unlock", consumer, "--passphrase-file", pass)...)
	mustMyst(t, append(bd.args, "identity", "unlock", broke, "--passphrase-file", pass)...)
	mustMyst(t, append(pd.args, "service", "start", "noop", "--identity", provider, "--country", "DE", "--price-hour", "36")...)

	// A consumer without a deposit is refused.
	if r := myst(t, append(bd.args, "connect", provider, "--identity", broke, "--service", "noop")...); r.code == 0 || !strings.Contains(r.stderr, "deposit") {
		t.Fatalf("consumer without deposit: exit %d, %s", r.code, r.stderr)
	}

	mustMyst(t, append(cd.args, "connect", provider, "--identity", consumer, "--service", "noop")...)
	// The session runs until a few invoices were paid; status shows the cost.
	// (Two minutes: CI runs this beside browsers and chains.)
	for deadline := time.Now().Add(2 * time.Minute); ; {
		st := mustMyst(t, append(cd.args, "status")...).stdout
		if strings.Contains(st, "cost: ") && !strings.Contains(st, "cost: 0 MYSTT") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no cost after 2 min:\n%s\nconsumer log:\n%s\nprovider log:\n%s", st, cd.stderr.String(), pd.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	mysttest.WaitFor(t, time.Minute, func() bool {
		l, err := pd.client.Sessions(context.Background())
		return err == nil && len(l) == 1 && l[0].Amount != "" && mustAmount(t, l[0].Amount).Cmp(mustAmount(t, "0.01")) >= 0
	})
	ss := mustMyst(t, append(pd.args, "sessions")...).stdout
	t.Logf("provider sessions:\n%s", ss)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // minutes under -race
	defer cancel()
	stats, err := cd.client.Statistics(ctx)
	if err != nil || stats.Cost == "" {
		t.Fatalf("statistics %+v, %v", stats, err)
	}
	mustMyst(t, append(cd.args, "disconnect")...)

	// The session's end settles it: the provider gains exactly what the
	// consumer's deposit lost, which is the last promise.
	var settled *big.Int
	mysttest.WaitFor(t, 30*time.Second, func() bool {
		e, err := pd.client.Earnings(ctx, provider)
		if err != nil || e.Unsettled != "0" || e.Settled == "0" {
			return false
		}
		settled = mustAmount(t, e.Settled)
		return true
	})
	dep1, _ := balances(t, cli, consumer)
	_, prov1 := balances(t, cli, provider)
	gained := new(big.Int).Sub(prov1, prov0)
	spent := new(big.Int).Sub(dep0, dep1)
	// What the provider asked the consumer to reserve for it (its lane)
	// left the free deposit too; what the lane still holds is not spent.
	lane := laneOf(t, ln, consumer, provider)
	t.Logf("last promise %s MYSTT; provider gained %s, consumer's free deposit shrank by %s, of which %s is still in the provider's lane",
		proposal.FormatAmount(settled), proposal.FormatAmount(gained), proposal.FormatAmount(spent), proposal.FormatAmount(lane))
	if gained.Cmp(settled) != 0 || new(big.Int).Sub(spent, lane).Cmp(settled) != 0 {
		t.Fatalf("provider gained %v, deposit shrank %v (lane %v), last promise %v", gained, spent, lane, settled)
	}
	// The daemon's API agrees with the chain.
	pb, err := cd.client.PaymentsBalance(ctx, consumer)
	if err != nil || pb.Deposit != proposal.FormatAmount(dep1) {
		t.Fatalf("API balance %+v, %v; chain says %s", pb, err, proposal.FormatAmount(dep1))
	}
	if _, err := cd.client.Deposit(ctx, api.DepositRequest{ID: consumer, Amount: "-3"}); err == nil || !strings.Contains(err.Error(), "amount") {
		t.Fatalf("deposit of -3 through the API: %v", err)
	}
	if pb, err = cd.client.Deposit(ctx, api.DepositRequest{ID: consumer, Amount: "1"}); err != nil || mustAmount(t, pb.Deposit).Cmp(new(big.Int).Add(dep1, mustAmount(t, "1"))) != 0 {
		t.Fatalf("deposit through the API: %+v, %v", pb, err)
	}
	// The CLI deposits through the daemon where the identity is unlocked:
	// no passphrase asked (stdin is empty, no --passphrase-file).
	r = mustMyst(t, append(cd.args, "payments", "deposit", "1", "--identity", consumer)...)
	if !strings.Contains(r.stderr, "through the daemon") || !strings.Contains(r.stdout, "deposited 1 MYSTT") {
		t.Fatalf("deposit through the daemon:\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
	}
	dep1, _ = balances(t, cli, consumer)
	if want := new(big.Int).Add(mustAmount(t, pb.Deposit), mustAmount(t, "1")); dep1.Cmp(want) != 0 {
		t.Fatalf("deposit after the CLI's daemon deposit %v, want %v", dep1, want)
	}
	// About 3 s at 0.01 MYSTT/s.
	if settled.Cmp(mustAmount(t, "0.01")) < 0 || settled.Cmp(mustAmount(t, "0.1")) > 0 {
		t.Fatalf("settled %s MYSTT for a ~3 s session at 0.01/s", proposal.FormatAmount(settled))
	}

	// A provider killed right after acknowledging promises settles them
	// after a restart.
	mustMyst(t, append(cd.args, "connect", provider, "--identity", consumer, "--service", "noop")...)
	var before string
	mysttest.WaitFor(t, 20*time.Second, func() bool {
		e, err := pd.client.Earnings(ctx, provider)
		before = e.Unsettled
		return err == nil && e.Unsettled != "0"
	})
	pd.kill()
	e0, err := afterKill(t, ln, dir, pArgs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed with %s MYSTT unsettled (at least); after restart: settled %s, unsettled %s", before, e0.Settled, e0.Unsettled)
	_, prov2 := balances(t, cli, provider)
	if got := new(big.Int).Sub(prov2, prov1); got.Cmp(mustAmount(t, before)) < 0 {
		t.Fatalf("after restart the provider gained %s, less than the %s acknowledged before the kill", proposal.FormatAmount(got), before)
	}
	mysttest.WaitFor(t, 30*time.Second, func() bool {
		c, err := cd.client.Connection(ctx)
		return err == nil && c.State == "NotConnected"
	})

	// Withdraw the rest: announce, then after the challenge period.
	// Announced through the daemon (no passphrase), refused straight on
	// the chain during the challenge period.
	r = mustMyst(t, append(cd.args, "payments", "withdraw", "--identity", consumer)...)
	if !strings.Contains(r.stdout, "withdrawal announced") || !strings.Contains(r.stderr, "through the daemon") {
		t.Fatalf("withdraw: %s", r.stdout)
	}
	if r = myst(t, append(cli, "payments", "withdraw", "--identity", consumer, "--passphrase-file", pass)...); r.code == 0 || !strings.Contains(r.stderr, "challenge period") {
		t.Fatalf("withdraw during the challenge period: %s", r.stderr)
	}

	// What the provider's lane holds comes back the same way: announced,
	// then refused during the challenge period.
	release := append(cli, "payments", "release", provider, "--identity", consumer, "--passphrase-file", pass)
	if lane := laneOf(t, ln, consumer, provider); lane.Sign() == 0 {
		if r = myst(t, release...); r.code == 0 || !strings.Contains(r.stderr, "no funds reserved") {
			t.Fatalf("release of no lane: %s", r.stderr)
		}
	} else {
		if r = mustMyst(t, release...); !strings.Contains(r.stdout, "lane release announced") {
			t.Fatalf("release: %s", r.stdout)
		}
		if r = myst(t, release...); r.code == 0 || !strings.Contains(r.stderr, "challenge period") {
			t.Fatalf("release during the challenge period: %s", r.stderr)
		}
		t.Logf("lane of %s MYSTT: release announced, refused during the challenge period", proposal.FormatAmount(lane))
	}
	if r = myst(t, append(cli, "payments", "release", "0xnothex", "--identity", consumer, "--passphrase-file", pass)...); r.code == 0 || !strings.Contains(r.stderr, "PROVIDER") {
		t.Fatalf("release of a malformed provider: %s", r.stderr)
	}
}

// afterKill restarts the provider daemon and waits for its start-up
// settlement.
func afterKill(t testing.TB, ln *localnet, dir string, pArgs []string) (e struct{ Settled, Unsettled string }, err error) {
	t.Helper()
	pd := startDaemon(t, ln, filepath.Join(dir, "provider"), pArgs...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id := strings.TrimSpace(mustMyst(t, "--data-dir", filepath.Join(dir, "provider"), "identity", "list").lastLine())
	mysttest.WaitFor(t, 30*time.Second, func() bool {
		got, err := pd.client.Earnings(ctx, id)
		e.Settled, e.Unsettled = got.Settled, got.Unsettled
		return err == nil && got.Unsettled == "0"
	})
	return e, nil
}

func mustAmount(t testing.TB, s string) *big.Int {
	t.Helper()
	v, err := proposal.ParseAmount(s)
	if err != nil {
		t.Fatalf("amount %q: %v", s, err)
	}
	return v
}
