// Command myst-load drives one real provider daemon (`myst daemon`, its own
// process) over the real broker with many consumers and reports what it
// measured.
//
//	myst-load sessions --myst ./myst --sessions 1000 --duration 10m
//
// The sessions mode starts a localnet in this process (dev chain with the
// contracts, NATS broker, Discovery API), a provider daemon that offers a
// priced noop service, and N consumer identities registered and funded in
// one batch. The consumers (in this process, sharing a few broker
// connections) open sessions at --ramp per second, keep them alive, answer
// invoices with promises, and hold them for --duration; with --flood, that
// many signed dialog-creates (each a new dialog) from one registered
// identity are sent during the hold while probe consumers keep dialling
// (under broker admission nobody else can send). It reports sessions opened,
// refused and dropped, dialog-create and session-open latency, keep-alives
// and invoices (missed ones included), promises, the provider's CPU and
// resident memory (idle, peak, with the sessions), its stop time, and
// whether the provider stored every promise the consumers signed.
//
//	myst-load discovery --db sqlite:/tmp/d.db --proposals 100000 --clients 16 --duration 30s
//
// The discovery mode seeds N signed proposals straight into a store (a path
// that exists only here; a store already seeded is reused), serves them
// through the real Discovery API server on loopback, drives it with C
// concurrent clients for D with a mix of filters, pages and cursors (and,
// with --announce-rate, re-announcements through POST), and ends with one
// line: discovery: N proposals, C clients, DB: Q q/s, p50 X ms, p99 Y ms,
// errors E.
//
//	myst-load node --myst ./myst --vs ./myst-before --runs 20
//
// The node mode measures what the node costs a user, for one binary or two
// side by side: an idle provider daemon's resident memory 10 s after its
// identity is unlocked with a noop service started, and the median wall
// time and peak memory of `myst identity list` and `myst status` against
// it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "sessions" && os.Args[1] != "discovery" && os.Args[1] != "node") {
		fmt.Fprintln(os.Stderr, "usage: myst-load sessions|discovery|node [flags] (see myst-load MODE -h)")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "discovery":
		os.Exit(discoveryMain(os.Args[2:]))
	case "node":
		os.Exit(nodeMain(os.Args[2:]))
	}
	fs := flag.NewFlagSet("sessions", flag.ExitOnError)
	var c config
	fs.StringVar(&c.myst, "myst", "myst", "the myst binary the provider daemon runs")
	fs.IntVar(&c.sessions, "sessions", 100, "concurrent priced sessions to hold (1-10000)")
	fs.DurationVar(&c.duration, "duration", time.Minute, "how long to hold them (1s-24h)")
	fs.Float64Var(&c.ramp, "ramp", 50, "sessions opened per second (0.1-1000)")
	fs.DurationVar(&c.keepAlive, "keepalive", 5*time.Second, "consumer keep-alive period")
	fs.DurationVar(&c.invoiceEvery, "invoice-every", 5*time.Second, "the provider's invoice period")
	fs.IntVar(&c.flood, "flood", 0, "signed dialog-creates, each a new dialog, from one registered identity to send during the hold (0-1000000)")
	fs.DurationVar(&c.floodOver, "flood-over", 20*time.Second, "how long the flood lasts")
	fs.IntVar(&c.probes, "probes", 20, "extra registered consumers that dial now and then to measure dialog-create latency (0-1000)")
	fs.StringVar(&c.dir, "dir", "", "work directory (default: a new temporary one, removed at the end)")
	fs.BoolVar(&c.lightKDF, "lightkdf", false, "the provider's keystore uses the light scrypt parameters (the standard ones are what users run)")
	fs.Parse(os.Args[2:])
	if err := c.check(); err != nil {
		fmt.Fprintln(os.Stderr, "myst-load:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := runSessions(ctx, c)
	if r != nil {
		r.print(os.Stdout, c)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "myst-load:", err)
		os.Exit(1)
	}
	if !r.ok() {
		os.Exit(1)
	}
}

type config struct {
	myst                    string
	sessions, flood, probes int
	duration, floodOver     time.Duration
	keepAlive, invoiceEvery time.Duration
	ramp                    float64
	dir                     string
	lightKDF                bool
}

func (c config) check() error {
	switch {
	case c.sessions < 1 || c.sessions > 10000:
		return fmt.Errorf("--sessions %d: must be 1-10000", c.sessions)
	case c.duration < time.Second || c.duration > 24*time.Hour:
		return fmt.Errorf("--duration %s: must be 1s-24h", c.duration)
	case c.ramp < 0.1 || c.ramp > 1000:
		return fmt.Errorf("--ramp %g: must be 0.1-1000", c.ramp)
	case c.keepAlive < 100*time.Millisecond || c.keepAlive > time.Minute:
		return fmt.Errorf("--keepalive %s: must be 100ms-1m", c.keepAlive)
	case c.invoiceEvery < 100*time.Millisecond || c.invoiceEvery > time.Hour:
		return fmt.Errorf("--invoice-every %s: must be 100ms-1h", c.invoiceEvery)
	case c.flood < 0 || c.flood > 1_000_000:
		return fmt.Errorf("--flood %d: must be 0-1000000", c.flood)
	case c.flood > 0 && (c.floodOver < time.Second || c.floodOver > c.duration):
		return fmt.Errorf("--flood-over %s: must be 1s up to --duration", c.floodOver)
	case c.probes < 0 || c.probes > 1000:
		return fmt.Errorf("--probes %d: must be 0-1000", c.probes)
	}
	return nil
}
