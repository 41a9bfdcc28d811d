package llm

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/edgeinfer/edgeinfer/engine"
)

// The vision model's image reaches Ollama on the last user message; a model
// without Ollama's vision capability refuses images with a 400 naming the
// field. No vision projector can be synthesized here, so this runs against
// the fake Ollama at the process boundary.
func TestImagesReachAVisionModel(t *testing.T) {
	const vision = "@cf/meta/llama-3.2-11b-vision-instruct"
	img := tinyPNG(t)
	body := `{"messages":[{"role":"system","content":"Describe."},{"role":"user","content":"What is this?"}],"image":"` + base64.StdEncoding.EncodeToString(img) + `"}`
	for _, caps := range [][]string{{"completion", "vision"}, {"completion"}} {
		f := newFakeOllama(t, "llama3.2-vision:11b-instruct-q8_0", caps...)
		f.chat = func(w http.ResponseWriter, req api.ChatRequest) {
			writeLine(w, piece("A square."))
			writeLine(w, finished(20, 3))
		}
		eng := newFakeEngine(t, f)
		_, err := eng.Run(testCtx(t, 30*time.Second), vision, engine.Input{JSON: []byte(body)})
		if len(caps) == 1 {
			if d := engine.Describe(err); d.Status != 400 || !strings.Contains(d.Message, "'image'") {
				t.Errorf("a model without vision: %+v, want 400 naming image", d)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		reqs := f.recorded()
		if len(reqs) != 1 || len(reqs[0].Messages) != 2 {
			t.Fatalf("requests %+v", reqs)
		}
		if m := reqs[0].Messages; len(m[0].Images) != 0 || len(m[1].Images) != 1 || !bytes.Equal(m[1].Images[0], img) {
			t.Errorf("the image should ride on the user message: %d / %d images", len(m[0].Images), len(m[1].Images))
		}
	}
}

// llava's image-to-text: with a vision model the image and prompt reach
// Ollama and the answer comes back as {description}; the synthetic demo
// model (no vision) answers on the real Ollama without the image, so the ID
// works offline.
func TestImageToText(t *testing.T) {
	const llava = "@cf/llava-hf/llava-1.5-7b-hf"
	img := tinyPNG(t)

	f := newFakeOllama(t, "llava:7b-v1.5-q8_0", "completion", "vision")
	f.chat = func(w http.ResponseWriter, req api.ChatRequest) {
		writeLine(w, piece("A black square."))
		writeLine(w, finished(30, 4))
	}
	eng := newFakeEngine(t, f)
	out, err := eng.Run(testCtx(t, 30*time.Second), llava, engine.Input{Binary: img})
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := out.(*engine.ImageToTextOutput); !ok || d.Description != "A black square." {
		t.Errorf("output %#v, want {description}", out)
	}
	if r := f.recorded(); len(r) != 1 || len(r[0].Messages) != 1 || len(r[0].Messages[0].Images) != 1 || r[0].Messages[0].Content == "" {
		t.Errorf("request %+v, want the prompt with the image", r)
	}

	demo, _ := demoEngine(t)
	defer demo.Close()
	out, err = demo.Run(testCtx(t, time.Minute), llava, engine.Input{JSON: []byte(`{"image":"` + base64.StdEncoding.EncodeToString(img) + `","max_tokens":4}`)})
	if _, ok := out.(*engine.ImageToTextOutput); err != nil || !ok {
		t.Errorf("synthetic llava: %#v, %v", out, err)
	}
}

func tinyPNG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 3, 3))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
