package fleet

import (
	"bytes"
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

	"github.com/edgeinfer/edgeinfer/engine/gateway"
	"github.com/edgeinfer/edgeinfer/engine/gateway/redistest"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
)

// The fleet test runs what a user would: two `edgeinfer serve` processes,
// each with its own EDGEINFER_HOME, sharing one redis-server, serving the
// tiny synthetic bge-small on the real ONNX Runtime.
const bgeSmall = "@cf/baai/bge-small-en-v1.5"

func TestFleetOfTwoServersSharesJobsCacheLimitsAndUsage(t *testing.T) {
	orttest.Require(t)
	dir := t.TempDir()
	bin := buildEdgeinfer(t, dir)
	models := filepath.Join(dir, "models")
	runCLI(t, bin, "models", "synth", "--preset", "tiny", "--only", bgeSmall, "--out", models)
	config := filepath.Join(dir, "edgeinfer.yaml")
	writeFile(t, config, fmt.Sprintf(`
gateway: { rate_limit: true }
models:
  %q: { dir: %q, rpm: 4 }
`, bgeSmall, filepath.Join(models, filepath.FromSlash(bgeSmall))))
	redisURL := redistest.Start(t)
	a := startServer(t, bin, config, redisURL, filepath.Join(dir, "home-a"))
	b := startServer(t, bin, config, redisURL, filepath.Join(dir, "home-b"))
	run := "/client/v4/accounts/acct/ai/run/" + bgeSmall

	t.Run("a cache entry written by one is a HIT on the other", func(t *testing.T) {
		h := map[string]string{"cf-aig-cache-ttl": "600", "Authorization": "Bearer cache-token"}
		miss := a.post(t, run, `{"text":"shared across the fleet"}`, h)
		hit := b.post(t, run, `{"text":"shared across the fleet"}`, h)
		if miss.status != 200 || miss.header.Get("cf-aig-cache-status") != "MISS" || hit.header.Get("cf-aig-cache-status") != "HIT" {
			t.Fatalf("A: %d %q, B: %d %q", miss.status, miss.header.Get("cf-aig-cache-status"), hit.status, hit.header.Get("cf-aig-cache-status"))
		}
		if !bytes.Equal(miss.body, hit.body) || !bytes.Contains(hit.body, []byte(`"shape":[1,`)) {
			t.Fatalf("B's HIT differs from A's answer:\n%s\n%s", miss.body, hit.body)
		}
	})

	t.Run("a rate limit holds across both", func(t *testing.T) {
		h := map[string]string{"Authorization": "Bearer rate-token"}
		for i, s := range []*server{a, b, a, b} {
			if r := s.post(t, run, fmt.Sprintf(`{"text":"request %d"}`, i), h); r.status != 200 {
				t.Fatalf("request %d of 4 at 4 rpm: %d %s", i+1, r.status, r.body)
			}
		}
		for _, s := range []*server{a, b} {
			r := s.post(t, run, `{"text":"one too many"}`, h)
			if r.status != 429 || r.header.Get("Retry-After") == "" {
				t.Fatalf("5th request on %s: %d (Retry-After %q) %s", s.name, r.status, r.header.Get("Retry-After"), r.body)
			}
		}
	})

	t.Run("usage is summed across both", func(t *testing.T) {
		r := b.get(t, "/edgeinfer/v1/usage", map[string]string{"Authorization": "Bearer rate-token"})
		var env struct{ Result gateway.UsageReport }
		if err := json.Unmarshal(r.body, &env); err != nil || bytes.Contains(r.body, []byte("rate-token")) {
			t.Fatalf("usage: %v %s", err, r.body)
		}
		for _, c := range env.Result.Callers {
			if c.Caller == env.Result.Caller {
				if got := c.Models[bgeSmall].Requests; got != 4 {
					t.Fatalf("the fleet served this token 4 requests, usage says %d: %s", got, r.body)
				}
				return
			}
		}
		t.Fatalf("no usage for the asking token: %s", r.body)
	})

	t.Run("a job submitted to one finishes on the other when the first stops", func(t *testing.T) {
		const items = 300 // enough that A is usually mid-job when it stops
		h := map[string]string{"Authorization": "Bearer job-token"}
		var reqs []string
		for i := range items {
			reqs = append(reqs, fmt.Sprintf(`{"text":"batch item number %d","external_reference":"r%d"}`, i, i))
		}
		r := a.post(t, run+"?queueRequest=true", `{"requests":[`+strings.Join(reqs, ",")+`]}`, h)
		var env struct{ Result gateway.JobStatus }
		if r.status != 200 || json.Unmarshal(r.body, &env) != nil || env.Result.Status != gateway.StatusQueued {
			t.Fatalf("submit to A: %d %s", r.status, r.body)
		}
		a.stop(t) // A hands back whatever it had started; B must finish the job
		poll := `{"request_id":"` + env.Result.RequestID + `"}`
		deadline := time.Now().Add(60 * time.Second)
		for {
			r = b.post(t, run+"?queueRequest=true", poll, h)
			var done struct {
				Result gateway.JobResult
			}
			if r.status != 200 || json.Unmarshal(r.body, &done) != nil {
				t.Fatalf("poll B: %d %s", r.status, r.body)
			}
			if done.Result.Responses != nil {
				for i, item := range done.Result.Responses {
					if !item.Success || string(item.ExternalReference) != fmt.Sprintf(`"r%d"`, i) || !bytes.Contains(item.Result, []byte(`"shape":[1,`)) {
						t.Fatalf("item %d = %+v", i, item)
					}
				}
				if len(done.Result.Responses) != items || done.Result.Usage.PromptTokens == 0 {
					t.Fatalf("result = %d responses, usage %+v", len(done.Result.Responses), done.Result.Usage)
				}
				t.Logf("B ran %s of the %d items after A stopped", metricValue(b.get(t, "/metrics", nil).body,
					`edgeinfer_batch_items_total{model="`+bgeSmall+`",result="success"}`), items)
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the job never finished on B: %s", r.body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// buildEdgeinfer builds the CLI from this module into dir.
func buildEdgeinfer(t *testing.T, dir string) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "edgeinfer")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/edgeinfer")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/edgeinfer: %v\n%s", err, out)
	}
	return bin
}

func runCLI(t *testing.T, bin string, args ...string) {
	t.Helper()
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("edgeinfer %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// server is one `edgeinfer serve` process.
type server struct {
	name string
	url  string
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

func startServer(t *testing.T, bin, config, redisURL, home string) *server {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	s := &server{name: filepath.Base(home), url: "http://" + addr, log: &syncBuffer{}}
	s.cmd = exec.Command(bin, "serve", "--config", config, "--addr", addr, "--redis", redisURL)
	s.cmd.Env = append(os.Environ(), "EDGEINFER_HOME="+home, ort.LibEnv+"="+ort.LibraryPath())
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() || os.Getenv("FLEET_LOGS") != "" {
			t.Logf("%s log:\n%s", s.name, s.log)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if res, err := http.Get(s.url + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never became ready:\n%s", s.name, s.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the server as a user would, with SIGTERM, and waits for it.
func (s *server) stop(t *testing.T) {
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- s.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s exited with %v", s.name, err)
			}
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
			t.Errorf("%s did not stop within 30s of SIGTERM", s.name)
		}
	})
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (s *server) post(t *testing.T, path, body string, header map[string]string) reply {
	return s.do(t, "POST", path, body, header)
}

func (s *server) get(t *testing.T, path string, header map[string]string) reply {
	return s.do(t, "GET", path, "", header)
}

func (s *server) do(t *testing.T, method, path, body string, header map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, s.name, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{res.StatusCode, res.Header, b}
}

// metricValue finds a series' value in a Prometheus text exposition.
func metricValue(exposition []byte, series string) string {
	for _, line := range strings.Split(string(exposition), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return "0"
}
