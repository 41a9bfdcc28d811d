package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestDescribeMapsEveryKind(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   int
	}{
		{"unknown model", &Error{Kind: KindUnknownModel}, 400, 5007},
		{"invalid model name", &Error{Kind: KindInvalidModelName}, 404, 3042},
		{"bad input", BadInput("text", "must not be empty"), 400, 5006},
		{"too large", TooLarge("text[0]", "over 512 tokens"), 413, 3006},
		{"capacity", Busy(2 * time.Second), 429, 3040},
		{"not installed", &Error{Kind: KindNotInstalled}, 503, 5030},
		{"lora", &Error{Kind: KindLoRAUnsupported}, 405, 5005},
		{"deprecated sdk", &Error{Kind: KindDeprecatedSDK}, 405, 5019},
		{"auth", &Error{Kind: KindAuth}, 403, 10000},
		{"incomplete", &Error{Kind: KindIncomplete}, 400, 3003},
		{"deadline", fmt.Errorf("waiting: %w", context.DeadlineExceeded), 408, 3007},
		{"cancelled", context.Canceled, 408, 3008},
		{"wrapped engine error", fmt.Errorf("outer: %w", BadInput("pooling", "x")), 400, 5006},
		{"anything else", errors.New("segfault in the runtime"), 500, 5000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Describe(tt.err)
			if d.Status != tt.status || d.Code != tt.code {
				t.Fatalf("Describe = %d/%d, want %d/%d", d.Status, d.Code, tt.status, tt.code)
			}
			if d.Status == http.StatusInternalServerError && d.Message != "Internal error" {
				t.Fatalf("internal error leaks its cause: %q", d.Message)
			}
		})
	}
}

func TestBadInputNamesTheField(t *testing.T) {
	d := Describe(BadInput("messages[2].content", "is required"))
	want := "AiError: Bad input: 'messages[2].content': is required"
	if d.Message != want {
		t.Fatalf("message = %q, want %q", d.Message, want)
	}
}

func TestBusyCarriesRetryAfter(t *testing.T) {
	if d := Describe(Busy(1500 * time.Millisecond)); d.RetryAfter != 1500*time.Millisecond {
		t.Fatalf("RetryAfter = %v", d.RetryAfter)
	}
}
