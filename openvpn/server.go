package openvpn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/mystnode/myst/forward"
)

// ErrNoBinary means the openvpn program is not installed.
var ErrNoBinary = errors.New("openvpn is not installed: install the Debian package openvpn (apt-get install openvpn)")

// Cipher is the data channel cipher of every myst OpenVPN tunnel.
const Cipher = "AES-256-GCM"

// ClientConfig is what a consumer needs to connect; it travels inside the
// encrypted dialog only.
type ClientConfig struct {
	Remote      string `json:"remote"` // IP address
	Port        int    `json:"port"`
	Proto       string `json:"proto"`
	Cipher      string `json:"cipher"`
	CACert      string `json:"ca_cert"`
	TLSCryptKey string `json:"tls_crypt_key"`
	DNS         string `json:"dns,omitempty"` // the provider's tunnel address, where it answers DNS
	// Path is how Remote reaches the provider: "direct" or "relayed"
	// (Remote:Port is the service's relayed address).
	Path string `json:"path,omitempty"`
}

// Authorizer decides whether a client may connect: username is the
// consumer's identity, password what it presented. It returns the session
// the client belongs to.
type Authorizer func(username, password string) (sessionID string, err error)

// ServerConfig configures a server.
type ServerConfig struct {
	Name      string // names the CA
	Dir       string // runtime files; created 0700
	Binary    string // default "openvpn"
	PublicIP  netip.Addr
	Port      int // UDP; 0 picks a free one
	Subnet    netip.Prefix
	Authorize Authorizer
	// SessionMbit holds each client to this many Mbit/s each way (0: no
	// limit).
	SessionMbit float64
	Logger      *slog.Logger
}

// Server is a running openvpn server.
type Server struct {
	cfg  ServerConfig
	pki  *PKI
	proc *process
	mgmt *mgmt

	device string          // the tun interface
	shaper *forward.Shaper // nil: clients are not rate-limited

	mu          sync.Mutex
	clients     map[string]*serverClient // by openvpn client id
	pendingAuth *authRequest             // the >CLIENT:CONNECT whose ENV lines are arriving
	authorizing sync.WaitGroup           // authorize calls in flight
}

type serverClient struct {
	cid       string
	sessionID string
	addr      netip.Addr // its tunnel address, once known
	bytesIn   uint64     // from the client
	bytesOut  uint64     // to the client
}

// FindBinary resolves the openvpn program ("" means "openvpn"), looking in
// the sbin folders too, which a non-login PATH may lack.
func FindBinary(name string) (string, error) {
	if name == "" {
		name = "openvpn"
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if !strings.Contains(name, "/") {
		for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				return filepath.Join(dir, name), nil
			}
		}
	}
	return "", ErrNoBinary
}

// FreeUDPPort returns a UDP port free at this moment.
func FreeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp4", ":0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// StartServer writes the server's files, starts openvpn, takes over its
// management interface.
func StartServer(ctx context.Context, cfg ServerConfig) (*Server, error) {
	bin, err := FindBinary(cfg.Binary)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if !cfg.Subnet.IsValid() || !cfg.Subnet.Addr().Is4() || cfg.Subnet.Bits() > 29 {
		return nil, fmt.Errorf("tunnel subnet %v: want an IPv4 prefix of /29 or larger", cfg.Subnet)
	}
	if !cfg.PublicIP.IsValid() {
		return nil, errors.New("no public address: pass --public-ip")
	}
	if cfg.Port == 0 {
		if cfg.Port, err = FreeUDPPort(); err != nil {
			return nil, err
		}
	}

	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	pki, err := NewPKI(cfg.Name)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{"ca.crt": pki.CACert, "server.crt": pki.ServerCert, "server.key": pki.ServerKey, "tls-crypt.key": pki.TLSCryptKey}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(cfg.Dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	mask := net.IP(net.CIDRMask(cfg.Subnet.Bits(), 32)).String()
	device := "mvpns" + randomHex(5)
	conf := []string{
		"dev " + device,
		"dev-type tun",
		"topology subnet",
		fmt.Sprintf("server %s %s", cfg.Subnet.Masked().Addr(), mask),
		"proto udp4",
		// Answer from the address each client sent to (a host with several
		// addresses, or reached over several links).
		"multihome",
		fmt.Sprintf("port %d", cfg.Port),
		"ca ca.crt", "cert server.crt", "key server.key", "dh none",
		"tls-crypt tls-crypt.key",
		"tls-version-min 1.2",
		"data-ciphers " + Cipher,
		"verify-client-cert none",
		"username-as-common-name",
		"duplicate-cn",
		"disable-dco",
		"management-client-auth",
		"keepalive 2 10",
		`push "redirect-gateway def1"`,
		"persist-tun",
		"verb 3",
	}
	conf = append(conf, rogueServerLines()...)
	s := &Server{cfg: cfg, pki: pki, device: device, clients: map[string]*serverClient{}}
	if s.proc, err = startProcess(ctx, bin, cfg.Dir, "server.conf", conf, s.notify); err != nil {
		return nil, fmt.Errorf("openvpn server: %w", err)
	}
	s.mgmt = s.proc.mgmt
	fail := func(err error) (*Server, error) {
		s.Close()
		return nil, s.proc.explain(err)
	}
	m := s.mgmt
	if _, err := m.command("bytecount 2"); err != nil {
		return fail(err)
	}
	if cfg.SessionMbit > 0 {
		shaper, err := forward.NewShaper(device, cfg.SessionMbit)
		if err != nil {
			return fail(fmt.Errorf("limit sessions to %g Mbit/s: %w", cfg.SessionMbit, err))
		}
		s.mu.Lock()
		s.shaper = shaper
		s.mu.Unlock()
	}

	cfg.Logger.Info("openvpn server running", "port", cfg.Port, "subnet", cfg.Subnet)
	return s, nil
}

// ClientConfig is what consumers get in session-create's answer.
func (s *Server) ClientConfig() ClientConfig {
	return ClientConfig{Remote: s.cfg.PublicIP.String(), Port: s.cfg.Port, Proto: "udp", Cipher: Cipher,
		CACert: string(s.pki.CACert), TLSCryptKey: string(s.pki.TLSCryptKey), DNS: s.cfg.Subnet.Masked().Addr().Next().String()}
}

// Port is the UDP port the server listens on.
func (s *Server) Port() int { return s.cfg.Port }

func (s *Server) notify(line string) {
	switch {
	case strings.HasPrefix(line, ">CLIENT:CONNECT,"), strings.HasPrefix(line, ">CLIENT:REAUTH,"):
		kind, rest, _ := strings.Cut(strings.TrimPrefix(line, ">CLIENT:"), ",")
		ids := strings.Split(rest, ",")
		if len(ids) < 2 {
			return
		}
		s.mu.Lock()
		s.pendingAuth = &authRequest{kind: kind, cid: ids[0], kid: ids[1], env: map[string]string{}}
		s.mu.Unlock()
	case strings.HasPrefix(line, ">CLIENT:ENV,"):
		kv := strings.TrimPrefix(line, ">CLIENT:ENV,")
		s.mu.Lock()
		req := s.pendingAuth
		if kv == "END" {
			s.pendingAuth = nil
		}
		s.mu.Unlock()
		if req == nil {
			return
		}
		if kv == "END" {
			s.authorizing.Add(1)
			go func() {
				defer s.authorizing.Done()
				s.authorize(req)
			}()
			return
		}
		k, v, _ := strings.Cut(kv, "=")
		req.env[k] = v
	case strings.HasPrefix(line, ">CLIENT:ADDRESS,"):
		// ">CLIENT:ADDRESS,{CID},{ADDR},{PRI}": the client's tunnel address.
		f := strings.Split(strings.TrimPrefix(line, ">CLIENT:ADDRESS,"), ",")
		if len(f) < 2 {
			return
		}
		if a, err := netip.ParseAddr(f[1]); err == nil {
			s.learned(f[0], a)
		}
	case strings.HasPrefix(line, ">CLIENT:DISCONNECT,"):
		cid := strings.TrimPrefix(line, ">CLIENT:DISCONNECT,")
		s.mu.Lock()
		c := s.clients[cid]
		delete(s.clients, cid)
		shaper := s.shaper
		s.mu.Unlock()
		if c != nil && c.addr.IsValid() && shaper != nil {
			shaper.Unlimit(c.addr)
		}
	case strings.HasPrefix(line, ">BYTECOUNT_CLI:"):
		f := strings.Split(strings.TrimPrefix(line, ">BYTECOUNT_CLI:"), ",")
		if len(f) != 3 {
			return
		}
		in, _ := strconv.ParseUint(f[1], 10, 64)
		out, _ := strconv.ParseUint(f[2], 10, 64)
		s.mu.Lock()
		if c := s.clients[f[0]]; c != nil {
			c.bytesIn, c.bytesOut = in, out
		}
		s.mu.Unlock()
	}
}

type authRequest struct {
	kind, cid, kid string
	env            map[string]string
}

func (s *Server) authorize(req *authRequest) {
	user, pass := req.env["username"], req.env["password"]
	sessionID, err := s.cfg.Authorize(user, pass)
	if err == nil {
		s.mu.Lock()
		for _, c := range s.clients {
			if c.sessionID == sessionID && c.cid != req.cid {
				err = errors.New("the session is already connected")
			}
		}
		if err == nil {
			s.clients[req.cid] = &serverClient{cid: req.cid, sessionID: sessionID}
		}
		s.mu.Unlock()
	}
	if err != nil {
		s.cfg.Logger.Warn("openvpn client denied", "username", user, "err", err)
		reason := strings.NewReplacer("\n", " ", `"`, "'").Replace(err.Error())
		if _, cerr := s.mgmt.command(fmt.Sprintf("client-deny %s %s %s", req.cid, req.kid, quote(reason))); cerr != nil {
			s.cfg.Logger.Warn("client-deny", "err", cerr)
		}
		return
	}
	cmd := fmt.Sprintf("client-auth-nt %s %s", req.cid, req.kid)
	if extra := rogueClientConfig(); len(extra) > 0 {
		cmd = fmt.Sprintf("client-auth %s %s\n%s\nEND", req.cid, req.kid, strings.Join(extra, "\n"))
	}
	if _, err := s.mgmt.command(cmd); err != nil {
		s.cfg.Logger.Warn("client-auth-nt", "err", err)
		return
	}
	s.cfg.Logger.Info("openvpn client approved", "username", user, "session", sessionID)
}

// learned holds the client cid, whose tunnel address is addr, to the
// session rate.
func (s *Server) learned(cid string, addr netip.Addr) {
	s.mu.Lock()
	c := s.clients[cid]
	if c == nil || c.addr == addr {
		s.mu.Unlock()
		return
	}
	c.addr = addr
	shaper := s.shaper
	s.mu.Unlock()
	if shaper == nil {
		return
	}
	if err := shaper.Limit(addr); err != nil {
		s.cfg.Logger.Warn("limit an openvpn client's rate; disconnecting it", "addr", addr, "err", err)
		s.mgmt.command("client-kill " + cid)
	}
}

// Kill disconnects the client of a session.
func (s *Server) Kill(sessionID string) {
	s.mu.Lock()
	var cids []string
	for cid, c := range s.clients {
		if c.sessionID == sessionID {
			cids = append(cids, cid)
			delete(s.clients, cid)
		}
	}
	s.mu.Unlock()
	for _, cid := range cids {
		if _, err := s.mgmt.command("client-kill " + cid); err != nil {
			s.cfg.Logger.Warn("client-kill", "cid", cid, "err", err)
		}
	}
}

// Bytes returns a session's bytes from and to the consumer.
func (s *Server) Bytes(sessionID string) (in, out uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clients {
		if c.sessionID == sessionID {
			return c.bytesIn, c.bytesOut
		}
	}
	return 0, 0
}

// Close stops openvpn.
func (s *Server) Close() error {
	s.proc.stop()
	// Decisions in flight end once the management interface is gone.
	s.authorizing.Wait()
	s.mu.Lock()
	shaper := s.shaper
	s.mu.Unlock()
	if shaper != nil {
		shaper.Close()
	}
	// The CA and server keys, the tls-crypt key and the management socket
	// go with the service.
	return os.RemoveAll(s.cfg.Dir)
}

// Exited is closed when openvpn exits.
func (s *Server) Exited() <-chan struct{} { return s.proc.exited }

// Marshal encodes the config for a session-create answer.
func (c ClientConfig) Marshal() json.RawMessage {
	b, _ := json.Marshal(c)
	return b
}
