package wireguard

import (
	"bufio"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/mystnode/myst/syscmd"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
)

// MTU of every myst WireGuard interface.
const MTU = 1420

// Key is a Curve25519 key, written in base64 as WireGuard tools write it.
type Key [32]byte

// NewPrivateKey makes a fresh private key.
func NewPrivateKey() (Key, error) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, err
	}
	var out Key
	copy(out[:], k.Bytes())
	return out, nil
}

// Public is the public key of a private key.
func (k Key) Public() Key {
	priv, err := ecdh.X25519().NewPrivateKey(k[:])
	if err != nil {
		panic(err) // any 32 bytes are an X25519 private key
	}
	var out Key
	copy(out[:], priv.PublicKey().Bytes())
	return out
}

func (k Key) String() string { return base64.StdEncoding.EncodeToString(k[:]) }
func (k Key) hex() string    { return hex.EncodeToString(k[:]) }

// ParseKey reads a base64 key.
func ParseKey(s string) (Key, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 32 {
		return Key{}, fmt.Errorf("%q is not a WireGuard key (44 characters of base64)", s)
	}
	var k Key
	copy(k[:], b)
	if k == (Key{}) {
		return Key{}, errors.New("the all-zero key is not a WireGuard key")
	}
	return k, nil
}

// wgDevice is a wireguard-go device on its own TUN interface.
type wgDevice struct {
	name string
	dev  *device.Device
	// batch is how many packets the TUN reads or writes at once: above 1
	// when the kernel took the TUN's offloads (GSO/GRO), 1 without them.
	batch int
	// shutdown ends what the bind runs beside the device (its prober).
	shutdown func()
}

// newDevice creates TUN interface name and a WireGuard device on it with
// key, listening on port (0: a free one) through bind (nil: the standard
// one), and brings it up.
func newDevice(name string, key Key, port int, bind conn.Bind, logger *slog.Logger) (*wgDevice, error) {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return nil, fmt.Errorf("no /dev/net/tun: WireGuard needs the tun device (modprobe tun; in a container, pass /dev/net/tun)")
	}
	t, err := tun.CreateTUN(name, MTU)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("create TUN interface %s: %w (run the daemon as root, or with CAP_NET_ADMIN)", name, err)
		}
		return nil, fmt.Errorf("create TUN interface %s: %w", name, err)
	}
	wl := &device.Logger{
		Verbosef: func(string, ...any) {},
		Errorf:   func(f string, args ...any) { logger.Warn("wireguard: " + fmt.Sprintf(f, args...)) },
	}
	if bind == nil {
		bind = conn.NewDefaultBind()
	}
	d := &wgDevice{name: name, dev: device.NewDevice(t, bind, wl), batch: t.BatchSize()}
	if pb, ok := bind.(*pathBind); ok {
		d.shutdown = pb.shutdown
	}
	if err := d.dev.IpcSet(fmt.Sprintf("private_key=%s\nlisten_port=%d\n", key.hex(), port)); err != nil {
		d.dev.Close()
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("UDP port %d is in use: pick another (--wireguard-port)", port)
		}
		return nil, fmt.Errorf("configure WireGuard: %w", err)
	}
	if err := d.dev.Up(); err != nil {
		d.dev.Close()
		return nil, fmt.Errorf("bring WireGuard up: %w", err)
	}
	return d, nil
}

// port is the UDP port the device listens on.
func (d *wgDevice) port() (int, error) {
	v, err := d.get()
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(v.device["listen_port"])
}

// peerState is one peer's counters.
type peerState struct {
	rx, tx        uint64
	lastHandshake int64 // unix seconds; 0: none yet
}

type state struct {
	device map[string]string
	peers  map[Key]peerState
}

// get reads the device's state over its UAPI.
func (d *wgDevice) get() (state, error) {
	raw, err := d.dev.IpcGet()
	if err != nil {
		return state{}, err
	}
	st := state{device: map[string]string{}, peers: map[Key]peerState{}}
	var cur *Key
	var ps peerState
	flush := func() {
		if cur != nil {
			st.peers[*cur] = ps
		}
	}
	sc := bufio.NewScanner(strings.NewReader(raw))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch k {
		case "public_key":
			flush()
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != 32 {
				return state{}, fmt.Errorf("wireguard UAPI: public_key %q", v)
			}
			var key Key
			copy(key[:], b)
			cur, ps = &key, peerState{}
		case "rx_bytes":
			ps.rx, _ = strconv.ParseUint(v, 10, 64)
		case "tx_bytes":
			ps.tx, _ = strconv.ParseUint(v, 10, 64)
		case "last_handshake_time_sec":
			ps.lastHandshake, _ = strconv.ParseInt(v, 10, 64)
		default:
			if cur == nil {
				st.device[k] = v
			}
		}
	}
	flush()
	return st, nil
}

func (d *wgDevice) set(conf string) error { return d.dev.IpcSet(conf) }

// close removes the device and its interface (with its addresses and
// routes).
func (d *wgDevice) close() {
	d.dev.Close()
	if d.shutdown != nil {
		d.shutdown()
	}
}

// ip runs the ip command of iproute2.
func ip(args ...string) error {
	_, err := syscmd.Run("ip", args...)
	return err
}

// randomName is prefix plus random hex, within the 15 characters of an
// interface name.
func randomName(prefix string) string {
	b := make([]byte, (15-len(prefix))/2)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
