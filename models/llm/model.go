package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/models/llm/ollamaserver"
)

// unloadTimeout bounds the request that unloads a closed model from Ollama.
const unloadTimeout = 10 * time.Second

// model is one catalog LLM loaded into Ollama. It implements
// engine.Generator.
type model struct {
	backend *Backend
	id      string
	srv     *ollamaserver.Server
	plan    requestPlan
	slots   *batch.Slots
	loras   *adapters // nil for a model without LoRA support

	closeOnce sync.Once
}

// The engine reaches a loaded model through these interfaces; the build
// fails if a method goes missing.
var (
	_ engine.Model     = (*model)(nil)
	_ engine.Generator = (*model)(nil)
)

// Generate implements engine.Generator. It holds one of the model's
// parallel slots while Ollama generates, streams each piece to emit as it
// arrives, and stops Ollama's generation when ctx ends or emit fails.
func (m *model) Generate(ctx context.Context, in *engine.GenerationInput, emit func(string) error) (*engine.GenerationOutput, error) {
	plan := m.plan
	if in.LoRA != "" {
		if m.loras == nil {
			return nil, &engine.Error{Kind: engine.KindLoRAUnsupported, Message: fmt.Sprintf("The model %s does not support LoRa inference", m.id)}
		}
		tag, err := m.loras.tag(ctx, m, in.LoRA)
		if err != nil {
			return nil, err
		}
		plan.Tag = tag
	}
	req, err := buildRequest(in, plan)
	if err != nil {
		return nil, err
	}
	release, err := m.slots.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()

	for attempt := 0; ; attempt++ {
		c := &collector{emit: emit, onThink: in.OnReasoning}
		err := m.run(ctx, req, c)
		if err == nil && !c.done {
			err = errEndedEarly
		}
		if err == nil {
			return c.output(req, in)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// A server that died before answering anything (the supervisor is
		// restarting it) gets one more try once it answers again: nothing
		// was sent to the caller yet, so a retry is invisible.
		if attempt == 0 && c.pieces == 0 && serverFailure(err) && m.srv.WaitReady(ctx) == nil {
			continue
		}
		return nil, m.generationError(err, in)
	}
}

// run sends one request to Ollama, feeding the stream into c.
func (m *model) run(ctx context.Context, req *ollamaRequest, c *collector) error {
	client := m.srv.Client()
	if req.Generate != nil {
		return client.Generate(ctx, req.Generate, func(r api.GenerateResponse) error {
			return c.add(r.Response, nil, r.Done, r.Metrics)
		})
	}
	return client.Chat(ctx, req.Chat, func(r api.ChatResponse) error {
		if err := c.think(r.Message.Thinking); err != nil {
			return err
		}
		return c.add(r.Message.Content, r.Message.ToolCalls, r.Done, r.Metrics)
	})
}

// collector gathers one streamed generation.
type collector struct {
	emit     func(string) error
	onThink  func(string) error // the stream's reasoning pieces; nil when not streamed
	text     strings.Builder
	thinking strings.Builder // what a reasoning model thought, kept apart from the answer
	pieces   int
	calls    []engine.ToolCall
	done     bool
	usage    engine.Usage
}

// think keeps a piece of reasoning and streams it when someone listens.
func (c *collector) think(piece string) error {
	if piece == "" {
		return nil
	}
	c.thinking.WriteString(piece)
	if c.onThink != nil {
		return c.onThink(piece)
	}
	return nil
}

func (c *collector) add(content string, calls []api.ToolCall, done bool, m api.Metrics) error {
	if content != "" {
		c.text.WriteString(content)
		c.pieces++
		if err := c.emit(content); err != nil {
			return err
		}
	}
	c.calls = append(c.calls, toolCalls(calls)...)
	if done {
		c.done = true
		c.usage = engine.Usage{PromptTokens: m.PromptEvalCount, CompletionTokens: m.EvalCount, TotalTokens: m.PromptEvalCount + m.EvalCount}
	}
	return nil
}

// output is the Workers AI result: the text, or in JSON mode the parsed
// object; tool calls from Ollama or read from an emulated-tools answer.
func (c *collector) output(req *ollamaRequest, in *engine.GenerationInput) (*engine.GenerationOutput, error) {
	out := &engine.GenerationOutput{Response: c.text.String(), Reasoning: c.thinking.String(), Usage: c.usage, ToolCalls: c.calls}
	if len(req.EmulatedTools) > 0 && len(c.calls) == 0 {
		if call, ok := parseEmulatedCall(c.text.String(), req.EmulatedTools); ok {
			out.Response, out.ToolCalls = "", []engine.ToolCall{call}
		}
	}
	if in.ResponseFormat != "" && req.Guard {
		v, err := guardResponse(c.text.String())
		if err != nil {
			return nil, err
		}
		out.Response = v
		return out, nil
	}
	if in.ResponseFormat != "" {
		var v any
		if err := json.Unmarshal([]byte(c.text.String()), &v); err != nil {
			// Ollama constrains the output to JSON, but max_tokens can cut it short.
			return nil, &engine.Error{Kind: engine.KindInternal, Message: "JSON Mode couldn't be met", Err: err}
		}
		out.Response = v
	}
	return out, nil
}

// serverFailure reports whether err is the server going away rather than
// Ollama refusing the request.
func serverFailure(err error) bool {
	var se api.StatusError
	if errors.As(err, &se) {
		return se.StatusCode >= http.StatusInternalServerError
	}
	return true
}

// generationError maps Ollama's failures onto the Workers AI error
// vocabulary.
func (m *model) generationError(err error, in *engine.GenerationInput) error {
	var se api.StatusError
	if !errors.As(err, &se) {
		return &engine.Error{Kind: engine.KindInternal, Message: "The Ollama server failed during generation", Err: err}
	}
	msg := strings.ToLower(se.ErrorMessage)
	switch {
	case strings.Contains(msg, "exceeds") && strings.Contains(msg, "context length"):
		field := "messages"
		if in.Prompt != "" {
			field = "prompt"
		}
		tooLarge := engine.TooLarge(field, "the prompt is longer than the model's context window of %d tokens", m.plan.Runner.NumCtx)
		tooLarge.Err = err
		return tooLarge
	case se.StatusCode == http.StatusServiceUnavailable && strings.Contains(msg, "busy"):
		busy := engine.Busy(time.Second) // Ollama's own queue (OLLAMA_MAX_QUEUE) is full
		busy.Err = err
		return busy
	case se.StatusCode == http.StatusNotFound:
		return &engine.Error{Kind: engine.KindNotInstalled, Err: err,
			Message: fmt.Sprintf("Model %s is not installed: run `edgeinfer pull %s`", m.id, m.id)}
	case se.StatusCode < http.StatusInternalServerError:
		return engine.BadInput("/", "Ollama refused the request: %s", se.ErrorMessage)
	}
	return &engine.Error{Kind: engine.KindInternal, Message: "The Ollama server failed during generation", Err: err}
}

// Close implements engine.Model: waiting requests fail, and a managed
// server unloads the model's tags that no other loaded model uses; the
// server stops with the last model.
func (m *model) Close() error {
	m.closeOnce.Do(func() {
		m.slots.Close()
		tags := []string{m.plan.Tag}
		if m.loras != nil {
			tags = append(tags, m.loras.created()...)
		}
		for _, tag := range tags {
			if m.backend.dropTag(tag) && m.srv.Managed() {
				m.unload(tag)
			}
		}
		m.backend.release()
	})
	return nil
}

// unload asks Ollama to free a tag's runner now (keep_alive 0).
func (m *model) unload(tag string) {
	ctx, cancel := context.WithTimeout(context.Background(), unloadTimeout)
	defer cancel()
	req := &api.GenerateRequest{Model: tag, KeepAlive: &api.Duration{Duration: 0}}
	if err := m.srv.Client().Generate(ctx, req, func(api.GenerateResponse) error { return nil }); err != nil && !isNotFound(err) {
		m.backend.logger().Warn("ollama: unloading a model failed", "tag", tag, "err", err)
	}
}
