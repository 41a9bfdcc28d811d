package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/edgeinfer/edgeinfer/engine"
)

// writeSSE streams a generation in the Workers AI format: one
// `data: {"response":"…"}` event per piece, the tool calls if the model made
// any (`data: {"response":"","tool_calls":[…]}`), a final event with usage,
// then `data: [DONE]`. Each event is flushed. If the client goes away, cancel
// stops the generation; the remaining events are drained so the producer
// never blocks. An error mid-stream becomes an `event: error` and ends the
// stream.
func writeSSE(w http.ResponseWriter, stream *engine.TextStream, cancel func()) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	defer func() {
		cancel()
		for range stream.Events {
		}
	}()
	write := func(event string, payload []byte) bool {
		var buf []byte
		if event != "" {
			buf = append(buf, "event: "+event+"\n"...)
		}
		buf = append(append(append(buf, "data: "...), payload...), "\n\n"...)
		if _, err := w.Write(buf); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	for ev := range stream.Events {
		switch {
		case ev.Err != nil:
			d := engine.Describe(ev.Err)
			payload, _ := json.Marshal(map[string]any{"errors": []envelopeError{{Code: d.Code, Message: d.Message}}})
			write("error", payload)
			return
		case ev.Usage != nil:
			// A legacy-schema model's calls come whole, before the usage
			// event, in the non-streamed answer's shape ({name, arguments}).
			if len(ev.ToolCalls) > 0 {
				payload, _ := json.Marshal(struct {
					Response  string            `json:"response"`
					ToolCalls []engine.ToolCall `json:"tool_calls"`
				}{"", ev.ToolCalls})
				if !write("", payload) {
					return
				}
			}
			payload, _ := json.Marshal(struct {
				Response string        `json:"response"`
				Usage    *engine.Usage `json:"usage"`
			}{"", ev.Usage})
			if !write("", payload) || !write("", []byte("[DONE]")) {
				return
			}
		case ev.Reasoning != "":
			// Workers AI's own stream carries the answer; the reasoning comes
			// whole in a non-streamed answer and streamed on the OpenAI routes.
			continue
		default:
			payload, _ := json.Marshal(struct {
				Response string `json:"response"`
			}{ev.Response})
			if !write("", payload) {
				return
			}
		}
	}
}
