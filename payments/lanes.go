package payments

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/mystnode/myst/contracts"
	"github.com/mystnode/myst/ethrpc"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/txsend"
)

// Errors of lanes and simulated transactions.
var (
	// ErrBadReservation: a reservation not signed by its consumer, for
	// another provider or contract, or with a used nonce.
	ErrBadReservation = errors.New("invalid reservation")
	// ErrWouldRevert: the chain says the transaction would fail, so it is
	// not sent (a provider does not pay gas for a transaction that fails).
	ErrWouldRevert = errors.New("the transaction would fail")
)

// Reservation is a consumer's signed order to move Amount of its free
// deposit into its lane for Provider; Nonce is the lane's next nonce.
type Reservation struct {
	Consumer  common.Address `json:"consumer"`
	Provider  common.Address `json:"provider"`
	Amount    *big.Int       `json:"amount"`
	Nonce     uint64         `json:"nonce"`
	Signature []byte         `json:"signature"`
}

// ReservationDigest is what a consumer signs (EIP-191) to reserve: as the
// contract packs (contract, chain id, consumer, provider, amount, nonce,
// "reserve").
func ReservationDigest(contract common.Address, chainID *big.Int, consumer, provider common.Address, amount *big.Int, nonce uint64) []byte {
	return laneDigest(contract, chainID, consumer, provider, "reserve", amount, new(big.Int).SetUint64(nonce))
}

// releaseDigest is what a consumer signs to announce a lane's release.
func releaseDigest(contract common.Address, chainID *big.Int, consumer, provider common.Address, nonce uint64) []byte {
	return laneDigest(contract, chainID, consumer, provider, "release", new(big.Int).SetUint64(nonce))
}

// laneDigest is keccak256 of (contract, chain id, consumer, provider,
// each of words as uint256, tag), as the contract packs a lane's orders.
func laneDigest(contract common.Address, chainID *big.Int, consumer, provider common.Address, tag string, words ...*big.Int) []byte {
	b := make([]byte, 0, 20+32+20+20+32*len(words)+len(tag))
	b = append(b, contract.Bytes()...)
	b = append(b, common.LeftPadBytes(chainID.Bytes(), 32)...)
	b = append(b, consumer.Bytes()...)
	b = append(b, provider.Bytes()...)
	for _, w := range words {
		b = append(b, common.LeftPadBytes(w.Bytes(), 32)...)
	}
	b = append(b, tag...)
	return crypto.Keccak256(b)
}

// SignReservation makes consumer's reservation of amount for provider with
// the lane's nonce.
func (c *Client) SignReservation(consumer *identity.Signer, provider common.Address, amount *big.Int, nonce uint64) (Reservation, error) {
	sig, err := consumer.Sign(ReservationDigest(c.payAt, c.chainID, consumer.Address(), provider, amount, nonce))
	if err != nil {
		return Reservation{}, err
	}
	return Reservation{Consumer: consumer.Address(), Provider: provider, Amount: new(big.Int).Set(amount), Nonce: nonce, Signature: sig}, nil
}

// VerifyReservation checks r is its consumer's, for this contract and chain.
func (c *Client) VerifyReservation(r Reservation) error {
	if r.Amount == nil || r.Amount.Sign() <= 0 {
		return fmt.Errorf("%w: no amount", ErrBadReservation)
	}
	if err := identity.Verify(r.Consumer, ReservationDigest(c.payAt, c.chainID, r.Consumer, r.Provider, r.Amount, r.Nonce), r.Signature); err != nil {
		return fmt.Errorf("%w: %v", ErrBadReservation, err)
	}
	return nil
}

// Lane is what a consumer reserved for one provider on chain.
type Lane struct {
	Amount    *big.Int
	ReleaseAt uint64 // unix seconds; 0: no release announced
	Nonce     uint64 // the next reservation's nonce
}

// LaneOf reads consumer's lane for provider.
func (c *Client) LaneOf(ctx context.Context, consumer, provider common.Address) (Lane, error) {
	o := &bind.CallOpts{Context: ctx}
	l, err := c.payments.Lanes(o, consumer, provider)
	if err != nil {
		return Lane{}, err
	}
	n, err := c.payments.LaneNonce(o, consumer, provider)
	if err != nil {
		return Lane{}, err
	}
	return Lane{Amount: l.Amount, ReleaseAt: l.ReleaseAt.Uint64(), Nonce: n.Uint64()}, nil
}

// paymentsABI is parsed on first use, not at start: every CLI command
// would pay for it.
var paymentsABI = sync.OnceValue(func() *abi.ABI {
	a, err := contracts.PaymentsMetaData.GetAbi()
	if err != nil {
		panic(err)
	}
	return a
})

// simulate runs method with args as from would send it, on the latest
// block, and returns its outputs; a revert is ErrWouldRevert with the
// contract's reason.
func (c *Client) simulate(ctx context.Context, from common.Address, method string, args ...any) ([]any, error) {
	data, err := paymentsABI().Pack(method, args...)
	if err != nil {
		return nil, err
	}
	out, err := c.eth.CallContract(ctx, ethereum.CallMsg{From: from, To: &c.payAt, Data: data}, nil)
	if err != nil {
		if _, ok := ethrpc.RevertReason(err); ok {
			return nil, fmt.Errorf("%w: %w", ErrWouldRevert, revert(err))
		}
		return nil, fmt.Errorf("simulate %s: %w", method, err)
	}
	return paymentsABI().Unpack(method, out)
}

// SimulateSettle is what settling p would pay now, sent by from; it sends
// nothing. A promise that would pay nothing is ErrNothingToPay.
func (c *Client) SimulateSettle(ctx context.Context, from common.Address, p Promise) (*big.Int, error) {
	out, err := c.simulate(ctx, from, "settle", p.Consumer, p.Provider, p.Cumulative, p.Signature)
	if err != nil {
		if errors.Is(err, ErrNothingToPay) {
			return new(big.Int), ErrNothingToPay
		}
		return nil, err
	}
	paid, _ := out[0].(*big.Int)
	if paid == nil {
		return nil, errors.New("simulate settle: no amount in the answer")
	}
	return paid, nil
}

// ReserveWith submits a consumer's reservation through a txsend.Sender
// (its account pays gas), after checking the signature and simulating it:
// a reservation that would fail (beyond the free deposit, a used nonce,
// signed for another provider) is not sent.
func (c *Client) ReserveWith(ctx context.Context, s *txsend.Sender, r Reservation) (Tx, error) {
	if err := c.VerifyReservation(r); err != nil {
		return Tx{}, err
	}
	if _, err := c.simulate(ctx, s.From(), "reserve", r.Consumer, r.Provider, r.Amount, r.Signature); err != nil {
		return Tx{}, fmt.Errorf("reserve: %w", err)
	}
	return c.send(ctx, s, fmt.Sprintf("reserve %s for %s nonce %d", r.Consumer.Hex(), r.Provider.Hex(), r.Nonce), func(o *bind.TransactOpts) (*types.Transaction, error) {
		return c.payments.Reserve(o, r.Consumer, r.Provider, r.Amount, r.Signature)
	})
}

// RequestLaneRelease announces that consumer's lane for provider goes back
// to its free deposit after the challenge period; sender pays gas.
func (c *Client) RequestLaneRelease(ctx context.Context, sender *txsend.Sender, consumer *identity.Signer, provider common.Address) (Tx, error) {
	l, err := c.LaneOf(ctx, consumer.Address(), provider)
	if err != nil {
		return Tx{}, err
	}
	sig, err := consumer.Sign(releaseDigest(c.payAt, c.chainID, consumer.Address(), provider, l.Nonce))
	if err != nil {
		return Tx{}, err
	}
	return c.send(ctx, sender, "lane release request of "+consumer.Address().Hex()+" for "+provider.Hex(), func(o *bind.TransactOpts) (*types.Transaction, error) {
		return c.payments.RequestLaneRelease(o, consumer.Address(), provider, sig)
	})
}

// ReleaseLane completes an announced lane release; sender pays gas.
func (c *Client) ReleaseLane(ctx context.Context, sender *txsend.Sender, consumer, provider common.Address) (Tx, error) {
	return c.send(ctx, sender, "lane release of "+consumer.Hex()+" for "+provider.Hex(), func(o *bind.TransactOpts) (*types.Transaction, error) {
		o.GasLimit = 200_000 // see Withdraw: estimation may run inside the period
		return c.payments.ReleaseLane(o, consumer, provider)
	})
}

// LaneStep is what ReleaseOrAnnounce did.
type LaneStep struct {
	Announced bool      // a release was announced (none was pending)
	ReleaseAt time.Time // when the lane goes back to the free deposit
	Released  *big.Int  // what went back, when it completed
	Tx        Tx
}

// ErrNoLane means a consumer holds nothing reserved for a provider.
var ErrNoLane = errors.New("no funds reserved for that provider")

// ReleaseOrAnnounce announces the release of consumer's lane for provider
// if none is pending (from then on the provider can settle promises it
// holds, but gets no new reservation with the old nonce), or completes
// the pending one (ErrChallengePeriod while the period runs): the lane
// goes back to the consumer's free deposit. sender pays gas.
func (c *Client) ReleaseOrAnnounce(ctx context.Context, sender *txsend.Sender, consumer *identity.Signer, provider common.Address) (LaneStep, error) {
	l, err := c.LaneOf(ctx, consumer.Address(), provider)
	if err != nil {
		return LaneStep{}, err
	}
	if l.Amount.Sign() == 0 {
		return LaneStep{}, fmt.Errorf("%w %s", ErrNoLane, provider.Hex())
	}
	if l.ReleaseAt == 0 {
		tx, err := c.RequestLaneRelease(ctx, sender, consumer, provider)
		if err != nil {
			return LaneStep{}, err
		}
		if l, err = c.LaneOf(ctx, consumer.Address(), provider); err != nil {
			return LaneStep{}, err
		}
		return LaneStep{Announced: true, ReleaseAt: time.Unix(int64(l.ReleaseAt), 0).UTC(), Tx: tx}, nil
	}
	at := time.Unix(int64(l.ReleaseAt), 0).UTC()
	if now := time.Now(); now.Before(at) {
		return LaneStep{ReleaseAt: at}, fmt.Errorf("%w: it ends at %s, in %s", ErrChallengePeriod, at.Format(time.RFC3339), at.Sub(now).Round(time.Second))
	}
	tx, err := c.ReleaseLane(ctx, sender, consumer.Address(), provider)
	if err != nil {
		return LaneStep{}, err
	}
	return LaneStep{ReleaseAt: at, Released: l.Amount, Tx: tx}, nil
}
