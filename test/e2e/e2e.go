// Package e2e runs the edgeinfer binary as a user does, for the end-to-end
// tests under test/.
package e2e

import (
	"bytes"
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

	"github.com/edgeinfer/edgeinfer/engine/gateway/redistest"
)

// moduleRoot is the directory of this module's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// BuildEdgeinfer builds the CLI from this module into dir.
func BuildEdgeinfer(t *testing.T, dir string) string {
	t.Helper()
	root := moduleRoot(t)
	bin := filepath.Join(dir, "edgeinfer")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/edgeinfer")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/edgeinfer: %v\n%s", err, out)
	}
	return bin
}

// RunCLI runs the CLI and fails the test if it fails.
func RunCLI(t *testing.T, bin string, args ...string) {
	t.Helper()
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("edgeinfer %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// WriteFile writes a test file or fails the test.
func WriteFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Server is one `edgeinfer serve` process.
type Server struct {
	Name string
	URL  string
	cmd  *exec.Cmd
	log  *syncBuffer
	once sync.Once
}

// syncBuffer collects a process's log for failure reports.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// StartServer runs `edgeinfer serve` on a free loopback port with the given
// extra arguments and environment (added to this process's), and waits
// until it is ready. It is stopped with SIGTERM when the test ends; its log
// is printed when the test fails or E2E_LOGS is set.
func StartServer(t *testing.T, bin, name string, env []string, args ...string) *Server {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	s := &Server{Name: name, URL: "http://" + addr, log: &syncBuffer{}}
	s.cmd = exec.Command(bin, append([]string{"serve", "--addr", addr}, args...)...)
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop(t)
		if t.Failed() || os.Getenv("E2E_LOGS") != "" {
			t.Logf("%s log:\n%s", s.Name, s.log)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if res, err := http.Get(s.URL + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never became ready:\n%s", s.Name, s.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Log is what the server printed so far.
func (s *Server) Log() string { return s.log.String() }

// Stop ends the server as a user would, with SIGTERM, and waits for it.
func (s *Server) Stop(t *testing.T) {
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- s.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s exited with %v", s.Name, err)
			}
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
			t.Errorf("%s did not stop within 30s of SIGTERM", s.Name)
		}
	})
}

// Reply is a response, read whole.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// Post sends a JSON body.
func (s *Server) Post(t *testing.T, path, body string, header map[string]string) Reply {
	return s.Do(t, "POST", path, body, header)
}

// Get sends a GET.
func (s *Server) Get(t *testing.T, path string, header map[string]string) Reply {
	return s.Do(t, "GET", path, "", header)
}

// Do sends one request and reads the whole response.
func (s *Server) Do(t *testing.T, method, path, body string, header map[string]string) Reply {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, s.Name, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Reply{res.StatusCode, res.Header, b}
}
