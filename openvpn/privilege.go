package openvpn

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// UnprivilegedUser and UnprivilegedGroup are who openvpn runs as: started
// as that user with CAP_NET_ADMIN (for its tunnel device and routes) as
// its only capability, it parses its peer's packets without root. (Not
// openvpn's own --user, which drops root only after start and with it
// the death signal that stops openvpn when the daemon is killed.)
const (
	UnprivilegedUser  = "nobody"
	UnprivilegedGroup = "nogroup"
)

const capNetAdmin = 12

// unprivileged is the credential openvpn starts with, nil if the user or
// group is missing or could not open the tunnel device (then openvpn
// keeps the daemon's).
func unprivileged() *syscall.Credential {
	u, err := user.Lookup(UnprivilegedUser)
	if err != nil {
		return nil
	}
	g, err := user.LookupGroup(UnprivilegedGroup)
	if err != nil {
		return nil
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(g.Gid, 10, 32)
	if err1 != nil || err2 != nil || !tunOpenTo(uint32(uid)) {
		return nil
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
}

// tunOpenTo says whether uid may open /dev/net/tun: Debian makes it 0666;
// where it is 0600 root (some containers), openvpn keeps the daemon's user.
func tunOpenTo(uid uint32) bool {
	var st syscall.Stat_t
	if err := syscall.Stat("/dev/net/tun", &st); err != nil {
		return false
	}
	return st.Mode&0o006 == 0o006 || st.Uid == uid && st.Mode&0o600 == 0o600
}

// handOver gives dir and its files to cred's user, so that openvpn can
// read its config and keys (0600) and make its management socket there.
func handOver(dir string, cred *syscall.Credential) error {
	return filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(cred.Uid), int(cred.Gid))
	})
}

// pulled are the options a consumer takes from what the provider pushes
// (prefixes, as pull-filter matches them); anything else (routes, DNS
// options, setenv, ping-restart…) is ignored.
var pulled = []string{
	"redirect-gateway def1", "ifconfig ", "topology ", "route-gateway ", "ping ", "peer-id ",
	"cipher ", "key-derivation ", "protocol-flags ", "tun-mtu ", "explicit-exit-notify",
}

// pullFilter is the client's pull-filter lines: first match wins.
func pullFilter() []string {
	lines := []string{`pull-filter ignore "ping-restart"`}
	for _, p := range pulled {
		lines = append(lines, `pull-filter accept "`+p+`"`)
	}
	return append(lines, `pull-filter ignore ""`)
}
