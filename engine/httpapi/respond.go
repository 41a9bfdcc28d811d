package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/edgeinfer/edgeinfer/engine"
)

// contentTypeJSON is written exactly so: workerd's Ai class returns parsed
// JSON only for this content type and hands anything else to the Worker as
// a raw stream.
const contentTypeJSON = "application/json"

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		slog.Error("encoding a response failed", "err", err)
		status, body = http.StatusInternalServerError, []byte(`{"success":false,"errors":[{"code":5000,"message":"Internal error"}],"result":{},"messages":[]}`)
	}
	w.Header().Set("Content-Type", contentTypeJSON)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// envelopeError is one entry of the REST envelope's errors list.
type envelopeError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// envelope is the Cloudflare v4 API response wrapper.
type envelope struct {
	Result     any             `json:"result"`
	Success    bool            `json:"success"`
	Errors     []envelopeError `json:"errors"`
	Messages   []string        `json:"messages"`
	ResultInfo *resultInfo     `json:"result_info,omitempty"`
}

type resultInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
}

func writeResult(w http.ResponseWriter, result any) {
	writeJSON(w, http.StatusOK, envelope{Result: result, Success: true, Errors: []envelopeError{}, Messages: []string{}})
}

// setRetryAfter sets Retry-After in whole seconds, at least 1.
func setRetryAfter(w http.ResponseWriter, d engine.Described) {
	if d.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.RetryAfter.Seconds()))))
	}
}

// writeEnvelopeError answers in the REST envelope.
func writeEnvelopeError(w http.ResponseWriter, err error) {
	d := engine.Describe(err)
	setRetryAfter(w, d)
	writeJSON(w, d.Status, envelope{Result: struct{}{}, Success: false,
		Errors: []envelopeError{{Code: d.Code, Message: d.Message}}, Messages: []string{}})
}

// bindingError is the body workerd's Ai class parses into an
// InferenceUpstreamError ("${internalCode}: ${description}").
type bindingError struct {
	InternalCode int    `json:"internalCode"`
	Message      string `json:"message"`
	Name         string `json:"name"`
	Description  string `json:"description"`
}

func writeBindingError(w http.ResponseWriter, err error) {
	d := engine.Describe(err)
	setRetryAfter(w, d)
	writeJSON(w, d.Status, bindingError{InternalCode: d.Code, Message: d.Message, Name: d.Name, Description: d.Message})
}

// openAIError is the error body the OpenAI SDKs parse.
type openAIError struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Param   any    `json:"param"`
		Code    any    `json:"code"`
	} `json:"error"`
}

func writeOpenAIError(w http.ResponseWriter, err error) {
	d := engine.Describe(err)
	setRetryAfter(w, d)
	var body openAIError
	body.Error.Message = d.Message
	body.Error.Code = d.Code
	switch {
	case d.Status == http.StatusTooManyRequests:
		body.Error.Type = "rate_limit_error"
	case d.Status == http.StatusForbidden:
		body.Error.Type = "authentication_error"
	case d.Status < 500:
		body.Error.Type = "invalid_request_error"
	default:
		body.Error.Type = "server_error"
	}
	var e *engine.Error
	if errors.As(err, &e) && e.Field != "" {
		body.Error.Param = e.Field
	}
	writeJSON(w, d.Status, body)
}
