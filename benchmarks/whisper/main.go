// Command whisper measures speech recognition on one machine in one run:
// for tiny.en and large-v3-turbo (the full synthetic presets for honest
// figures), the front end's cost (decode + log-mel features per audio
// minute), edgeinfer's real-time factor on 60 s of audio with 1 and 8
// concurrent streams in-process and over HTTP, the transformers.js ASR
// pipeline on the same ONNX files and threads, whisper.cpp on the same
// weights written as a ggml file, and resident memory. It prints a
// markdown report; nothing here is asserted.
//
//	go run ./benchmarks/whisper --tiny-en DIR --turbo DIR --threads 2
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/edgeinfer/edgeinfer/benchmarks/machine"
	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

// bench is what one run measures with.
type bench struct {
	threads   int
	duration  time.Duration
	streams   []int
	variant   string
	wav       []byte
	samples   string // the same audio as raw float32, for the peers
	seconds   float64
	peer, cpp bool
	plain     bool
	defaults  bool
	http      bool
	edgeinfer bool
}

func main() {
	models := filepath.Join(engine.DefaultHome(), "models")
	tinyEn := flag.String("tiny-en", filepath.Join(models, synth.WhisperTinyEnID), "whisper-tiny-en model directory (\"\" skips it)")
	turbo := flag.String("turbo", filepath.Join(models, synth.WhisperLargeV3TurboID), "whisper-large-v3-turbo model directory (\"\" skips it)")
	b := bench{}
	flag.IntVar(&b.threads, "threads", runtime.NumCPU(), "ONNX Runtime intra-op threads (whisper.cpp: threads shared by its streams), for every configuration")
	flag.DurationVar(&b.duration, "duration", 60*time.Second, "time per configuration during which requests start; the last ones finish after it")
	streams := flag.String("streams", "1,8", "concurrent streams to measure")
	flag.StringVar(&b.variant, "variant", "", "weight variant for edgeinfer and transformers.js: fp32 or int8 (default: the catalog's CPU default)")
	seconds := flag.Int("audio-seconds", 60, "length of the test audio")
	flag.BoolVar(&b.peer, "peer", true, "run the transformers.js peer (needs `npm ci --ignore-scripts` in compat/imageprep-parity)")
	flag.BoolVar(&b.edgeinfer, "edgeinfer", true, "run edgeinfer's rows (false: the peers only)")
	flag.BoolVar(&b.http, "http", true, "run edgeinfer over HTTP")
	flag.BoolVar(&b.defaults, "defaults", true, "run edgeinfer in-process with Whisper's default decoding")
	flag.BoolVar(&b.plain, "plain", true, "also run edgeinfer in-process decoding as transformers.js does (30 s windows, no timestamps, temperature 0 only, no previous-text prompt)")
	flag.BoolVar(&b.cpp, "whispercpp", true, "run the whisper.cpp peer (needs `npm ci --ignore-scripts` in benchmarks/whisper/peer)")
	cpuProfile := flag.String("cpuprofile", "", "write a Go CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	for _, s := range strings.Split(*streams, ",") {
		var n int
		_, err := fmt.Sscan(s, &n)
		check(err)
		b.streams = append(b.streams, n)
	}

	wav, kind := testAudio(*seconds)
	b.wav, b.seconds = wav, float64(*seconds)
	var cleanup func()
	b.samples, cleanup = writeSamples(wav)
	defer cleanup()

	fmt.Printf("# Speech-recognition benchmark: %d s of %s, %d threads, %s per configuration\n\n", *seconds, kind, b.threads, b.duration)
	fmt.Printf("machine: %s, %d CPUs (%s); ONNX Runtime %s; Go %s\n\n", machine.CPUModel(), runtime.NumCPU(), machine.Flags(), ort.ExpectedVersion(), runtime.Version())
	fmt.Println("Real-time factor (RTF) = processing time / audio time for one request (lower is faster); throughput = audio seconds transcribed per wall-clock second over all streams. Synthetic weights: every request decodes random tokens, and every engine runs its own default decoding (temperature fallback included), so token counts per request differ between engines.")
	for _, m := range []struct{ id, dir string }{{synth.WhisperTinyEnID, *tinyEn}, {synth.WhisperLargeV3TurboID, *turbo}} {
		if m.dir == "" {
			continue
		}
		b.model(m.id, m.dir)
	}
}

// model prints one model's section.
func (b bench) model(id, dir string) {
	fmt.Printf("\n## %s (%s)\n\n", id, dir)
	language := "en"
	if id == synth.WhisperTinyEnID {
		language = "" // English-only: no language token
	}
	fmt.Printf("front end (decode WAV + log-mel features): %s per audio minute\n\n", b.frontEnd(dir).Round(time.Microsecond))
	fmt.Println("| configuration | streams | throughput (audio s/s) | RTF per request (p50) | requests | p50 | p99 | peak RSS | work per request |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	rows := map[string]map[int]float64{}
	record := func(name string, streams int, r row) {
		if rows[name] == nil {
			rows[name] = map[int]float64{}
		}
		rows[name][streams] = r.throughput
		r.print(name, streams, b.seconds)
	}
	if b.edgeinfer {
		b.edgeinferRows(id, dir, language, record)
	}
	if b.peer {
		for _, n := range b.streams {
			r, err := b.transformersJS(dir, language, n)
			if err != nil {
				fmt.Printf("| transformers.js ASR pipeline | %d | failed: %v | | | | | | |\n", n, err)
				continue
			}
			record("transformers.js ASR pipeline", n, r)
		}
	}
	if b.cpp {
		ggml, cleanup, err := writeGGML(dir)
		if err != nil {
			fmt.Printf("| whisper.cpp | | failed: %v | | | | | | |\n", err)
		} else {
			for _, n := range b.streams {
				r, err := b.whisperCpp(ggml, language, n)
				if err != nil {
					fmt.Printf("| whisper.cpp (@napi-rs/whisper, ggml f16) | %d | failed: %v | | | | | | |\n", n, err)
					continue
				}
				record("whisper.cpp (@napi-rs/whisper, ggml f16)", n, r)
			}
			cleanup()
		}
	}
	b.ratios(rows)
}

// edgeinferRows measures edgeinfer in-process (and over HTTP) on one model.
func (b bench) edgeinferRows(id, dir, language string, record func(string, int, row)) {
	eng, m, rss, err := b.newEngine(id, dir)
	if err != nil {
		fmt.Printf("| edgeinfer | | failed: %v | | | | | | |\n", err)
		return
	}
	if b.defaults {
		for _, n := range b.streams {
			record(inProcessRow, n, b.inProcess(eng, m, id, language, n, false))
		}
	}
	if b.plain {
		for _, n := range b.streams {
			record(plainRow, n, b.inProcess(eng, m, id, language, n, true))
		}
	}
	if b.http {
		for _, n := range b.streams {
			record("edgeinfer over HTTP (raw WAV body: the Workers AI response, words included where the schema has them)", n, b.overHTTP(eng, id, n))
		}
	}
	eng.Close()
	fmt.Printf("| edgeinfer, model loaded (idle) | | | | | | | %.0f MB | |\n", rss/1e6)
}

// ratios prints the figures issue #22 sets targets for.
func (b bench) ratios(rows map[string]map[int]float64) {
	ei := rows[inProcessRow]
	hi := b.streams[len(b.streams)-1]
	fmt.Println()
	if hi > 1 && ei[1] > 0 && ei[hi] > 0 {
		fmt.Printf("- edgeinfer %d streams vs 1: %.2fx throughput (target ≥ 2.5x)\n", hi, ei[hi]/ei[1])
	}
	if u := rows[plainRow]; hi > 1 && u[1] > 0 && u[hi] > 0 {
		fmt.Printf("- edgeinfer decoding as transformers.js does, %d streams vs 1: %.2fx throughput\n", hi, u[hi]/u[1])
	}
	for _, n := range b.streams {
		if u, p := rows[plainRow][n], rows["transformers.js ASR pipeline"][n]; u > 0 && p > 0 {
			fmt.Printf("- edgeinfer decoding as transformers.js does vs transformers.js, %d streams: %.2fx throughput (both greedy, at most 224 tokens a window)\n", n, u/p)
		}
	}
	for _, peer := range []struct{ name, target string }{
		{"transformers.js ASR pipeline", "≥ 1.5x"},
		{"whisper.cpp (@napi-rs/whisper, ggml f16)", "1 stream: ≥ 1/1.5 = 0.67x; 8 streams: > 1x"},
	} {
		p := rows[peer.name]
		for _, n := range b.streams {
			if p[n] > 0 && ei[n] > 0 {
				fmt.Printf("- edgeinfer vs %s, %d streams: %.2fx throughput (target %s)\n", peer.name, n, ei[n]/p[n], peer.target)
			}
		}
	}
}

// inProcessRow is the edgeinfer configuration the peers are compared with:
// transcription only (text and segments, no word timestamps), language
// given, as the peers run.
const inProcessRow = "edgeinfer in-process (text + segments, language given)"

// plainRow decodes as transformers.js's pipeline does: fixed 30 s windows
// decoded once each, without timestamps, greedy at temperature 0 (no
// fallback ladder), without the previous window's text as its prompt. It
// is the equal-work comparison with that peer (the work column shows the
// windows and decoder runs of both).
const plainRow = "edgeinfer in-process, decoded as transformers.js does (30 s windows, no timestamps, temperature 0 only, no previous-text prompt)"

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func writeSamples(wav []byte) (path string, cleanup func()) {
	f, err := os.CreateTemp("", "audio-*.f32")
	check(err)
	check(writeFloat32(f, wav))
	check(f.Close())
	return f.Name(), func() { os.Remove(f.Name()) }
}
