// Package bench is the driver behind `edgeinfer bench`: reproducible
// workloads per task, a load run per concurrency level against a server URL
// or an in-process engine, and reports (markdown, JSON, PNG charts).
package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"

	"github.com/edgeinfer/edgeinfer/benchmarks/corpus"
	"github.com/edgeinfer/edgeinfer/engine"
)

// Request is one prepared input.
type Request struct {
	Body   []byte // a Workers AI JSON input, or raw image bytes when Binary
	Binary bool
	Items  int // texts, images or audio clips it carries
}

// Workload is what one model is driven with.
type Workload struct {
	Model    string
	Task     engine.Task
	Stream   bool
	Requests []Request
}

// languages the translation workload cycles through.
var languages = []string{"fr", "de", "es", "zh", "ja", "pt", "ru", "ar"}

// NewWorkload builds a reproducible workload for a catalog entry.
func NewWorkload(entry *engine.Entry, seed uint64) (Workload, error) {
	w := Workload{Model: entry.ID, Task: entry.Task}
	texts := corpus.Sentences(512, 6, 38, seed)
	marshal := func(v any) []byte { b, _ := json.Marshal(v); return b }
	switch entry.Task {
	case engine.TaskTextEmbeddings:
		for _, t := range texts {
			w.Requests = append(w.Requests, Request{Body: marshal(map[string]any{"text": t}), Items: 1})
		}
	case engine.TaskTextClassification:
		if entry.Schema == "rerank" { // 1 query × 20 contexts, items are pairs
			queries := corpus.Sentences(len(texts)/20, 4, 12, seed+1)
			for i, q := range queries {
				contexts := make([]map[string]string, 20)
				for j := range contexts {
					contexts[j] = map[string]string{"text": texts[i*20+j]}
				}
				w.Requests = append(w.Requests, Request{Body: marshal(map[string]any{"query": q, "contexts": contexts}), Items: len(contexts)})
			}
			break
		}
		for _, t := range texts {
			w.Requests = append(w.Requests, Request{Body: marshal(map[string]any{"text": t}), Items: 1})
		}
	case engine.TaskTranslation:
		for i, t := range texts {
			w.Requests = append(w.Requests, Request{Body: marshal(map[string]any{"text": t, "source_lang": "en", "target_lang": languages[i%len(languages)]}), Items: 1})
		}
	case engine.TaskTextGeneration:
		w.Stream = true
		for _, t := range texts {
			w.Requests = append(w.Requests, Request{Body: marshal(map[string]any{
				"messages": []map[string]string{{"role": "user", "content": "Write about " + t}}, "max_tokens": 64, "stream": true}), Items: 1})
		}
	case engine.TaskImageToText:
		imgs, err := Images(8, seed)
		if err != nil {
			return w, err
		}
		for i, img := range imgs {
			w.Requests = append(w.Requests, Request{Body: marshal(map[string]any{"image": img, "prompt": "Describe " + texts[i], "max_tokens": 32}), Items: 1})
		}
	case engine.TaskImageClassification:
		imgs, err := Images(16, seed)
		if err != nil {
			return w, err
		}
		for _, img := range imgs {
			w.Requests = append(w.Requests, Request{Body: img, Binary: true, Items: 1})
		}
	case engine.TaskSpeechRecognition:
		// Clips of 3 to 12 s, a request each: the audio file as the body for
		// the legacy schema (as the REST API takes it), base64 in JSON for
		// the turbo schema, which takes only JSON.
		r := rand.New(rand.NewPCG(seed, 0x5eed))
		for i := range 6 {
			wav := corpus.WAV(corpus.SpeechLike(float64(3+r.IntN(10)), seed*16+uint64(i)))
			if entry.Schema == engine.SchemaWhisperTurbo {
				w.Requests = append(w.Requests, Request{Body: marshal(map[string]any{"audio": wav}), Items: 1})
				continue
			}
			w.Requests = append(w.Requests, Request{Body: wav, Binary: true, Items: 1})
		}
	default:
		return w, fmt.Errorf("no workload for task %s", entry.Task)
	}
	return w, nil
}

// imageSizes span phone thumbnails to full HD, as the issue asks.
var imageSizes = [][2]int{{320, 240}, {640, 480}, {800, 600}, {1024, 768}, {1280, 720}, {1920, 1080}}

// Images returns n JPEGs of mixed sizes with photo-like content: smooth
// gradients, a few shapes and noise, so the codec does real work.
func Images(n int, seed uint64) ([][]byte, error) {
	r := rand.New(rand.NewPCG(seed, 0x1badb002))
	out := make([][]byte, n)
	for i := range out {
		size := imageSizes[i%len(imageSizes)]
		img := image.NewRGBA(image.Rect(0, 0, size[0], size[1]))
		c0 := [3]float64{r.Float64() * 255, r.Float64() * 255, r.Float64() * 255}
		c1 := [3]float64{r.Float64() * 255, r.Float64() * 255, r.Float64() * 255}
		cx, cy, rad := r.IntN(size[0]), r.IntN(size[1]), 20+r.IntN(size[1]/2)
		for y := range size[1] {
			for x := range size[0] {
				t := float64(x+y) / float64(size[0]+size[1])
				var px [3]uint8
				for c := range px {
					v := c0[c]*(1-t) + c1[c]*t + r.NormFloat64()*6
					if (x-cx)*(x-cx)+(y-cy)*(y-cy) < rad*rad {
						v = 255 - v
					}
					px[c] = uint8(max(0, min(255, v)))
				}
				img.SetRGBA(x, y, color.RGBA{px[0], px[1], px[2], 255})
			}
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
			return nil, err
		}
		out[i] = buf.Bytes()
	}
	return out, nil
}
