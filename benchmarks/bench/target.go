package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/edgeinfer/edgeinfer/engine"
)

// Outcome is what one call observed.
type Outcome struct {
	Items  int
	Tokens int           // streamed pieces, for generation
	TTFT   time.Duration // time to the first streamed piece
}

// Target is where requests go: a server URL or an in-process engine.
type Target interface {
	Call(ctx context.Context, model string, req Request, stream bool) (Outcome, error)
	// Metrics returns the current Prometheus series, to read batch sizes and
	// queue times.
	Metrics(ctx context.Context) (map[string]*dto.MetricFamily, error)
}

// HTTPTarget sends Workers AI REST requests.
type HTTPTarget struct {
	URL    string // e.g. http://127.0.0.1:8790
	Token  string
	Client *http.Client
}

// Call implements Target.
func (t *HTTPTarget) Call(ctx context.Context, model string, req Request, stream bool) (Outcome, error) {
	start := time.Now()
	url := strings.TrimRight(t.URL, "/") + "/client/v4/accounts/bench/ai/run/" + model
	hreq, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(req.Body))
	if err != nil {
		return Outcome{}, err
	}
	if req.Binary {
		hreq.Header.Set("Content-Type", "application/octet-stream")
	} else {
		hreq.Header.Set("Content-Type", "application/json")
	}
	if t.Token != "" {
		hreq.Header.Set("Authorization", "Bearer "+t.Token)
	}
	res, err := t.Client.Do(hreq)
	if err != nil {
		return Outcome{}, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return Outcome{}, fmt.Errorf("HTTP %d: %s", res.StatusCode, b)
	}
	out := Outcome{Items: req.Items}
	if !stream {
		_, err = io.Copy(io.Discard, res.Body)
		return out, err
	}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || line == "[DONE]" || strings.Contains(line, `"usage"`) {
			continue
		}
		if out.Tokens == 0 {
			out.TTFT = time.Since(start)
		}
		out.Tokens++
	}
	return out, sc.Err()
}

// Metrics implements Target by scraping /metrics.
func (t *HTTPTarget) Metrics(ctx context.Context) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(t.URL, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	if t.Token != "" {
		req.Header.Set("Authorization", "Bearer "+t.Token)
	}
	res, err := t.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var parser expfmt.TextParser
	return parser.TextToMetricFamilies(res.Body)
}

// EngineTarget calls an in-process engine.
type EngineTarget struct{ Engine *engine.Engine }

// Call implements Target.
func (t *EngineTarget) Call(ctx context.Context, model string, req Request, stream bool) (Outcome, error) {
	start := time.Now()
	in := engine.Input{JSON: req.Body}
	if req.Binary {
		in = engine.Input{Binary: req.Body}
	}
	out, err := t.Engine.Run(ctx, model, in)
	if err != nil {
		return Outcome{}, err
	}
	o := Outcome{Items: req.Items}
	if s, ok := out.(*engine.TextStream); ok {
		for ev := range s.Events {
			if ev.Err != nil {
				err = ev.Err
				continue
			}
			if ev.Usage != nil || ev.Reasoning != "" {
				continue
			}
			if o.Tokens == 0 {
				o.TTFT = time.Since(start)
			}
			o.Tokens++
		}
	}
	return o, err
}

// Metrics implements Target.
func (t *EngineTarget) Metrics(context.Context) (map[string]*dto.MetricFamily, error) {
	families, err := t.Engine.Metrics().Registry.Gather()
	if err != nil {
		return nil, err
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range families {
		out[f.GetName()] = f
	}
	return out, nil
}
