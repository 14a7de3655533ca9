// Package pgtest gives tests a real PostgreSQL server: a throwaway cluster
// it creates with the installed server binaries on a temporary directory
// and a free loopback port, or the server CANASTA_TEST_DB names. Each test
// gets a schema of its own, so tests run in parallel on one server.
//
// A test package's TestMain calls Main, which stops and removes the
// cluster once the tests are done; the cluster itself starts on the first
// test that asks for it. Only when PostgreSQL is not installed at all, and
// CANASTA_TEST_DB is not set, do those tests skip, saying so.
package pgtest

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names an existing server to test against instead of a throwaway
// cluster, e.g. postgres://postgres@127.0.0.1:5432/postgres. The tests
// create and drop schemas in its database.
const EnvURL = "CANASTA_TEST_DB"

// EnvBin names the directory holding initdb and postgres, when they are
// neither on PATH nor where Debian puts them.
const EnvBin = "CANASTA_PG_BIN"

// ErrNotInstalled is returned by FindBinaries when no PostgreSQL server
// binaries can be found.
var ErrNotInstalled = errors.New("PostgreSQL server binaries (initdb, postgres) not found on PATH, in " + EnvBin +
	" or in /usr/lib/postgresql/*/bin; install the postgresql package or set " + EnvURL)

// FindBinaries returns the directory holding initdb and postgres. Debian
// installs them off the PATH, in /usr/lib/postgresql/<version>/bin; the
// newest version there wins.
func FindBinaries() (string, error) {
	has := func(dir string) bool {
		for _, name := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv(EnvBin); dir != "" {
		if has(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("%s=%s holds no initdb and postgres", EnvBin, dir)
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && has(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
		if has(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	var candidates []string
	for _, pattern := range []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/usr/local/pgsql/bin", "/opt/homebrew/opt/postgresql*/bin"} {
		dirs, _ := filepath.Glob(pattern)
		candidates = append(candidates, dirs...)
	}
	// Newest major version first: compare the numeric path component.
	sort.SliceStable(candidates, func(i, j int) bool { return versionOf(candidates[i]) > versionOf(candidates[j]) })
	for _, dir := range candidates {
		if has(dir) {
			return dir, nil
		}
	}
	return "", ErrNotInstalled
}

// versionOf returns the first number in a path such as
// /usr/lib/postgresql/15/bin, or 0.
func versionOf(path string) int {
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r < '0' || r > '9' }) {
		if n, err := strconv.Atoi(part); err == nil {
			return n
		}
	}
	return 0
}

// Cluster is a throwaway PostgreSQL server: its data directory, port and
// process. Stop and Start keep the data, so a test can take the database
// away and bring it back.
type Cluster struct {
	// URL connects as the superuser to the postgres database.
	URL  string
	Port int

	bin     string
	dir     string // holds data/ and server.log
	cred    *syscall.Credential
	durable bool

	mu   sync.Mutex
	proc *os.Process
	exit chan struct{} // closed when proc has exited
}

// ClusterOptions tune a new cluster.
type ClusterOptions struct {
	// Durable keeps fsync and synchronous commit on, as in production: for
	// benchmarks. Tests run faster without.
	Durable bool
}

// NewCluster creates a cluster with initdb in a new temporary directory and
// starts it on a free loopback port. PostgreSQL refuses to run as root, so
// under root the server runs as the postgres user, or nobody, which owns
// the directory. Remove stops the server and deletes the directory.
func NewCluster(opts ClusterOptions) (*Cluster, error) {
	bin, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "canasta-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, dir: dir, durable: opts.Durable}
	fail := func(err error) (*Cluster, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	if os.Geteuid() == 0 {
		if c.cred, err = serverCredential(); err != nil {
			return fail(err)
		}
		if err := os.Chown(dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fail(fmt.Errorf("give %s to the server's user: %w", dir, err))
		}
	}
	initdb := c.command("initdb", "-D", c.dataDir(), "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %w\n%s", err, out))
	}
	if c.Port, err = freePort(); err != nil {
		return fail(err)
	}
	c.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.Port)
	if err := c.Start(); err != nil {
		return fail(err)
	}
	return c, nil
}

// serverCredential picks the unprivileged user the server runs as.
func serverCredential() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root, and there is neither a postgres nor a nobody user to run PostgreSQL as")
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }
func (c *Cluster) logPath() string { return filepath.Join(c.dir, "server.log") }

// command prepares one of the server binaries to run as the server's user.
func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "TZ=UTC"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	return cmd
}

// Start starts the server on the cluster's port and waits until it accepts
// connections.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc != nil {
		return errors.New("cluster already running")
	}
	args := []string{"-D", c.dataDir(), "-p", strconv.Itoa(c.Port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + c.dir,
		"-c", "max_connections=300",
		"-c", "shared_buffers=256MB",
		"-c", "max_wal_size=4GB",
	}
	if !c.durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	log, err := os.OpenFile(c.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := c.command("postgres", args...)
	cmd.Stdout, cmd.Stderr = log, log
	// Should the test binary die without stopping the server, the server
	// shuts down at once: the cluster is throwaway.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	exit := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exit)
	}()

	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, c.URL)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			c.proc, c.exit = cmd.Process, exit
			return nil
		}
		select {
		case <-exit:
			return fmt.Errorf("postgres exited while starting (%v); log:\n%s", cmd.ProcessState, c.tail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exit
			return fmt.Errorf("postgres did not accept connections within 30s: %v; log:\n%s", err, c.tail())
		}
	}
}

// tail returns the end of the server log, for error messages.
func (c *Cluster) tail() string {
	b, _ := os.ReadFile(c.logPath())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Stop shuts the server down (PostgreSQL's fast shutdown: sessions are
// disconnected, open transactions roll back) and keeps its data.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		return nil
	}
	proc, exit := c.proc, c.exit
	c.proc, c.exit = nil, nil
	if err := proc.Signal(syscall.SIGINT); err != nil {
		return fmt.Errorf("stop postgres: %w", err)
	}
	select {
	case <-exit:
		return nil
	case <-time.After(30 * time.Second):
		proc.Kill()
		<-exit
		return errors.New("postgres did not stop within 30s; killed it")
	}
}

// Remove stops the server and deletes the cluster's directory.
func (c *Cluster) Remove() error {
	err := c.Stop()
	return errors.Join(err, os.RemoveAll(c.dir))
}

// freePort returns a loopback TCP port that nothing listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// shared is the server a test package's tests share.
var shared struct {
	once    sync.Once
	url     string
	cluster *Cluster
	err     error
}

// Main runs a test package's tests, stops and removes the shared cluster
// if a test started one, and exits. Call it from TestMain.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain with more to clean up: it returns the exit
// code instead of exiting.
func Run(m *testing.M) int {
	code := m.Run()
	if shared.cluster != nil {
		if err := shared.cluster.Remove(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	return code
}

// ServerURL returns the URL of the package's shared server, starting the
// throwaway cluster on first use, or CANASTA_TEST_DB. It skips the test
// when PostgreSQL is not installed and fails it when the cluster does not
// start.
func ServerURL(tb testing.TB) string {
	tb.Helper()
	shared.once.Do(func() {
		if u := os.Getenv(EnvURL); u != "" {
			shared.url = u
			return
		}
		// Benchmarks compare the stores as they run in production, so
		// their server commits durably.
		bench := flag.Lookup("test.bench")
		shared.cluster, shared.err = NewCluster(ClusterOptions{Durable: bench != nil && bench.Value.String() != ""})
		if shared.err == nil {
			shared.url = shared.cluster.URL
		}
	})
	if errors.Is(shared.err, ErrNotInstalled) {
		tb.Skipf("skipping: PostgreSQL is not installed: %v", shared.err)
	} else if shared.err != nil {
		tb.Fatalf("start a throwaway PostgreSQL cluster: %v", shared.err)
	}
	return shared.url
}

// NewTestCluster starts a cluster of the test's own, for a test that stops and
// starts its server, and removes it when the test ends. It skips the test
// when PostgreSQL is not installed.
func NewTestCluster(tb testing.TB) *Cluster {
	tb.Helper()
	c, err := NewCluster(ClusterOptions{})
	if errors.Is(err, ErrNotInstalled) {
		tb.Skipf("skipping: PostgreSQL is not installed, and this test needs a server of its own to stop: %v", err)
	} else if err != nil {
		tb.Fatalf("start a throwaway PostgreSQL cluster: %v", err)
	}
	tb.Cleanup(func() {
		if err := c.Remove(); err != nil {
			tb.Errorf("remove cluster: %v", err)
		}
	})
	return c
}

// SchemaURL creates an empty schema on the shared server and returns a URL
// whose connections use it (search_path), so everything a store creates
// lands in it. The schema is dropped when the test ends.
func SchemaURL(tb testing.TB) string {
	tb.Helper()
	return NewSchema(tb, ServerURL(tb))
}

// NewSchema creates an empty schema on the server at serverURL, returns a
// URL that uses it, and drops it when the test ends.
func NewSchema(tb testing.TB, serverURL string) string {
	tb.Helper()
	name := "test_" + strings.ToLower(rand.Text())
	exec := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, serverURL)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE SCHEMA " + name); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		if err := exec("DROP SCHEMA " + name + " CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(serverURL)
	if err != nil {
		tb.Fatalf("parse %s: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}
