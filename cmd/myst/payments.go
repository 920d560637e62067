package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/cmd/internal/cli"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/payments"
	"github.com/mystnode/myst/proposal"
	"github.com/mystnode/myst/registry"
	"github.com/mystnode/myst/txsend"
	"github.com/spf13/cobra"
)

// onChain runs f with a client of the network's payment contracts and a
// deadline of d: the "connect, deadline, call" of the payments commands
// that talk to the chain directly.
func (g *globals) onChain(cmd *cobra.Command, d time.Duration, f func(ctx context.Context, c *payments.Client) error) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), d)
	defer cancel()
	c, closeFn, err := g.paymentsClient(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	return f(ctx, c)
}

// paymentsClient connects to the network's payment contracts.
func (g *globals) paymentsClient(ctx context.Context) (*payments.Client, func(), error) {
	nf, reg, err := g.registry(ctx)
	if err != nil {
		return nil, nil, err
	}
	if !nf.HasPayments() {
		reg.Close()
		return nil, nil, errors.New("the network file has no payments_address: this network has no payments")
	}
	c, err := payments.NewClient(reg.Eth(), nf.ChainID, *nf.TokenAddress, *nf.PaymentsAddress)
	if err != nil {
		reg.Close()
		return nil, nil, err
	}
	return c, reg.Close, nil
}

func parseAmountArg(s string) (*big.Int, error) {
	v, err := proposal.ParseAmount(s)
	if err != nil {
		return nil, fmt.Errorf("amount %q: %v (MYSTT, like 10 or 0.5)", s, err)
	}
	if v.Sign() == 0 {
		return nil, fmt.Errorf("amount %q: must be more than 0", s)
	}
	return v, nil
}

func (g *globals) unlock(cmd *cobra.Command, addr common.Address, passFile string) (*identity.Signer, error) {
	st := g.store()
	if ok, err := st.Has(addr); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("%w: %s (see `myst identity list`)", identity.ErrNotFound, addr.Hex())
	}
	pass, err := cli.ReadPassphrase(cmd, passFile, "Passphrase of "+addr.Hex()+": ", false)
	if err != nil {
		return nil, err
	}
	s, err := st.Unlock(addr, pass)
	if errors.Is(err, identity.ErrWrongPassword) {
		return nil, fmt.Errorf("%w: check --passphrase-file or type it again", err)
	}
	return s, err
}

func newPaymentsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "payments", Short: "Test tokens, deposits and withdrawals (through the daemon when the identity is unlocked there, else straight to the chain)"}
	cmd.AddCommand(newFundCmd(g), newDepositCmd(g), newBalanceCmd(g), newWithdrawCmd(g), newReleaseCmd(g))
	return cmd
}

// newFundCmd is `myst payments fund`.
func newFundCmd(g *globals) *cobra.Command {
	var fromKey, fromPass, etherFlag string
	fund := &cobra.Command{
		Use:   "fund ADDRESS AMOUNT [--from KEYSTORE --passphrase-file F] [--ether AMOUNT]",
		Short: "Give an identity test tokens (and ether for gas) from the network's funded account, or from a keystore account (--from) on any network",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			who, err := identity.ParseAddress(args[0])
			if err != nil {
				return err
			}
			amount, err := parseAmountArg(args[1])
			if err != nil {
				return err
			}
			nf, _, err := g.networkFile()
			if err != nil {
				return err
			}
			gasWei, err := proposal.ParseAmount(etherFlag) // 18 decimals, like ether
			if err != nil {
				return fmt.Errorf("--ether: %w", err)
			}
			var payer *identity.Signer
			if fromKey != "" {
				blob, err := os.ReadFile(fromKey)
				if err != nil {
					return fmt.Errorf("--from: %w", err)
				}
				pass, err := cli.ReadPassphrase(cmd, fromPass, "Passphrase of "+fromKey+": ", false)
				if err != nil {
					return err
				}
				key, err := keystore.DecryptKey(blob, pass)
				if err != nil {
					return fmt.Errorf("--from %s: %w (check --passphrase-file)", fromKey, err)
				}
				payer = identity.NewSigner(key.PrivateKey)
			} else {
				if !nf.HasGasPayer() {
					return errors.New("the network file names no funded account (gas_payer_*): pass --from KEYSTORE (an account holding tokens and ether, such as the deployer's)")
				}
				if payer, err = nf.GasPayer(); err != nil {
					return err
				}
			}
			return g.onChain(cmd, 5*time.Minute, func(ctx context.Context, c *payments.Client) error {
				sender, err := g.sender(cmd, c.Eth(), c.ChainID(), payer)
				if err != nil {
					return err
				}
				if _, err := c.Fund(ctx, sender, who, amount, gasWei); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "sent %s MYSTT and %s ETH for gas to %s from %s\n", proposal.FormatAmount(amount), proposal.FormatAmount(gasWei), who.Hex(), payer.Address().Hex())
				return nil
			})
		},
	}

	fund.Flags().StringVar(&fromKey, "from", "", "a keystore file whose account sends the tokens and ether (default: the network's gas payer)")
	fund.Flags().StringVar(&fromPass, "passphrase-file", "", "file holding --from's passphrase (default: ask)")
	fund.Flags().StringVar(&etherFlag, "ether", "0.1", "ether sent along for gas")

	return fund
}

// newDepositCmd is `myst payments deposit`.
func newDepositCmd(g *globals) *cobra.Command {
	var passFile, identityFlag string
	deposit := &cobra.Command{
		Use:   "deposit AMOUNT --identity CONSUMER",
		Short: "Deposit the identity's tokens into the payments contract, to pay providers from",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := parseAmountArg(args[0])
			if err != nil {
				return err
			}
			id, err := identity.ParseAddress(identityFlag)
			if err != nil {
				return fmt.Errorf("--identity: %w", err)
			}
			if g.unlockedInDaemon(cmd, id) {
				fmt.Fprintf(cmd.ErrOrStderr(), "depositing through the daemon, where %s is unlocked (waits for the transactions to be mined)...\n", id.Hex())
				return ask(g, cmd, 2*time.Minute, func(c *api.Client, ctx context.Context) (api.PaymentsBalance, error) {
					return c.Deposit(ctx, api.DepositRequest{ID: id.Hex(), Amount: proposal.FormatAmount(amount)})
				}, func(w io.Writer, b api.PaymentsBalance) error {
					_, err := fmt.Fprintf(w, "deposited %s MYSTT for %s; deposit now %s MYSTT\n", proposal.FormatAmount(amount), id.Hex(), b.Deposit)
					return err
				})
			}
			signer, err := g.unlock(cmd, id, passFile)
			if err != nil {
				return err
			}
			return g.onChain(cmd, 2*time.Minute, func(ctx context.Context, c *payments.Client) error {
				sender, err := g.sender(cmd, c.Eth(), c.ChainID(), signer)
				if err != nil {
					return err
				}
				tx, err := c.Deposit(ctx, sender, id, amount)
				if err != nil {
					if errors.Is(err, registry.ErrNoFunds) {
						return fmt.Errorf("%w: the identity needs ether for gas (`myst payments fund` on development networks)", err)
					}
					return err
				}
				bal, _ := c.Balance(ctx, id)
				fmt.Fprintf(cmd.OutOrStdout(), "deposited %s MYSTT for %s (gas %d); deposit now %s MYSTT\n", proposal.FormatAmount(amount), id.Hex(), tx.GasUsed, proposal.FormatAmount(bal))
				return nil
			})
		},
	}
	deposit.Flags().StringVar(&identityFlag, "identity", "", "the consumer identity whose tokens are deposited")
	deposit.Flags().StringVar(&passFile, "passphrase-file", "", "read the passphrase from the first line of this file instead of prompting")

	return deposit
}

// newBalanceCmd is `myst payments balance`.
func newBalanceCmd(g *globals) *cobra.Command {
	balance := &cobra.Command{
		Use:   "balance ADDRESS",
		Short: "Show an identity's deposit and token balance",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := identity.ParseAddress(args[0])
			if err != nil {
				return err
			}
			return g.onChain(cmd, 30*time.Second, func(ctx context.Context, c *payments.Client) error {
				dep, err := c.Balance(ctx, id)
				if err != nil {
					return err
				}
				tok, err := c.TokenBalance(ctx, id)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deposit: %s MYSTT\ntokens: %s MYSTT\n", proposal.FormatAmount(dep), proposal.FormatAmount(tok))
				if w, err := c.PendingWithdrawal(ctx, id); err == nil && w.AvailableAt != 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "withdrawal to %s available at %s\n", w.To.Hex(), time.Unix(int64(w.AvailableAt), 0).UTC().Format(time.RFC3339))
				}
				return nil
			})
		},
	}

	return balance
}

// newWithdrawCmd is `myst payments withdraw`.
func newWithdrawCmd(g *globals) *cobra.Command {
	var wPass, wID, toFlag string
	withdraw := &cobra.Command{
		Use:   "withdraw --identity CONSUMER [--to ADDRESS]",
		Short: "Announce a withdrawal of the unspent deposit, or complete it once the challenge period is over",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, err := identity.ParseAddress(wID)
			if err != nil {
				return fmt.Errorf("--identity: %w", err)
			}
			to := id
			if toFlag != "" {
				if to, err = identity.ParseAddress(toFlag); err != nil {
					return fmt.Errorf("--to: %w", err)
				}
			}
			if g.unlockedInDaemon(cmd, id) {
				fmt.Fprintf(cmd.ErrOrStderr(), "withdrawing through the daemon, where %s is unlocked (waits for the transactions to be mined)...\n", id.Hex())
				return ask(g, cmd, 2*time.Minute, func(c *api.Client, ctx context.Context) (api.WithdrawResult, error) {
					return c.Withdraw(ctx, api.WithdrawRequest{ID: id.Hex(), To: to.Hex()})
				}, func(w io.Writer, r api.WithdrawResult) error {
					if r.Announced {
						_, err := fmt.Fprintf(w, "withdrawal announced: run this again after %s to receive the deposit\n", r.AvailableAt.Format(time.RFC3339))
						return err
					}
					_, err := fmt.Fprintf(w, "withdrew %s MYSTT to %s\n", r.Withdrawn, to.Hex())
					return err
				})
			}
			return g.onChain(cmd, 2*time.Minute, func(ctx context.Context, c *payments.Client) error {
				signer, err := g.unlock(cmd, id, wPass)
				if err != nil {
					return err
				}
				sender, err := g.sender(cmd, c.Eth(), c.ChainID(), g.gasPayerOr(signer))
				if err != nil {
					return err
				}
				step, err := c.WithdrawOrAnnounce(ctx, sender, signer, to)
				switch {
				case errors.Is(err, payments.ErrChallengePeriod):
					return fmt.Errorf("%w: run this again then", err)
				case err != nil:
					return err
				case step.Announced:
					fmt.Fprintf(cmd.OutOrStdout(), "withdrawal announced: run this again after %s to receive the deposit\n", step.AvailableAt.Format(time.RFC3339))
					return nil
				}
				fmt.Fprintf(cmd.OutOrStdout(), "withdrew %s MYSTT to %s\n", proposal.FormatAmount(step.Withdrawn), step.To.Hex())
				return nil
			})
		},
	}
	withdraw.Flags().StringVar(&wID, "identity", "", "the consumer identity")
	withdraw.Flags().StringVar(&toFlag, "to", "", "where the deposit goes (default: the identity)")
	withdraw.Flags().StringVar(&wPass, "passphrase-file", "", "read the passphrase from the first line of this file instead of prompting")
	return withdraw
}

// newReleaseCmd is `myst payments release`.
func newReleaseCmd(g *globals) *cobra.Command {
	var rPass, rID string
	release := &cobra.Command{
		Use:   "release PROVIDER --identity CONSUMER",
		Short: "Announce that the funds reserved for a provider (its lane) return to the free deposit, or complete that once the challenge period is over",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := identity.ParseAddress(rID)
			if err != nil {
				return fmt.Errorf("--identity: %w", err)
			}
			provider, err := identity.ParseAddress(args[0])
			if err != nil {
				return fmt.Errorf("PROVIDER: %w", err)
			}
			return g.onChain(cmd, 2*time.Minute, func(ctx context.Context, c *payments.Client) error {
				signer, err := g.unlock(cmd, id, rPass)
				if err != nil {
					return err
				}
				sender, err := g.sender(cmd, c.Eth(), c.ChainID(), g.gasPayerOr(signer))
				if err != nil {
					return err
				}
				step, err := c.ReleaseOrAnnounce(ctx, sender, signer, provider)
				switch {
				case errors.Is(err, payments.ErrChallengePeriod):
					return fmt.Errorf("%w: run this again then", err)
				case err != nil:
					return err
				case step.Announced:
					fmt.Fprintf(cmd.OutOrStdout(), "lane release announced: the provider can still settle what you promised until %s; run this again then\n", step.ReleaseAt.Format(time.RFC3339))
					return nil
				}
				fmt.Fprintf(cmd.OutOrStdout(), "released %s MYSTT back to the free deposit of %s\n", proposal.FormatAmount(step.Released), id.Hex())
				return nil
			})
		},
	}
	release.Flags().StringVar(&rID, "identity", "", "the consumer identity")
	release.Flags().StringVar(&rPass, "passphrase-file", "", "read the passphrase from the first line of this file instead of prompting")
	return release
}

// gasPayerOr is the network's gas payer, if it has one, else signer: who
// pays the gas of an identity's payment transactions.
// sender is the one way the CLI sends a transaction (package txsend):
// from s's account, progress shown on stderr, journaled in
// <data-dir>/transactions, so that a run stopped while it waited waits for
// the same transaction when run again instead of sending another.
func (g *globals) sender(cmd *cobra.Command, ec *ethclient.Client, chainID *big.Int, s *identity.Signer) (*txsend.Sender, error) {
	j, err := txsend.OpenJournal(filepath.Join(g.dataDir, "transactions"))
	if err != nil {
		return nil, err
	}
	progress := func(msg string) { fmt.Fprintln(cmd.ErrOrStderr(), msg) }
	return txsend.New(ec, chainID, s, txsend.Config{Progress: progress, Journal: j}), nil
}

func (g *globals) gasPayerOr(signer *identity.Signer) *identity.Signer {
	if nf, _, err := g.networkFile(); err == nil && nf.HasGasPayer() {
		if gp, err := nf.GasPayer(); err == nil {
			return gp
		}
	}
	return signer
}

// unlockedInDaemon says whether a daemon runs for --data-dir with id
// unlocked, so that a payment can be made there without a passphrase.
func (g *globals) unlockedInDaemon(cmd *cobra.Command, id common.Address) bool {
	c, err := g.client()
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
	defer cancel()
	ids, err := c.Identities(ctx)
	if err != nil {
		return false
	}
	for _, i := range ids {
		if i.Unlocked && strings.EqualFold(i.ID, id.Hex()) {
			return true
		}
	}
	return false
}

func newEarningsCmd(g *globals) *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:   "earnings --identity PROVIDER",
		Short: "Show a provider's settled and unsettled earnings",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ask(g, cmd, 30*time.Second, func(c *api.Client, ctx context.Context) (api.Earnings, error) {
				return c.Earnings(ctx, id)
			}, func(w io.Writer, e api.Earnings) error {
				_, err := fmt.Fprintf(w, "provider: %s\nsettled: %s MYSTT\nunsettled: %s MYSTT\nconsumers: %d\n", e.ProviderID, e.Settled, e.Unsettled, e.Consumers)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&id, "identity", "", "the provider identity")
	return cmd
}

func newSettleCmd(g *globals) *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:   "settle --identity PROVIDER",
		Short: "Settle a provider's unsettled promises on chain now",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.ErrOrStderr(), "settling (waits for the transactions to be mined)...")
			return ask(g, cmd, 3*time.Minute, func(c *api.Client, ctx context.Context) (api.Earnings, error) {
				return c.Settle(ctx, id)
			}, func(w io.Writer, e api.Earnings) error {
				_, err := fmt.Fprintf(w, "settled: %s MYSTT\nunsettled: %s MYSTT\n", e.Settled, e.Unsettled)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&id, "identity", "", "the provider identity")
	return cmd
}
