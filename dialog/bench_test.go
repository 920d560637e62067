package dialog

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/registry/registrytest"
	"github.com/nats-io/nats.go"
)

// reportLatency adds p50 and p99 (microseconds) of the samples.
func reportLatency(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	p := func(q float64) float64 {
		return float64(samples[int(q*float64(len(samples)-1))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(p(0.50), "p50-µs")
	b.ReportMetric(p(0.99), "p99-µs")
}

// BenchmarkRoundTrip compares one dialog request/response with a bare
// nats.go request/reply of the same payload on the same embedded server, in
// the same run. Run: go test -run X -bench RoundTrip ./dialog
func BenchmarkRoundTrip(b *testing.B) {
	srv := mysttest.StartBroker(b)
	payload := make([]byte, 128)

	b.Run("bare-nats", func(b *testing.B) {
		server, client := mysttest.Connect(b, srv.URL()), mysttest.Connect(b, srv.URL())
		sub, err := server.Subscribe("bench.echo", func(m *nats.Msg) { m.Respond(m.Data) })
		if err != nil {
			b.Fatal(err)
		}
		defer sub.Unsubscribe()
		server.Flush()
		samples := make([]time.Duration, 0, 1<<16)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			start := time.Now()
			if _, err := client.Request("bench.echo", payload, 5*time.Second); err != nil {
				b.Fatal(err)
			}
			samples = append(samples, time.Since(start))
		}
		reportLatency(b, samples)
	})

	b.Run("dialog", func(b *testing.B) {
		p := newPair(b, srv.URL(), srv.URL())
		ctx := context.Background()
		samples := make([]time.Duration, 0, 1<<16)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			start := time.Now()
			if _, err := p.dialog.Request(ctx, "echo", payload); err != nil {
				b.Fatal(err)
			}
			samples = append(samples, time.Since(start))
		}
		reportLatency(b, samples)
	})
}

// BenchmarkOpenDialogs opens many dialogs to one provider and keeps them
// open: reports setup time per dialog and the provider's heap per open
// dialog. Run: go test -run X -bench OpenDialogs -benchtime 2000x ./dialog
func BenchmarkOpenDialogs(b *testing.B) {
	srv := mysttest.StartBroker(b)
	provider := mysttest.NewSigner(b)
	reg := registrytest.New(provider)
	consumers := make([]*identity.Signer, 64)
	for i := range consumers {
		consumers[i] = mysttest.NewSigner(b)
		reg.Add(consumers[i])
	}
	l, err := Listen(mysttest.Connect(b, srv.URL()), provider, reg, ListenConfig{MaxDialogs: 1 << 20, Accept: func(d *Dialog) { d.Handle("echo", echo) }})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	nc := mysttest.Connect(b, srv.URL())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	dialogs := make([]*Dialog, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		d, err := Dial(ctx, nc, consumers[i%len(consumers)], provider.Address(), reg, DialConfig{})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		dialogs = append(dialogs, d)
	}
	b.StopTimer()
	// Every dialog still answers.
	for i, d := range dialogs {
		if i%97 != 0 {
			continue
		}
		if _, err := d.Request(context.Background(), "echo", []byte(fmt.Sprint(i))); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := len(l.Dialogs()); n != b.N {
		b.Fatalf("provider holds %d dialogs, want %d", n, b.N)
	}
	// Both ends live in this process: halve for one side's cost.
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N)/2/1024, "KiB/dialog/side")
	b.ReportMetric(float64(len(dialogs)), "open-dialogs")
	for _, d := range dialogs {
		d.Close()
	}
}
