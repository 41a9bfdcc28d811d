package gateway

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/gateway/redistest"
)

// cuttableProxy forwards loopback TCP to a Redis server and can drop every
// connection and refuse new ones, as a network partition does, without
// Redis losing its data.
type cuttableProxy struct {
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
	ln     net.Listener
}

func newCuttableProxy(t *testing.T, target string) *cuttableProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttableProxy{target: target, ln: ln}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *cuttableProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	}
}

// cut drops every connection and refuses new ones until restore.
func (p *cuttableProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cuttableProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// The Redis connection drops in fleet mode while a batch job runs: the
// result that cannot be saved is not lost, a request meanwhile gets a 5xx
// that names no address, and once Redis is reachable again the job
// completes and new jobs are accepted, without a restart.
func TestRedisConnectionDroppedDuringABatchJob(t *testing.T) {
	redisURL := redistest.Start(t)
	target := strings.TrimSuffix(strings.TrimPrefix(redisURL, "redis://"), "/0")
	proxy := newCuttableProxy(t, target)
	cfg := testConfig()
	cfg.Gateway.BatchConcurrency = 1
	backend := newFakeBackend()
	backend.gate = make(chan struct{})
	backend.started = make(chan string, 16)
	eng := newEngine(t, cfg, backend)
	store, err := OpenRedis(testCtx(t), "redis://"+proxy.ln.Addr().String()+"/0", cfg.Gateway.CacheMaxBytes)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	g := New(eng, Options{Config: cfg, Store: store})
	defer g.Close()

	var items []string
	for i := range 3 {
		items = append(items, fmt.Sprintf(`{"text":"item-%d"}`, i))
	}
	st, err := g.Submit(testCtx(t), bgeSmall, "tok-1", []byte(`{"requests":[`+strings.Join(items, ",")+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	<-backend.started // item 0 runs; the connection drops before its result is saved
	proxy.cut()
	if _, err := g.Submit(testCtx(t), bgeSmall, "tok-1", []byte(`{"requests":[{"text":"while down"}]}`)); err == nil {
		t.Error("a job was accepted with Redis unreachable")
	} else if d := engine.Describe(err); d.Status < 500 || strings.Contains(d.Message, "127.0.0.1") {
		t.Errorf("refused with %d %q, want a 5xx that names no address", d.Status, d.Message)
	}
	backend.gate <- struct{}{}
	<-backend.started // item 1 starts once item 0's save failed
	proxy.restore()
	backend.started = nil
	close(backend.gate)

	res := waitResult(t, g, bgeSmall, "tok-1", st.RequestID)
	for i, r := range res.Responses {
		if !r.Success {
			t.Errorf("item %d lost or failed: %+v", i, r.Error)
		}
	}
	if _, err := g.Submit(testCtx(t), bgeSmall, "tok-1", []byte(`{"requests":[{"text":"after"}]}`)); err != nil {
		t.Fatalf("after Redis came back: %v", err)
	}
}
