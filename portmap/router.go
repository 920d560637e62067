package portmap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"time"

	"github.com/huin/goupnp/dcps/internetgateway2"
	natpmp "github.com/jackpal/go-nat-pmp"
)

// Router is a home router that maps ports: UPnP IGD or NAT-PMP.
type Router interface {
	// Add maps external UDP port ext to this host's port in, for lease.
	Add(ctx context.Context, ext, in int, name string, lease time.Duration) (int, error)
	Delete(ctx context.Context, ext, in int) error
	ExternalIP(ctx context.Context) (netip.Addr, error)
	String() string
}

// Discover finds the router: UPnP IGD (SSDP) and NAT-PMP (the default
// gateway) are asked at once; the first that answers wins.
func Discover(ctx context.Context) (Router, error) {
	type found struct {
		r   Router
		err error
	}
	ch := make(chan found, 2)
	go func() { r, err := discoverUPnP(ctx); ch <- found{r, err} }()
	go func() { r, err := discoverPMP(ctx); ch <- found{r, err} }()
	var errs []error
	for range 2 {
		f := <-ch
		if f.err == nil {
			return f.r, nil
		}
		errs = append(errs, f.err)
	}
	return nil, errors.Join(errs...)
}

// igd is what the WAN connection services of IGD v1 and v2 share.
type igd interface {
	AddPortMappingCtx(ctx context.Context, remoteHost string, extPort uint16, proto string, inPort uint16, inClient string, enabled bool, desc string, lease uint32) error
	DeletePortMappingCtx(ctx context.Context, remoteHost string, extPort uint16, proto string) error
	GetExternalIPAddressCtx(ctx context.Context) (string, error)
}

type upnp struct {
	c     igd
	local net.IP // this host's address towards the router
	kind  string
}

func discoverUPnP(ctx context.Context) (Router, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if cs, _, err := internetgateway2.NewWANIPConnection2ClientsCtx(ctx); err == nil && len(cs) > 0 {
		return &upnp{c: cs[0], local: cs[0].LocalAddr(), kind: "UPnP IGDv2 WANIPConnection2 at " + cs[0].Location.Host}, nil
	}
	if cs, _, err := internetgateway2.NewWANIPConnection1ClientsCtx(ctx); err == nil && len(cs) > 0 {
		return &upnp{c: cs[0], local: cs[0].LocalAddr(), kind: "UPnP WANIPConnection1 at " + cs[0].Location.Host}, nil
	}
	if cs, _, err := internetgateway2.NewWANPPPConnection1ClientsCtx(ctx); err == nil && len(cs) > 0 {
		return &upnp{c: cs[0], local: cs[0].LocalAddr(), kind: "UPnP WANPPPConnection1 at " + cs[0].Location.Host}, nil
	}
	return nil, errors.New("no UPnP IGD answered")
}

func (u *upnp) Add(ctx context.Context, ext, in int, name string, lease time.Duration) (int, error) {
	if u.local == nil {
		return 0, errors.New("this host's address towards the router is unknown")
	}
	err := u.c.AddPortMappingCtx(ctx, "", uint16(ext), "UDP", uint16(in), u.local.String(), true, name, uint32(lease/time.Second))
	return ext, err
}

func (u *upnp) Delete(ctx context.Context, ext, _ int) error {
	return u.c.DeletePortMappingCtx(ctx, "", uint16(ext), "UDP")
}

func (u *upnp) ExternalIP(ctx context.Context) (netip.Addr, error) {
	s, err := u.c.GetExternalIPAddressCtx(ctx)
	if err != nil {
		return netip.Addr{}, err
	}
	return netip.ParseAddr(strings.TrimSpace(s))
}

func (u *upnp) String() string { return u.kind }

type pmp struct {
	c  *natpmp.Client
	gw net.IP
}

func discoverPMP(ctx context.Context) (Router, error) {
	gw, err := defaultGateway()
	if err != nil {
		return nil, err
	}
	p := &pmp{c: natpmp.NewClientWithTimeout(gw, 2*time.Second), gw: gw}
	if _, err := p.ExternalIP(ctx); err != nil {
		return nil, fmt.Errorf("no NAT-PMP at %s: %w", gw, err)
	}
	return p, nil
}

func (p *pmp) Add(_ context.Context, ext, in int, _ string, lease time.Duration) (int, error) {
	r, err := p.c.AddPortMapping("udp", in, ext, int(lease/time.Second))
	if err != nil {
		return 0, err
	}
	return int(r.MappedExternalPort), nil
}

func (p *pmp) Delete(_ context.Context, _, in int) error {
	// NAT-PMP removes a mapping asked for with lifetime 0.
	_, err := p.c.AddPortMapping("udp", in, 0, 0)
	return err
}

func (p *pmp) ExternalIP(context.Context) (netip.Addr, error) {
	r, err := p.c.GetExternalAddress()
	if err != nil {
		return netip.Addr{}, err
	}
	return netip.AddrFrom4(r.ExternalIPAddress), nil
}

func (p *pmp) String() string { return "NAT-PMP at " + p.gw.String() }

// defaultGateway is the IPv4 gateway of the default route.
func defaultGateway() (net.IP, error) {
	out, err := exec.Command("ip", "-4", "route", "show", "default").Output()
	if err != nil {
		return nil, fmt.Errorf("ip route: %w", err)
	}
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "via" {
			if ip := net.ParseIP(f[i+1]); ip != nil {
				return ip, nil
			}
		}
	}
	return nil, errors.New("no default gateway")
}
