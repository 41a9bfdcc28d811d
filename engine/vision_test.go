package engine

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/png"
	"strings"
	"testing"
)

func tinyPNG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Images reach a generation as a top-level image (bytes as numbers, base64
// or a data: URL) or as OpenAI image_url parts with a data: URL; anything
// that is not an image, and http(s) URLs, are a 400 naming the field.
func TestGenerationImages(t *testing.T) {
	img := tinyPNG(t)
	b64 := base64.StdEncoding.EncodeToString(img)
	nums := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(img)), ","), "[]")
	for _, c := range []struct {
		name, body string
		images     int // on the input (top-level) or on the messages
		badField   string
	}{
		{"top-level base64", `{"prompt":"what is it","image":"` + b64 + `"}`, 1, ""},
		{"top-level numbers", `{"prompt":"what is it","image":[` + nums + `]}`, 1, ""},
		{"top-level data URL", `{"messages":[{"role":"user","content":"hi"}],"image":"data:image/png;base64,` + b64 + `"}`, 1, ""},
		{"image_url part", `{"messages":[{"role":"user","content":[{"type":"text","text":"what"},{"type":"image_url","image_url":{"url":"data:image/png;base64,` + b64 + `"}}]}]}`, 1, ""},
		{"not an image", `{"prompt":"x","image":"` + base64.StdEncoding.EncodeToString([]byte("hello, plain text")) + `"}`, 0, "image"},
		{"http URL", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}`, 0, "messages[0].content[0].image_url.url"},
		{"bad part type", `{"messages":[{"role":"user","content":[{"type":"audio"}]}]}`, 0, "messages[0].content[0].type"},
		{"content a number", `{"messages":[{"role":"user","content":5}]}`, 0, "messages[0].content"},
	} {
		in, err := decodeGeneration([]byte(c.body))
		if c.badField != "" {
			if d := Describe(err); d.Status != 400 || !strings.Contains(d.Message, "'"+c.badField+"'") {
				t.Errorf("%s: %+v, want 400 naming %s", c.name, d, c.badField)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		n := len(in.Images)
		for _, m := range in.Messages {
			n += len(m.Images)
		}
		if n != c.images {
			t.Errorf("%s: %d images, want %d", c.name, n, c.images)
		}
	}
}

func TestDecodeThink(t *testing.T) {
	for _, c := range []struct {
		body     string
		want     any
		badField string
	}{
		{`{"prompt":"x"}`, nil, ""},
		{`{"prompt":"x","chat_template_kwargs":{"enable_thinking":false}}`, false, ""},
		{`{"prompt":"x","chat_template_kwargs":{"clear_thinking":true}}`, nil, ""},
		{`{"prompt":"x","reasoning_effort":"high"}`, "high", ""},
		{`{"prompt":"x","reasoning_effort":null}`, nil, ""},
		{`{"prompt":"x","reasoning":{"effort":"low","summary":"auto"}}`, "low", ""},
		{`{"prompt":"x","reasoning_effort":"max"}`, nil, "reasoning_effort"},
		{`{"prompt":"x","reasoning":{"effort":3}}`, nil, "reasoning.effort"},
		{`{"prompt":"x","chat_template_kwargs":{"enable_thinking":"yes"}}`, nil, "chat_template_kwargs.enable_thinking"},
		{`{"prompt":"x","chat_template_kwargs":[]}`, nil, "chat_template_kwargs"},
	} {
		in, err := decodeGeneration([]byte(c.body))
		if c.badField != "" {
			if d := Describe(err); d.Status != 400 || !strings.Contains(d.Message, "'"+c.badField+"'") {
				t.Errorf("%s: %+v, want 400 naming %s", c.body, d, c.badField)
			}
			continue
		}
		if err != nil || in.Think != c.want {
			t.Errorf("%s: think %v (%v), want %v", c.body, in, err, c.want)
		}
	}
}

// gpt-oss's Responses shape on /ai/run: input (a string or items) with
// instructions becomes messages.
func TestResponsesInput(t *testing.T) {
	in, err := decodeGeneration([]byte(`{"input":[{"role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_text","text":"b"}]}],"instructions":"Be brief.","reasoning":{"effort":"high"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Messages) != 2 || in.Messages[0].Role != "system" || in.Messages[1].Content != "ab" || in.Think != "high" {
		t.Errorf("messages %+v think %v", in.Messages, in.Think)
	}
	for body, field := range map[string]string{
		`{"input":"x","prompt":"y"}`:          "/",
		`{"input":""}`:                        "input",
		`{"input":5}`:                         "input",
		`{"input":[{"content":"x"}]}`:         "input[0].role",
		`{"input":"x","instructions":["no"]}`: "instructions",
	} {
		if _, err := decodeGeneration([]byte(body)); Describe(err).Status != 400 || !strings.Contains(Describe(err).Message, "'"+field+"'") {
			t.Errorf("%s: %v, want 400 naming %s", body, err, field)
		}
	}
}

// Image-to-text (llava): the image as JSON or as the raw body, the task's
// 512-token default, and 400s naming the field for what is not an image.
func TestImageToTextInput(t *testing.T) {
	eng, err := New(mustCatalog(t), DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	const llava = "@cf/llava-hf/llava-1.5-7b-hf"
	img := tinyPNG(t)
	for _, in := range []Input{
		{JSON: []byte(`{"image":"` + base64.StdEncoding.EncodeToString(img) + `","prompt":"What is in it?","max_tokens":20}`)},
		{Binary: img},
	} {
		_, v, err := eng.Decode(llava, in)
		got, ok := v.(*ImageToTextInput)
		if err != nil || !ok || !bytes.Equal(got.Image, img) {
			t.Fatalf("decode: %v %+v", err, v)
		}
		if in.Binary != nil && (got.MaxTokens != 512 || got.Prompt == "") {
			t.Errorf("raw body: %+v, want the task's defaults", got)
		}
		if in.JSON != nil && (got.MaxTokens != 20 || got.Prompt != "What is in it?") {
			t.Errorf("json: %+v", got)
		}
	}
	for body, field := range map[string]string{
		`{"prompt":"x"}`: "image",
		`{"image":"` + base64.StdEncoding.EncodeToString([]byte("not an image at all")) + `"}`: "image",
		`{"image":[1,2,300]}`: "image[2]",
	} {
		if _, _, err := eng.Decode(llava, Input{JSON: []byte(body)}); Describe(err).Status != 400 || !strings.Contains(Describe(err).Message, "'"+field+"'") {
			t.Errorf("%s: %v, want 400 naming %s", body, err, field)
		}
	}
	if _, _, err := eng.Decode(llava, Input{Binary: []byte("text, not an image")}); Describe(err).Status != 400 {
		t.Errorf("a raw body that is not an image: %v, want 400", err)
	}
}
