package ethrpc

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

type dataErr struct{ data any }

func (e dataErr) Error() string  { return "execution reverted" }
func (e dataErr) ErrorData() any { return e.data }

// TestRevertReason: the reason is decoded from the node's revert data
// (through wrapping), read from the message when there is no data, and
// absent when the error is no revert.
func TestRevertReason(t *testing.T) {
	// Error(string) selector, then the ABI-encoded string.
	str, _ := abi.NewType("string", "", nil)
	enc, err := abi.Arguments{{Type: str}}.Pack("Payments: zero deposit")
	if err != nil {
		t.Fatal(err)
	}
	data := hexutil.Encode(append([]byte{0x08, 0xc3, 0x79, 0xa0}, enc...))
	for _, c := range []struct {
		err  error
		want string
		ok   bool
	}{
		{fmt.Errorf("deposit: %w", dataErr{data}), "Payments: zero deposit", true},
		{errors.New("execution reverted: IdentityRegistry: identity already registered"), "IdentityRegistry: identity already registered", true},
		{errors.New("connection refused"), "", false},
		{nil, "", false},
	} {
		got, ok := RevertReason(c.err)
		if got != c.want || ok != c.ok {
			t.Errorf("%v: %q %v, want %q %v", c.err, got, ok, c.want, c.ok)
		}
	}
	if !IsNonceTooLow(errors.New("Nonce too low: next 5")) || IsInsufficientFunds(errors.New("nonce too low")) {
		t.Error("node texts")
	}
}
