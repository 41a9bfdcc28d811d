// Package fleet holds the fleet test: two edgeinfer servers sharing one
// redis-server act as one.
package fleet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine/gateway"
	"github.com/edgeinfer/edgeinfer/engine/gateway/redistest"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
	"github.com/edgeinfer/edgeinfer/test/e2e"
)

const bgeSmall = "@cf/baai/bge-small-en-v1.5"

// The fleet test runs what a user would: two `edgeinfer serve` processes,
// each with its own EDGEINFER_HOME, sharing one redis-server, serving the
// tiny synthetic bge-small on the real ONNX Runtime.
func TestFleetOfTwoServersSharesJobsCacheLimitsAndUsage(t *testing.T) {
	orttest.Require(t)
	dir := t.TempDir()
	bin := e2e.BuildEdgeinfer(t, dir)
	models := filepath.Join(dir, "models")
	e2e.RunCLI(t, bin, "models", "synth", "--preset", "tiny", "--only", bgeSmall, "--out", models)
	config := filepath.Join(dir, "edgeinfer.yaml")
	e2e.WriteFile(t, config, fmt.Sprintf(`
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
		miss := a.Post(t, run, `{"text":"shared across the fleet"}`, h)
		hit := b.Post(t, run, `{"text":"shared across the fleet"}`, h)
		if miss.Status != 200 || miss.Header.Get("cf-aig-cache-status") != "MISS" || hit.Header.Get("cf-aig-cache-status") != "HIT" {
			t.Fatalf("A: %d %q, B: %d %q", miss.Status, miss.Header.Get("cf-aig-cache-status"), hit.Status, hit.Header.Get("cf-aig-cache-status"))
		}
		if !bytes.Equal(miss.Body, hit.Body) || !bytes.Contains(hit.Body, []byte(`"shape":[1,`)) {
			t.Fatalf("B's HIT differs from A's answer:\n%s\n%s", miss.Body, hit.Body)
		}
	})

	t.Run("a rate limit holds across both", func(t *testing.T) {
		h := map[string]string{"Authorization": "Bearer rate-token"}
		for i, s := range []*e2e.Server{a, b, a, b} {
			if r := s.Post(t, run, fmt.Sprintf(`{"text":"request %d"}`, i), h); r.Status != 200 {
				t.Fatalf("request %d of 4 at 4 rpm: %d %s", i+1, r.Status, r.Body)
			}
		}
		for _, s := range []*e2e.Server{a, b} {
			r := s.Post(t, run, `{"text":"one too many"}`, h)
			if r.Status != 429 || r.Header.Get("Retry-After") == "" {
				t.Fatalf("5th request on %s: %d (Retry-After %q) %s", s.Name, r.Status, r.Header.Get("Retry-After"), r.Body)
			}
		}
	})

	t.Run("usage is summed across both", func(t *testing.T) {
		r := b.Get(t, "/edgeinfer/v1/usage", map[string]string{"Authorization": "Bearer rate-token"})
		var env struct{ Result gateway.UsageReport }
		if err := json.Unmarshal(r.Body, &env); err != nil || bytes.Contains(r.Body, []byte("rate-token")) {
			t.Fatalf("usage: %v %s", err, r.Body)
		}
		for _, c := range env.Result.Callers {
			if c.Caller == env.Result.Caller {
				if got := c.Models[bgeSmall].Requests; got != 4 {
					t.Fatalf("the fleet served this token 4 requests, usage says %d: %s", got, r.Body)
				}
				return
			}
		}
		t.Fatalf("no usage for the asking token: %s", r.Body)
	})

	t.Run("a job submitted to one finishes on the other when the first stops", func(t *testing.T) {
		const items = 300 // enough that A is usually mid-job when it stops
		h := map[string]string{"Authorization": "Bearer job-token"}
		var reqs []string
		for i := range items {
			reqs = append(reqs, fmt.Sprintf(`{"text":"batch item number %d","external_reference":"r%d"}`, i, i))
		}
		r := a.Post(t, run+"?queueRequest=true", `{"requests":[`+strings.Join(reqs, ",")+`]}`, h)
		var env struct{ Result gateway.JobStatus }
		if r.Status != 200 || json.Unmarshal(r.Body, &env) != nil || env.Result.Status != gateway.StatusQueued {
			t.Fatalf("submit to A: %d %s", r.Status, r.Body)
		}
		a.Stop(t) // A hands back whatever it had started; B must finish the job
		poll := `{"request_id":"` + env.Result.RequestID + `"}`
		deadline := time.Now().Add(60 * time.Second)
		for {
			r = b.Post(t, run+"?queueRequest=true", poll, h)
			var done struct {
				Result gateway.JobResult
			}
			if r.Status != 200 || json.Unmarshal(r.Body, &done) != nil {
				t.Fatalf("poll B: %d %s", r.Status, r.Body)
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
				t.Logf("B ran %s of the %d items after A stopped", metricValue(b.Get(t, "/metrics", nil).Body,
					`edgeinfer_batch_items_total{model="`+bgeSmall+`",result="success"}`), items)
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the job never finished on B: %s", r.Body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// startServer runs one member of the fleet, with its own home.
func startServer(t *testing.T, bin, config, redisURL, home string) *e2e.Server {
	return e2e.StartServer(t, bin, filepath.Base(home), []string{"EDGEINFER_HOME=" + home, ort.LibEnv + "=" + ort.LibraryPath()},
		"--config", config, "--redis", redisURL)
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
