package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/canasta/canasta/postgres/pgtest"
)

// binary is the canasta command, built once for the tests that run it as
// a separate process.
var binary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := pgtest.Run(m)
	if binary.dir != "" {
		os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}

// canastaBinary builds the command with go build, once per test run.
func canastaBinary(tb testing.TB) string {
	tb.Helper()
	binary.once.Do(func() {
		if binary.dir, binary.err = os.MkdirTemp("", "canasta-bin-"); binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "canasta")
		out, err := exec.Command("go", "build", "-o", binary.path, ".").CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		tb.Fatal(binary.err)
	}
	return binary.path
}

// command prepares the built binary with an environment free of the
// store variables, so only the flags given choose the store.
func command(tb testing.TB, args ...string) *exec.Cmd {
	tb.Helper()
	cmd := exec.Command(canastaBinary(tb), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envData+"=") && !strings.HasPrefix(kv, envDB+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	return cmd
}

// serverProcess is a `canasta serve` running as its own process.
type serverProcess struct {
	URL    string
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	mu     *sync.Mutex
}

// startServer starts `canasta serve` with args on a free port, waits for
// it to say where it listens, and stops it when the test ends.
func startServer(tb testing.TB, args ...string) *serverProcess {
	tb.Helper()
	cmd := command(tb, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	p := &serverProcess{cmd: cmd, stderr: &bytes.Buffer{}, mu: &sync.Mutex{}}
	cmd.Stderr = lockedWriter{p.mu, p.stderr}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.stop(tb) })

	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "Canasta is serving on "); ok {
				found <- u
			}
		}
		close(found)
	}()
	select {
	case u, ok := <-found:
		if !ok {
			tb.Fatalf("canasta serve exited before serving:\n%s", p.logs())
		}
		p.URL = u
	case <-time.After(30 * time.Second):
		tb.Fatalf("canasta serve did not start in 30s:\n%s", p.logs())
	}
	return p
}

// stop sends SIGTERM, as a service manager would, and waits for a clean
// exit.
func (p *serverProcess) stop(tb testing.TB) {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			tb.Errorf("canasta serve exited with %v:\n%s", err, p.logs())
		}
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-done
		tb.Errorf("canasta serve did not stop on SIGTERM:\n%s", p.logs())
	}
}

func (p *serverProcess) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// apiClient calls a server's JSON API with a bearer token.
type apiClient struct {
	base, token string
	client      *http.Client
}

func newAPIClient(base, token string) *apiClient {
	return &apiClient{base: base, token: token, client: &http.Client{Timeout: 30 * time.Second}}
}

// do sends body as JSON, if not nil, and decodes a JSON answer into out,
// if not nil. It returns the status.
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %d %s: %w", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode, nil
}

// must is do that fails the test unless the status is want.
func (c *apiClient) must(tb testing.TB, want int, method, path string, body, out any) {
	tb.Helper()
	var raw json.RawMessage
	status, err := c.do(context.Background(), method, path, body, &raw)
	if err != nil {
		tb.Fatal(err)
	}
	if status != want {
		tb.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			tb.Fatal(err)
		}
	}
}
