package netlab

import (
	"net"
	"sync"

	"github.com/miekg/dns"
)

// WebName is the web host's name: the lab's resolver answers it with WebIP.
const WebName = "web.test"

// Resolver is a DNS server in the lab: it answers WebName with WebIP, the
// root with an empty answer (a liveness probe), other names NXDOMAIN, and
// records who asked.
type Resolver struct {
	srv  *dns.Server
	mu   sync.Mutex
	from []string
}

// StartResolver serves DNS on UDP addr (host:port) inside namespace ns.
func StartResolver(ns, addr string) (*Resolver, error) {
	var pc net.PacketConn
	if err := In(ns, func() (err error) {
		pc, err = net.ListenPacket("udp", addr)
		return err
	}); err != nil {
		return nil, err
	}
	r := &Resolver{}
	r.srv = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(r.answer)}
	go r.srv.ActivateAndServe()
	return r, nil
}

func (r *Resolver) answer(w dns.ResponseWriter, q *dns.Msg) {
	host, _, _ := net.SplitHostPort(w.RemoteAddr().String())
	r.mu.Lock()
	r.from = append(r.from, host)
	r.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(q)
	if len(q.Question) == 1 && q.Question[0].Name == WebName+"." && q.Question[0].Qtype == dns.TypeA {
		rr, _ := dns.NewRR(WebName + ". 60 IN A " + WebIP)
		m.Answer = append(m.Answer, rr)
	} else if len(q.Question) == 1 && q.Question[0].Name != "." {
		m.SetRcode(q, dns.RcodeNameError)
	}
	w.WriteMsg(m)
}

// AskedBy is the addresses that asked, in order.
func (r *Resolver) AskedBy() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.from...)
}

// Close stops the server.
func (r *Resolver) Close() error { return r.srv.Shutdown() }
