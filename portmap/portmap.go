// Package portmap asks the home router for UDP port mappings, with UPnP
// IGD (github.com/huin/goupnp) or NAT-PMP (github.com/jackpal/go-nat-pmp),
// one request per mapping, bounded by the caller's context; renews them
// at half their lease and removes them when a service stops or the node
// closes. A router that refuses, does not answer or is not there is an
// error the caller logs; a mapping the router grants after the caller gave
// up waiting is removed at once, so nothing stale stays behind.
package portmap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// RequestTimeout bounds one request to the router.
const RequestTimeout = 5 * time.Second

// CloseWait bounds how long Close waits for requests still pending.
const CloseWait = 2 * time.Second

// Lease is the lifetime asked for each mapping; it is renewed every Lease/2.
const Lease = 20 * time.Minute

// Mapping is one granted mapping.
type Mapping struct {
	InternalPort int
	External     netip.AddrPort // the router's external address and port
	Via          string         // the router and protocol
	Renewed      time.Time
}

// Mapper holds a node's mappings.
type Mapper struct {
	logger *slog.Logger
	find   func(context.Context) (Router, error) // discovers the router
	// RenewEvery is how often a mapping is asked for again (default
	// Lease/2); a router that forgot it (rebooted) has it back then.
	RenewEvery time.Duration

	mu     sync.Mutex
	router Router // the router found; nil: find again next time
	maps   map[int]*entry
	closed bool
	wg     sync.WaitGroup // renewals
	late   sync.WaitGroup // answers that came after Map gave up
}

type entry struct {
	m    Mapping
	stop chan struct{}
}

// New makes a mapper that discovers the router on first use (UPnP and
// NAT-PMP at once); a failed discovery is tried again on the next Map.
func New(logger *slog.Logger) *Mapper {
	return NewWith(logger, Discover)
}

// NewWith makes a mapper over routers find returns (tests).
func NewWith(logger *slog.Logger, find func(context.Context) (Router, error)) *Mapper {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Mapper{logger: logger, find: find, maps: map[int]*entry{}, RenewEvery: Lease / 2}
}

// Map asks for UDP port → the same port (or the one the router gives) and
// returns the mapping; it gives up when ctx ends.
func (m *Mapper) Map(ctx context.Context, port int, name string) (Mapping, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return Mapping{}, errors.New("port mapper closed")
	}
	if _, ok := m.maps[port]; ok {
		m.mu.Unlock()
		return Mapping{}, fmt.Errorf("UDP port %d is mapped already", port)
	}
	r := m.router
	m.mu.Unlock()
	if r == nil {
		var err error
		if r, err = m.find(ctx); err != nil {
			return Mapping{}, fmt.Errorf("no router that maps ports (UPnP IGD / NAT-PMP): %w", err)
		}
	}

	type result struct {
		mp  Mapping
		err error
	}
	done := make(chan result, 1)
	go func() {
		// The request runs to its end (a router answering late); what it
		// maps after Map gave up is removed below.
		rctx, cancel := context.WithTimeout(context.Background(), RequestTimeout)
		defer cancel()
		ext, err := r.Add(rctx, port, port, name, Lease)
		if err != nil {
			done <- result{err: fmt.Errorf("%s refused a mapping of UDP %d: %w", r, port, err)}
			return
		}
		a, err := r.ExternalIP(rctx)
		if err == nil && !a.Unmap().Is4() {
			err = fmt.Errorf("%v is not IPv4", a)
		}
		if err != nil {
			r.Delete(rctx, ext, port)
			done <- result{err: fmt.Errorf("%s gave no usable external address: %w", r, err)}
			return
		}
		done <- result{mp: Mapping{InternalPort: port, External: netip.AddrPortFrom(a.Unmap(), uint16(ext)), Via: r.String(), Renewed: time.Now()}}
	}()
	select {
	case res := <-done:
		if res.err != nil {
			m.mu.Lock()
			if m.router == r {
				m.router = nil // find the router again next time: it may be another one now
			}
			m.mu.Unlock()
			return Mapping{}, res.err
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.closed {
			r.Delete(context.Background(), int(res.mp.External.Port()), port)
			return Mapping{}, errors.New("port mapper closed")
		}
		m.router = r
		e := &entry{m: res.mp, stop: make(chan struct{})}
		m.maps[port] = e
		m.wg.Go(func() { m.renew(r, e, name) })
		m.logger.Info("port mapped", "port", port, "external", res.mp.External, "via", res.mp.Via)
		return res.mp, nil
	case <-ctx.Done():
		// Whatever the router grants later is taken back at once.
		m.late.Go(func() {
			if res := <-done; res.err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), RequestTimeout)
				defer cancel()
				r.Delete(ctx, int(res.mp.External.Port()), port)
				m.logger.Info("a port mapping granted too late was removed", "port", port, "external", res.mp.External)
			}
		})
		return Mapping{}, fmt.Errorf("no port mapping from the router (UPnP IGD / NAT-PMP) for UDP %d: %w", port, ctx.Err())
	}
}

// renew asks again every Lease/2 until the mapping is removed; a router
// that forgot the mapping (rebooted) gets it back then.
func (m *Mapper) renew(r Router, e *entry, name string) {
	t := time.NewTicker(m.RenewEvery)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), RequestTimeout)
		ext, err := r.Add(ctx, int(e.m.External.Port()), e.m.InternalPort, name, Lease)
		cancel()
		if err != nil {
			m.logger.Warn("renewing a port mapping failed; consumers may not reach this service", "port", e.m.InternalPort, "via", r, "err", err)
			continue
		}
		if int(ext) != int(e.m.External.Port()) {
			m.logger.Warn("the router moved a port mapping; the proposal names the old port until the service restarts", "port", e.m.InternalPort, "was", e.m.External.Port(), "now", ext)
		}
		m.mu.Lock()
		e.m.Renewed = time.Now()
		m.mu.Unlock()
	}
}

// Unmap removes the mapping of port, if any.
func (m *Mapper) Unmap(port int) error {
	m.mu.Lock()
	e, r := m.maps[port], m.router
	delete(m.maps, port)
	m.mu.Unlock()
	if e == nil {
		return nil
	}
	close(e.stop)
	if r == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), RequestTimeout)
	defer cancel()
	if err := r.Delete(ctx, int(e.m.External.Port()), port); err != nil {
		return fmt.Errorf("remove the mapping of UDP %d from %s: %w", port, r, err)
	}
	m.logger.Info("port mapping removed", "port", port, "external", e.m.External)
	return nil
}

// Mappings are the live mappings.
func (m *Mapper) Mappings() []Mapping {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Mapping
	for _, e := range m.maps {
		out = append(out, e.m)
	}
	return out
}

// Close removes every mapping and waits for late answers.
func (m *Mapper) Close() error {
	m.mu.Lock()
	m.closed = true
	var ports []int
	for p := range m.maps {
		ports = append(ports, p)
	}
	m.mu.Unlock()
	var errs []error
	for _, p := range ports {
		errs = append(errs, m.Unmap(p))
	}
	m.wg.Wait()
	// A router still busy with a request Map gave up on gets CloseWait
	// to answer; a mapping granted after that lapses with its lease.
	late := make(chan struct{})
	go func() { m.late.Wait(); close(late) }()
	select {
	case <-late:
	case <-time.After(CloseWait):
		m.logger.Warn("the router has not answered a port mapping request; if it grants it, the mapping lapses after its lease", "lease", Lease)
	}
	return errors.Join(errs...)
}
