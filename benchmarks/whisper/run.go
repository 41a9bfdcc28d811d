package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgeinfer/edgeinfer/benchmarks/loadgen"
	"github.com/edgeinfer/edgeinfer/benchmarks/machine"
	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/backends"
	"github.com/edgeinfer/edgeinfer/engine/httpapi"
	"github.com/edgeinfer/edgeinfer/models/audioprep"
	"github.com/edgeinfer/edgeinfer/models/synth"
	"github.com/edgeinfer/edgeinfer/models/whisper"
)

// row is one configuration's figures.
type row struct {
	throughput float64 // audio seconds per wall-clock second, all streams
	requests   int
	p50, p99   time.Duration
	rssMB      float64
	// work says what one request decoded: windows and tokens or decoder
	// runs, where the engine lets them be counted.
	work string
	err  error
}

func (r row) print(name string, streams int, seconds float64) {
	if r.err != nil {
		fmt.Printf("| %s | %d | failed: %v | | %d | | | | |\n", name, streams, r.err, r.requests)
		return
	}
	rss := ""
	if r.rssMB > 0 {
		rss = fmt.Sprintf("%.0f MB", r.rssMB)
	}
	fmt.Printf("| %s | %d | %.2f | %.3f | %d | %s | %s | %s | %s |\n", name, streams, r.throughput,
		r.p50.Seconds()/seconds, r.requests, r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond), rss, r.work)
}

func fromLoadgen(r loadgen.Result, seconds float64) row {
	return row{throughput: float64(r.Requests) * seconds / r.Elapsed.Seconds(), requests: r.Requests,
		p50: r.Percentile(0.5), p99: r.Percentile(0.99), err: r.FirstErr}
}

// frontEnd times audioprep's decode of the WAV and the log-mel features of
// every 30 s window, per audio minute (the best of ten runs).
func (b bench) frontEnd(dir string) time.Duration {
	raw, err := os.ReadFile(filepath.Join(dir, "preprocessor_config.json"))
	check(err)
	ex, err := audioprep.ParseWhisperConfig(raw)
	check(err)
	features := make([]float32, ex.Bins()*ex.Frames())
	best := time.Duration(1 << 62)
	for range 10 {
		start := time.Now()
		a, err := audioprep.Decode(b.wav, audioprep.Limits{})
		check(err)
		for off := 0; off < len(a.Samples); off += ex.Samples() {
			check(ex.Extract(a.Samples[off:min(len(a.Samples), off+ex.Samples())], features))
		}
		best = min(best, time.Since(start))
	}
	return time.Duration(float64(best) * 60 / b.seconds)
}

// newEngine loads the model in an engine with every backend of this build
// and returns it with the loaded Whisper (for its counters) and the
// process's resident memory once loaded.
func (b bench) newEngine(id, dir string) (*engine.Engine, *whisper.Model, float64, error) {
	cat, err := engine.LoadCatalog()
	if err != nil {
		return nil, nil, 0, err
	}
	cfg := engine.DefaultConfig()
	cfg.Models[id] = engine.ModelConfig{Dir: dir, Variant: b.variant, IntraOpThreads: b.threads}
	all := backends.All(cfg)
	loaded := &keepModel{Backend: all[whisper.Kind]}
	all[whisper.Kind] = loaded
	eng, err := engine.New(cat, cfg, all, nil)
	if err != nil {
		return nil, nil, 0, err
	}
	if _, err := eng.Run(context.Background(), id, engine.Input{Binary: b.wav[:44+2*16000]}); err != nil {
		eng.Close()
		return nil, nil, 0, fmt.Errorf("loading: %w", err)
	}
	m, _ := loaded.model.(*whisper.Model)
	return eng, m, float64(procStatus("VmRSS")), nil
}

// keepModel is the Whisper backend, keeping the model it loaded.
type keepModel struct {
	engine.Backend
	model engine.Model
}

// Load implements engine.Backend.
func (k *keepModel) Load(ctx context.Context, spec engine.ModelSpec) (engine.Model, error) {
	m, err := k.Backend.Load(ctx, spec)
	k.model = m
	return m, err
}

// inProcess runs n streams of whole-audio requests through engine.Run;
// requests are never cut off (loadgen.Drained). Whisper's defaults, or
// with plain the decoding transformers.js's pipeline does: fixed 30 s
// windows without timestamps, each greedy once (temperature 0, no
// fallback), without the previous window's text as its prompt.
func (b bench) inProcess(eng *engine.Engine, m *whisper.Model, id, language string, n int, plain bool) row {
	in := &engine.TranscriptionInput{Audio: b.wav, Language: language, ConditionOnPreviousText: true}
	if plain {
		in.ConditionOnPreviousText, in.Temperature, in.WithoutTimestamps = false, []float64{0}, true
	}
	encoded, rows, steps := m.EncodedWindows(), m.Stats().DecoderRows.Load(), m.Stats().Steps.Load()
	r := loadgen.Drained(context.Background(), n, b.duration, func(ctx context.Context, _ int) (int, error) {
		_, err := eng.Run(ctx, id, engine.Input{Value: in})
		return 1, err
	})
	out := fromLoadgen(r, b.seconds)
	out.rssMB = float64(procStatus("VmHWM")) / 1e6
	// Drained's warm-up calls are counted too: one per stream.
	if calls := float64(r.Requests + n); r.Requests > 0 {
		encoded, rows, steps = m.EncodedWindows()-encoded, m.Stats().DecoderRows.Load()-rows, m.Stats().Steps.Load()-steps
		out.work = fmt.Sprintf("%.1f windows, %.0f decoder rows in %.0f runs", float64(encoded)/calls, float64(rows)/calls, float64(steps)/calls)
	}
	return out
}

// overHTTP does the same over Workers AI's REST route with the WAV as the
// raw request body, as `curl --data-binary @audio.wav` sends it (the
// multilingual model then detects the language: one extra decoder step).
func (b bench) overHTTP(eng *engine.Engine, id string, n int) row {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	srv := &http.Server{Handler: httpapi.New(eng, httpapi.Options{}).Handler()}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/client/v4/accounts/bench/ai/run/" + id
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	r := loadgen.Drained(context.Background(), n, b.duration, func(ctx context.Context, _ int) (int, error) {
		if _, err := loadgen.Post(ctx, client, url, "application/octet-stream", b.wav); err != nil {
			return 0, err
		}
		return 1, nil
	})
	return fromLoadgen(r, b.seconds)
}

// peerResult is what the node peers print.
type peerResult struct {
	AudioSPerS float64 `json:"audio_s_per_s"`
	Requests   int     `json:"requests"`
	P50        float64 `json:"p50_ms"`
	P99        float64 `json:"p99_ms"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
	// Encoder and decoder runs per request, where the peer counts them.
	EncoderRuns float64 `json:"encoder_runs_per_request"`
	DecoderRuns float64 `json:"decoder_runs_per_request"`
}

func runNode(script string, args ...string) (row, error) {
	cmd := exec.Command("node", append([]string{script}, args...)...)
	cmd.Dir = filepath.Join("benchmarks", "whisper", "peer")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return row{}, fmt.Errorf("%v: %.300s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var p peerResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &p); err != nil {
		return row{}, fmt.Errorf("%s printed %q", script, lines[len(lines)-1])
	}
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	r := row{throughput: p.AudioSPerS, requests: p.Requests, p50: ms(p.P50), p99: ms(p.P99), rssMB: p.PeakRSSMB}
	if p.EncoderRuns > 0 {
		r.work = fmt.Sprintf("%.1f windows, %.0f decoder runs", p.EncoderRuns, p.DecoderRuns)
	}
	return r, nil
}

// transformersJS runs the transformers.js peer on the variant edgeinfer
// serves (q8 is transformers.js's name for the *_quantized.onnx files).
func (b bench) transformersJS(dir, language string, n int) (row, error) {
	dtype := map[string]string{"fp32": "fp32", "int8": "q8"}[b.servedVariant(dir)]
	return runNode("transformers.mjs", dir, b.samples, fmt.Sprint(b.threads), fmt.Sprint(n), fmt.Sprint(int(b.duration.Seconds())), dtype, language)
}

// whisperCpp runs the whisper.cpp peer with n streams. Each stream is a
// worker with its own context: the ggml weights, and while it loads, the
// file read into a JS buffer, about twice the file per stream. Streams that
// do not fit in the available memory are not started: turbo at 8 streams
// (25 GB) was killed by the kernel's OOM killer on a 23 GiB machine.
func (b bench) whisperCpp(ggml, language string, n int) (row, error) {
	if language == "" {
		language = "en"
	}
	if info, err := os.Stat(ggml); err == nil {
		need, avail := 2*info.Size()*int64(n), machine.MemAvailable()
		if avail > 0 && need > avail {
			return row{}, fmt.Errorf("not run: %d streams of a %.1f GB ggml file need about %.1f GB, %.1f GB available", n, float64(info.Size())/1e9, float64(need)/1e9, float64(avail)/1e9)
		}
	}
	return runNode("whispercpp.mjs", ggml, b.samples, fmt.Sprint(b.threads), fmt.Sprint(n), fmt.Sprint(int(b.duration.Seconds())), language)
}

// servedVariant is --variant, else the catalog's CPU default where the
// model directory has its files.
func (b bench) servedVariant(dir string) string {
	if b.variant != "" {
		return b.variant
	}
	if _, err := os.Stat(filepath.Join(dir, synth.WhisperQuantizedDecoderFile)); err == nil {
		return "int8"
	}
	return "fp32"
}

// writeGGML writes the model's weights as a whisper.cpp file in a
// temporary directory.
func writeGGML(dir string) (string, func(), error) {
	tmp, err := os.MkdirTemp("", "whisper-ggml-")
	if err != nil {
		return "", nil, err
	}
	path := filepath.Join(tmp, "ggml-model-f16.bin")
	if err := synth.WriteWhisperGGML(dir, path); err != nil {
		os.RemoveAll(tmp)
		return "", nil, err
	}
	return path, func() { os.RemoveAll(tmp) }, nil
}

// writeFloat32 writes the WAV's samples as 16 kHz float32, what the node
// peers read: both get exactly the audio edgeinfer decodes.
func writeFloat32(w io.Writer, wav []byte) error {
	a, err := audioprep.Decode(wav, audioprep.Limits{})
	if err != nil {
		return err
	}
	return binary.Write(w, binary.LittleEndian, a.Samples)
}

// procStatus reads a memory figure (VmRSS, VmHWM) of this process in bytes.
func procStatus(field string) int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb * 1024
		}
	}
	return 0
}
