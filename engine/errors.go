package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Kind classifies an engine error. Every error that leaves the engine maps to
// exactly one Kind, and every Kind maps to one HTTP status and one Workers AI
// internal code in Describe.
type Kind int

const (
	KindInternal         Kind = iota // a bug or an unexpected backend failure
	KindUnknownModel                 // well-formed model ID that the catalog lacks
	KindInvalidModelName             // not a model ID at all
	KindBadInput                     // schema validation failed
	KindTooLarge                     // request or an input over a limit
	KindTimeout                      // deadline passed
	KindAborted                      // the caller went away
	KindCapacity                     // admission control refused the request
	KindNotInstalled                 // the model's artifacts or runtime are missing
	KindLoRAUnsupported              // lora on a model without adapters
	KindDeprecatedSDK                // an old binding wire format
	KindAuth                         // missing or wrong API token
	KindIncomplete                   // request lacks a header or body
	KindNotFound                     // no such route or resource
)

// codeInfo is the Workers AI face of a Kind.
type codeInfo struct {
	status int
	code   int
	name   string
}

var kindInfo = map[Kind]codeInfo{
	KindInternal:         {http.StatusInternalServerError, 5000, "InternalError"},
	KindUnknownModel:     {http.StatusBadRequest, 5007, "NoSuchModelError"},
	KindInvalidModelName: {http.StatusNotFound, 3042, "InvalidModelIdError"},
	KindBadInput:         {http.StatusBadRequest, 5006, "InvalidInputError"},
	KindTooLarge:         {http.StatusRequestEntityTooLarge, 3006, "RequestTooLargeError"},
	KindTimeout:          {http.StatusRequestTimeout, 3007, "TimeoutError"},
	KindAborted:          {http.StatusRequestTimeout, 3008, "AbortedError"},
	KindCapacity:         {http.StatusTooManyRequests, 3040, "OutOfCapacityError"},
	// Workers AI has no "not installed" case: 503 with code 5030 is edgeinfer's own.
	KindNotInstalled:    {http.StatusServiceUnavailable, 5030, "ModelNotInstalledError"},
	KindLoRAUnsupported: {http.StatusMethodNotAllowed, 5005, "LoRAUnsupportedError"},
	KindDeprecatedSDK:   {http.StatusMethodNotAllowed, 5019, "DeprecatedSDKVersionError"},
	KindAuth:            {http.StatusForbidden, 10000, "AuthenticationError"},
	KindIncomplete:      {http.StatusBadRequest, 3003, "IncompleteRequestError"},
	KindNotFound:        {http.StatusNotFound, 7000, "NotFoundError"},
}

// Error is the one error type the engine returns to its surfaces.
type Error struct {
	Kind Kind
	// Message is safe to show a client: it never holds file-system paths or tokens.
	Message string
	// Field names the offending input field for KindBadInput/KindTooLarge, if any.
	Field string
	// RetryAfter is set for KindCapacity.
	RetryAfter time.Duration
	// Err is the cause, kept for logs and errors.Is; never shown to clients.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error of the given kind.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// BadInput reports a schema violation at a field path such as "text[3]".
func BadInput(field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = fmt.Sprintf("'%s': %s", field, msg)
	}
	return &Error{Kind: KindBadInput, Field: field, Message: "AiError: Bad input: " + msg}
}

// TooLarge reports an input over a size limit.
func TooLarge(field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = fmt.Sprintf("'%s': %s", field, msg)
	}
	return &Error{Kind: KindTooLarge, Field: field, Message: "Request is too large: " + msg}
}

// OverTokenLimit is the 413 for a text over a model's token limit sent
// with truncate_inputs false.
func OverTokenLimit(field string, tokens, limit int) *Error {
	return TooLarge(field, "%d tokens is over the model's limit of %d (send truncate_inputs: true to truncate)", tokens, limit)
}

// Busy reports that admission control refused a request.
func Busy(retryAfter time.Duration) *Error {
	return &Error{Kind: KindCapacity, Message: "Capacity temporarily exceeded, please try again.", RetryAfter: retryAfter}
}

// Internal wraps an unexpected failure; the client sees only a generic message.
func Internal(err error) *Error {
	return &Error{Kind: KindInternal, Message: "Internal error", Err: err}
}

// Described is the client-facing form of an error.
type Described struct {
	Status     int
	Code       int
	Name       string
	Message    string
	RetryAfter time.Duration
}

// classify turns any error into an *Error: context errors become
// timeout/aborted, anything unknown is internal.
func classify(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: KindTimeout, Message: "Request timeout", Err: err}
	case errors.Is(err, context.Canceled):
		return &Error{Kind: KindAborted, Message: "Request was aborted", Err: err}
	default:
		return Internal(err)
	}
}

// Describe maps any error to its HTTP status, Workers AI code, name and
// message.
func Describe(err error) Described {
	if err == nil {
		return Described{Status: http.StatusOK}
	}
	e := classify(err)
	info, ok := kindInfo[e.Kind]
	if !ok {
		info = kindInfo[KindInternal]
	}
	return Described{Status: info.status, Code: info.code, Name: info.name, Message: e.Message, RetryAfter: e.RetryAfter}
}

// KindOf returns the Kind Describe would assign to err.
func KindOf(err error) Kind { return classify(err).Kind }
