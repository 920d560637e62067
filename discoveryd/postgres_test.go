package discoveryd

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/discovery"
	"github.com/mystnode/myst/mysttest"
)

// startPostgres runs a private PostgreSQL server for the test: a fresh
// cluster in a temp dir, reachable only on a Unix socket in that dir, and
// stopped and deleted when the test ends. It needs the postgresql package
// (scripts/install.sh installs it); in CI its absence fails the test.
func startPostgres(t *testing.T) string {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	if len(bins) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("PostgreSQL is not installed: run scripts/install.sh")
		}
		t.Skip("PostgreSQL is not installed (scripts/install.sh installs it)")
	}
	bin := bins[len(bins)-1]
	dir, err := os.MkdirTemp("", "myst-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// PostgreSQL refuses to run as root: run it as the postgres user.
	asUser := func(name string, args ...string) *exec.Cmd { return exec.Command(name, args...) }
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		asUser = func(name string, args ...string) *exec.Cmd {
			c := exec.Command(name, args...)
			c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
			c.Env = append(os.Environ(), "HOME="+dir)
			return c
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := asUser(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	srv := asUser(filepath.Join(bin, "postgres"), "-D", data, "-k", dir, "-c", "listen_addresses=", "-c", "fsync=off", "-p", "5432")
	logf, _ := os.Create(filepath.Join(dir, "postgres.log"))
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { srv.Wait(); close(exited) }()
	t.Cleanup(func() {
		srv.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			srv.Process.Kill()
			<-exited
		}
		logf.Close()
	})
	dsn := fmt.Sprintf("postgres://postgres@/postgres?host=%s&port=5432&sslmode=disable", dir)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s, err := OpenStore(ctx, dsn)
		cancel()
		if err == nil {
			s.Close()
			return dsn
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			t.Fatalf("postgres exited:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres not ready after 30s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestReplicasShareOnePostgres runs two discovery servers on one database:
// what one accepts, the other serves; what one deletes, both forget.
func TestReplicasShareOnePostgres(t *testing.T) {
	dsn := startPostgres(t)
	ctx := mysttest.Ctx(t, 30*time.Second)
	var replicas []*testServer
	reg := &fakeRegistry{ids: map[common.Address]bool{}}
	for range 2 {
		store, err := OpenStore(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		replicas = append(replicas, startServer(t, store, reg, time.Minute))
	}
	p, q := mysttest.NewSigner(t), mysttest.NewSigner(t)
	replicas[0].register(p, q)
	if _, err := replicas[0].client.Announce(ctx, signed(t, newProposal(p, "openvpn", "DE", "0.01", "0", 50), p)); err != nil {
		t.Fatal(err)
	}
	if _, err := replicas[1].client.Announce(ctx, signed(t, newProposal(q, "openvpn", "US", "0.02", "0", 50), q)); err != nil {
		t.Fatal(err)
	}
	for i, r := range replicas {
		if got := len(search(t, r.client, "service_type=openvpn")); got != 2 {
			t.Fatalf("replica %d serves %d proposals, want 2", i, got)
		}
		if got := len(search(t, r.client, "country=DE")); got != 1 {
			t.Fatalf("replica %d: country filter gave %d", i, got)
		}
	}
	// A replay through the other replica is refused there too.
	stale := signed(t, newProposal(p, "openvpn", "DE", "0.01", "0", 50), p)
	if _, err := replicas[1].client.Announce(ctx, stale); err != nil {
		t.Fatal(err)
	}
	if _, err := replicas[0].client.Announce(ctx, stale); err == nil {
		t.Fatal("replay through the other replica accepted")
	}
	if err := replicas[1].client.Unregister(ctx, p, "openvpn"); err != nil {
		t.Fatal(err)
	}
	// Replica 1 forgets at once; replica 0's cached answers within its
	// change poll (100 ms).
	if got := len(search(t, replicas[1].client, "service_type=openvpn")); got != 1 {
		t.Fatalf("after delete on replica 1, it serves %d", got)
	}
	deleted := time.Now()
	mysttest.WaitFor(t, 2*time.Second, func() bool { return len(search(t, replicas[0].client, "service_type=openvpn")) == 1 })
	t.Logf("replica 0 forgot the deleted proposal %v after the delete", time.Since(deleted).Round(time.Millisecond))
}

// TestClientFailsOverToReplica: clients that know two replicas on one
// database keep searching without a failed query when one is killed
// mid-run.
func TestClientFailsOverToReplica(t *testing.T) {
	dsn := startPostgres(t)
	ctx := mysttest.Ctx(t, time.Minute)
	var urls []string
	var servers []*testServer
	for range 2 {
		store, err := OpenStore(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		s := startServer(t, store, nil, time.Hour)
		servers = append(servers, s)
		urls = append(urls, s.URL)
	}
	store, err := OpenStore(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	seed(t, store, 200, time.Hour)
	client := discovery.NewClient(urls...)
	var failed, done atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				q := url.Values{"country": {[]string{"DE", "US", "FR", "NL"}[c]}, "limit": {"20"}, "offset": {strconv.Itoa(i % 7)}}
				if r, err := client.SearchPage(ctx, q); err != nil || len(r.Proposals) == 0 {
					failed.Add(1)
					t.Errorf("search during the failover: %d results, %v", len(r.Proposals), err)
				}
				done.Add(1)
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	servers[0].CloseClientConnections()
	servers[0].Close() // killed: its port refuses from now on
	killedAt := done.Load()
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	t.Logf("%d searches, %d after replica 0 was killed, %d failed", done.Load(), done.Load()-killedAt, failed.Load())
	if done.Load()-killedAt < 10 {
		t.Fatalf("only %d searches after the kill", done.Load()-killedAt)
	}
}

func TestUpsertBatchPostgres(t *testing.T) {
	store, err := OpenStore(mysttest.Ctx(t, 30*time.Second), startPostgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	upsertBatchCases(t, store)
}
