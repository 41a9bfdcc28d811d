package engine

import (
	"errors"
	"testing"
)

func TestDecodeResolvesAliasesAndValidatesWithoutABackend(t *testing.T) {
	eng, err := New(mustCatalog(t), DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	entry, value, err := eng.Decode("@cf/meta/llama-2-13b-chat-awq", Input{JSON: []byte(`{"prompt":"hi","seed":7}`)})
	if err != nil {
		t.Fatal(err)
	}
	if entry.ID != "@hf/thebloke/llama-2-13b-chat-awq" {
		t.Fatalf("alias resolved to %q", entry.ID)
	}
	gen, ok := value.(*GenerationInput)
	if !ok || gen.Prompt != "hi" || gen.Seed == nil || *gen.Seed != 7 {
		t.Fatalf("value = %#v", value)
	}
	if _, _, err := eng.Decode("@cf/baai/bge-small-en-v1.5", Input{JSON: []byte(`{"text":[]}`)}); KindOf(err) != KindBadInput {
		t.Fatalf("empty text list: err = %v, want bad input", err)
	}
	if _, _, err := eng.Decode("@cf/nobody/nothing", Input{JSON: []byte(`{}`)}); KindOf(err) != KindUnknownModel {
		t.Fatalf("unknown model: err = %v", err)
	}
}

func TestInFieldReRootsNestedErrors(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantField string
		wantMsg   string
	}{
		{"named field", BadInput("text", "must not be empty"), "requests[3].text",
			"AiError: Bad input: 'requests[3].text': must not be empty"},
		{"indexed field", BadInput("text[2]", "must be a string, got a number"), "requests[3].text[2]",
			"AiError: Bad input: 'requests[3].text[2]': must be a string, got a number"},
		{"whole item", BadInput("/", "expected a JSON object"), "requests[3]",
			"AiError: Bad input: 'requests[3]': expected a JSON object"},
		{"no field", BadInput("", "binding body must be an object"), "requests[3]",
			"AiError: Bad input: 'requests[3]': binding body must be an object"},
		{"too large", TooLarge("text[0]", "over 512 tokens"), "requests[3].text[0]",
			"Request is too large: 'requests[3].text[0]': over 512 tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e *Error
			if !errors.As(InField(tt.err, "requests[3]"), &e) {
				t.Fatal("not an *Error")
			}
			if e.Field != tt.wantField || e.Message != tt.wantMsg || e.Kind != KindOf(tt.err) {
				t.Fatalf("got field %q message %q kind %v", e.Field, e.Message, e.Kind)
			}
		})
	}
	other := Internal(errors.New("boom"))
	if InField(other, "requests[0]") != error(other) {
		t.Fatal("non-input errors must pass through unchanged")
	}
}
