package ethrpc

import (
	"errors"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
)

// RevertReason is the reason string of a contract call that reverted
// (require(cond, "reason")), decoded from the error's revert data when
// the node sent it, else read from "execution reverted: reason" in its
// message; ok is false when err is no revert.
func RevertReason(err error) (reason string, ok bool) {
	if err == nil {
		return "", false
	}
	var de rpc.DataError
	if errors.As(err, &de) {
		var data []byte
		switch d := de.ErrorData().(type) {
		case string:
			data, _ = hexutil.Decode(d)
		case []byte:
			data = d
		}
		if r, uerr := abi.UnpackRevert(data); uerr == nil {
			return r, true
		}
	}
	const mark = "execution reverted: "
	if s := err.Error(); strings.Contains(s, mark) {
		r := s[strings.Index(s, mark)+len(mark):]
		// A wrapping layer may add its own words after the node's.
		if i := strings.Index(r, " (HTTP"); i >= 0 {
			r = r[:i]
		}
		return strings.TrimSpace(r), true
	}
	return "", false
}

// The node's own words for a few conditions, which reach the client only
// as text: matched here, and nowhere else.

// IsNonceTooLow: the transaction's nonce is used already.
func IsNonceTooLow(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "nonce too low")
}

// IsInsufficientFunds: the sender cannot pay the gas (or value).
func IsInsufficientFunds(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "insufficient funds") || strings.Contains(s, "gas required exceeds allowance")
}

// IsIndexing: a fresh node is still indexing transactions, so a receipt
// is not found yet.
func IsIndexing(err error) bool {
	return err != nil && strings.Contains(err.Error(), "indexing is in progress")
}
