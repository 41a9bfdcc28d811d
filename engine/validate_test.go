package engine

import (
	"strings"
	"testing"
)

// checkDecode runs a decoder over a table of inputs; wantField "" means the
// input must be accepted, otherwise it must be refused naming that field.
func checkDecode[T any](t *testing.T, decode func([]byte) (T, error), tests []decodeCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decode([]byte(tt.body))
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("refused valid input: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted invalid input %s", tt.body)
			}
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			if e.Field != tt.wantField {
				t.Fatalf("field = %q, want %q (%s)", e.Field, tt.wantField, e.Message)
			}
			want := KindBadInput
			if tt.tooLarge {
				want = KindTooLarge
			}
			if e.Kind != want {
				t.Fatalf("kind = %v, want %v", e.Kind, want)
			}
			if !strings.Contains(e.Message, tt.wantField) {
				t.Fatalf("message %q does not name %q", e.Message, tt.wantField)
			}
		})
	}
}

type decodeCase struct {
	name      string
	body      string
	wantField string
	tooLarge  bool
}

func TestDecodeEmbeddings(t *testing.T) {
	checkDecode(t, decodeEmbeddings, []decodeCase{
		{"one string", `{"text":"hello"}`, "", false},
		{"array", `{"text":["a","b"],"pooling":"cls"}`, "", false},
		{"truncate flag as string", `{"text":"a","truncate_inputs":"false"}`, "", false},
		{"100 items", `{"text":[` + strings.TrimSuffix(strings.Repeat(`"x",`, 100), ",") + `]}`, "", false},
		{"missing text", `{}`, "text", false},
		{"empty string", `{"text":""}`, "text", false},
		{"empty array", `{"text":[]}`, "text", false},
		{"101 items", `{"text":[` + strings.TrimSuffix(strings.Repeat(`"x",`, 101), ",") + `]}`, "text", false},
		{"non-string item", `{"text":["a",3]}`, "text[1]", false},
		{"empty item", `{"text":["a",""]}`, "text[1]", false},
		{"number", `{"text":42}`, "text", false},
		{"wrong pooling", `{"text":"a","pooling":"max"}`, "pooling", false},
		{"invalid utf-8", "{\"text\":\"caf\xe9\"}", "text", false},
		{"lone surrogate", `{"text":"\ud800x"}`, "text", false},
		{"not an object", `["a"]`, "/", false},
		{"batch without queueRequest", `{"requests":[{"text":"a"}]}`, "requests", false},
	})
}

func TestDecodeEmbeddingsKeepsEscapedText(t *testing.T) {
	in, err := decodeEmbeddings([]byte(`{"text":["\\ud800 is text","emoji \ud83d\ude42"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if in.Text[0] != `\ud800 is text` || in.Text[1] != "emoji 🙂" || in.Pooling != "mean" || !in.TruncateInputs {
		t.Fatalf("decoded %+v", in)
	}
}

func TestDecodeGeneration(t *testing.T) {
	checkDecode(t, decodeGeneration, []decodeCase{
		{"prompt", `{"prompt":"hi"}`, "", false},
		{"messages", `{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],"max_tokens":10}`, "", false},
		{"raw as string", `{"prompt":"hi","raw":"true","stream":"false"}`, "", false},
		{"all sampling", `{"prompt":"hi","temperature":0,"top_p":0.9,"top_k":40,"seed":42,"repetition_penalty":1.1,"frequency_penalty":0.5,"presence_penalty":0.5}`, "", false},
		{"tools both shapes", `{"messages":[{"role":"user","content":"x"}],"tools":[{"name":"a","description":"d","parameters":{"type":"object"}},{"type":"function","function":{"name":"b","description":"d","parameters":{}}}]}`, "", false},
		{"json mode", `{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}}`, "", false},
		{"neither", `{"max_tokens":3}`, "/", false},
		{"both", `{"prompt":"a","messages":[]}`, "/", false},
		{"empty prompt", `{"prompt":""}`, "prompt", false},
		{"prompt not string", `{"prompt":["a"]}`, "prompt", false},
		{"empty messages", `{"messages":[]}`, "messages", false},
		{"message without role", `{"messages":[{"content":"x"}]}`, "messages[0].role", false},
		{"message without content", `{"messages":[{"role":"user"}]}`, "messages[0].content", false},
		{"message not object", `{"messages":["hi"]}`, "messages[0]", false},
		{"temperature too high", `{"prompt":"a","temperature":5.5}`, "temperature", false},
		{"temperature string", `{"prompt":"a","temperature":"hot"}`, "temperature", false},
		{"top_k zero", `{"prompt":"a","top_k":0}`, "top_k", false},
		{"top_k fractional", `{"prompt":"a","top_k":2.5}`, "top_k", false},
		{"max_tokens zero", `{"prompt":"a","max_tokens":0}`, "max_tokens", false},
		{"seed zero", `{"prompt":"a","seed":0}`, "seed", false},
		{"stream not bool", `{"prompt":"a","stream":"yes"}`, "stream", false},
		{"tool without name", `{"messages":[{"role":"user","content":"x"}],"tools":[{"description":"d"}]}`, "tools[0].name", false},
		{"openai tool without name", `{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{}}]}`, "tools[0].function.name", false},
		{"bad response format", `{"prompt":"a","response_format":{"type":"xml"}}`, "response_format.type", false},
		{"schema type not a type", `{"prompt":"a","response_format":{"type":"json_schema","json_schema":{"type":"text"}}}`, "response_format.json_schema.type", false},
		{"schema properties not an object", `{"prompt":"a","response_format":{"type":"json_schema","json_schema":{"type":"object","properties":[]}}}`, "response_format.json_schema.properties", false},
		{"nested property type bad", `{"prompt":"a","response_format":{"type":"json_schema","json_schema":{"type":"object","properties":{"n":{"type":5}}}}}`, "response_format.json_schema.properties.n.type", false},
		{"wrapped schema required bad", `{"prompt":"a","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","required":"n"}}}}`, "response_format.json_schema.schema.required", false},
		{"json mode with stream", `{"prompt":"a","stream":true,"response_format":{"type":"json_object"}}`, "response_format", false},
		{"prompt too long", `{"prompt":"` + strings.Repeat("a", maxPromptChars+1) + `"}`, "prompt", true},
	})
}

func TestDecodeGenerationDefaults(t *testing.T) {
	in, err := decodeGeneration([]byte(`{"prompt":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	if in.MaxTokens != 256 || in.Temperature != 0.6 || in.TopP != nil || in.Seed != nil || in.Stream || in.Raw {
		t.Fatalf("defaults wrong: %+v", in)
	}
}

func TestDecodeTranslation(t *testing.T) {
	checkDecode(t, decodeTranslation, []decodeCase{
		{"codes", `{"text":"hello","source_lang":"en","target_lang":"fr"}`, "", false},
		{"names, default source", `{"text":"hello","target_lang":"French"}`, "", false},
		{"no text", `{"target_lang":"fr"}`, "text", false},
		{"empty text", `{"text":"","target_lang":"fr"}`, "text", false},
		{"no target", `{"text":"hello"}`, "target_lang", false},
		{"target not string", `{"text":"hello","target_lang":7}`, "target_lang", false},
	})
	in, _ := decodeTranslation([]byte(`{"text":"x","target_lang":"de"}`))
	if in.SourceLang != "en" {
		t.Fatalf("source_lang default = %q, want en", in.SourceLang)
	}
}

func TestDecodeImageJSON(t *testing.T) {
	checkDecode(t, decodeImageJSON, []decodeCase{
		{"bytes", `{"image":[137,80,78,71]}`, "", false},
		{"base64", `{"image":"iVBORw0KGgo="}`, "", false},
		{"data url", `{"image":"data:image/png;base64,iVBORw0KGgo"}`, "", false},
		{"missing", `{}`, "image", false},
		{"empty array", `{"image":[]}`, "image", false},
		{"out of range", `{"image":[1,256]}`, "image[1]", false},
		{"negative", `{"image":[-1]}`, "image[0]", false},
		{"fraction", `{"image":[1.5]}`, "image[0]", false},
		{"string items", `{"image":["a"]}`, "image", false},
		{"bad base64", `{"image":"***"}`, "image", false},
		{"object", `{"image":{}}`, "image", false},
	})
	in, err := decodeImageJSON([]byte(`{"image":[137,80,78,71]}`))
	if err != nil || string(in.Image) != "\x89PNG" {
		t.Fatalf("decoded %q, %v", in.Image, err)
	}
}
