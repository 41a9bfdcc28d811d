package engine

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Message is one chat turn.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	// Images are the images a message carries (OpenAI image_url parts, or
	// the request's top-level image on its last user message).
	Images [][]byte `json:"-"`
}

// Tool is a function the model may call, normalized from either Workers AI
// shape ({name, description, parameters} or {type:"function", function:{…}}).
type Tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
}

// ToolCall is a call the model made; Arguments is an object, as Workers AI
// returns it (not a JSON string as OpenAI does).
type ToolCall struct {
	Name      string         `json:"name"`
	Arguments map[string]any `json:"arguments"`
}

// GenerationInput is a validated text-generation request. Optional sampling
// parameters are nil when the caller left them out.
type GenerationInput struct {
	Prompt            string
	Messages          []Message
	Raw               bool
	Stream            bool
	MaxTokens         int
	Temperature       float64
	TopP              *float64
	TopK              *int
	Seed              *int64
	RepetitionPenalty *float64
	FrequencyPenalty  *float64
	PresencePenalty   *float64
	LoRA              string
	Tools             []Tool
	// Images is the request's top-level image (vision models): it goes with
	// the prompt, or with the last user message.
	Images [][]byte
	// OnReasoning, set by the engine for a stream, receives each piece of
	// reasoning as it arrives; nil when nobody streams it (the reasoning
	// then only comes back whole, in GenerationOutput.Reasoning).
	OnReasoning func(piece string) error `json:"-"`
	// Think asks a reasoning model to think first: nil leaves the model's
	// default; true/false from chat_template_kwargs.enable_thinking; an
	// effort ("low", "medium", "high") from reasoning_effort or
	// reasoning.effort.
	Think any
	// ResponseFormat is "", "json_object" or "json_schema" (then Schema is set).
	ResponseFormat string
	Schema         json.RawMessage
}

// Usage counts tokens the way Workers AI reports them.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// GenerationOutput is the Workers AI text-generation result. Response is a
// string, or the parsed object in JSON mode.
type GenerationOutput struct {
	Response any `json:"response"`
	// Reasoning is what a reasoning model thought before answering, when
	// it thought (OpenAI routes: message.reasoning_content).
	Reasoning string     `json:"reasoning_content,omitempty"`
	Usage     Usage      `json:"usage"`
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
}

// Generator is implemented by text-generation backends. Generate calls emit
// for every generated piece in order (emit returning an error stops
// generation) and returns the complete output.
type Generator interface {
	Generate(ctx context.Context, in *GenerationInput, emit func(piece string) error) (*GenerationOutput, error)
}

// StreamEvent is one event of a streamed generation: a piece, then a final
// event with Usage, or an Err that ends the stream.
type StreamEvent struct {
	Response string
	// ToolCalls come with the final (Usage) event: the calls the model
	// made, parsed once its output is complete.
	ToolCalls []ToolCall
	// Reasoning is a piece of what a reasoning model thinks, streamed
	// before its answer; an event carries either Reasoning or Response.
	Reasoning string
	Usage     *Usage
	Err       error
}

// TextStream is what Run returns for stream:true. Events is closed after
// the final event; the producer stops when the Run context is cancelled, so a
// consumer that goes away must cancel that context and drain Events.
type TextStream struct {
	Events <-chan StreamEvent
}

// onClose returns a stream with the same events that calls done once the
// producer has closed it.
func (s *TextStream) onClose(done func()) *TextStream {
	ch := make(chan StreamEvent)
	go func() {
		defer done()
		defer close(ch)
		for ev := range s.Events {
			ch <- ev
		}
	}()
	return &TextStream{Events: ch}
}

// Defaults for text generation (Workers AI schema).
const (
	DefaultMaxTokens   = 256
	DefaultTemperature = 0.6
	maxPromptChars     = 131072
)

// generationLimits are one model's defaults and bounds for a generation
// request, from its catalog entry.
type generationLimits struct {
	maxTokens     int     // default max_tokens
	temperature   float64 // default temperature
	contextWindow int     // max_tokens may not exceed it; 0: no bound known
}

// generationLimitsOf reads an entry's defaults (max_tokens, temperature)
// and its context_window property; absent ones keep Workers AI's common
// defaults (256 tokens, temperature 0.6).
func generationLimitsOf(e *Entry) generationLimits {
	lim := generationLimits{maxTokens: DefaultMaxTokens, temperature: DefaultTemperature}
	if e == nil {
		return lim
	}
	switch v := e.Defaults["max_tokens"].(type) {
	case int:
		lim.maxTokens = v
	case float64:
		lim.maxTokens = int(v)
	}
	switch v := e.Defaults["temperature"].(type) {
	case int:
		lim.temperature = float64(v)
	case float64:
		lim.temperature = v
	}
	if n, err := strconv.Atoi(e.Properties["context_window"]); err == nil && n > 0 {
		lim.contextWindow = n
	}
	return lim
}

// decodeGeneration decodes a request with the common defaults and no known
// context window.
func decodeGeneration(raw []byte) (*GenerationInput, error) {
	return decodeGenerationWith(raw, generationLimitsOf(nil))
}

func decodeGenerationWith(raw []byte, lim generationLimits) (in *GenerationInput, err error) {
	f, err := parseObject("", raw)
	if err != nil {
		return nil, err
	}
	if f.has("requests") {
		return nil, BadInput("requests", "batch requests need the queueRequest option")
	}
	in = &GenerationInput{MaxTokens: lim.maxTokens, Temperature: lim.temperature}
	defer func() {
		// Checked last, so a bad field elsewhere is named first.
		if err == nil && lim.contextWindow > 0 && in.MaxTokens > lim.contextWindow {
			in, err = nil, BadInput("max_tokens", "must be at most the model's context window of %d tokens, got %d", lim.contextWindow, in.MaxTokens)
		}
	}()
	hasPrompt, hasMessages, hasInput := f.has("prompt"), f.has("messages"), f.has("input")
	switch {
	case hasPrompt && hasMessages, hasInput && (hasPrompt || hasMessages):
		return nil, BadInput("/", "provide one of 'prompt', 'messages' or 'input', not several")
	case hasInput:
		if in.Messages, err = decodeResponsesInput(f); err != nil {
			return nil, err
		}
	case !hasPrompt && !hasMessages:
		return nil, BadInput("/", "one of 'prompt' or 'messages' is required")
	case hasPrompt:
		if in.Prompt, _, err = f.str("prompt"); err != nil {
			return nil, err
		}
		if in.Prompt == "" {
			return nil, BadInput("prompt", "must not be empty")
		}
		if len([]rune(in.Prompt)) > maxPromptChars {
			return nil, TooLarge("prompt", "must be at most %d characters", maxPromptChars)
		}
	default:
		if in.Messages, err = decodeMessages(f); err != nil {
			return nil, err
		}
	}
	if err := decodeSampling(f, in); err != nil {
		return nil, err
	}
	if in.Tools, err = decodeTools(f); err != nil {
		return nil, err
	}
	if err := decodeResponseFormat(f, in); err != nil {
		return nil, err
	}
	if in.Think, err = decodeThink(f); err != nil {
		return nil, err
	}
	if f.has("image") {
		img, err := decodeImageValue("image", f.m["image"])
		if err != nil {
			return nil, err
		}
		if err := checkIsImage("image", img); err != nil {
			return nil, err
		}
		in.Images = [][]byte{img}
	}
	return in, nil
}

func decodeMessages(f *fields) ([]Message, error) {
	items, _, err := f.array("messages")
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, BadInput("messages", "must contain at least 1 message")
	}
	msgs := make([]Message, len(items))
	for i, item := range items {
		path := indexPath("messages", i)
		mf, err := parseObject(path, item)
		if err != nil {
			return nil, err
		}
		role, ok, err := mf.str("role")
		if err != nil {
			return nil, err
		}
		if !ok || role == "" {
			return nil, BadInput(path+".role", "is required")
		}
		if !mf.has("content") {
			return nil, BadInput(path+".content", "is required")
		}
		msg, err := decodeContent(path+".content", mf.m["content"])
		if err != nil {
			return nil, err
		}
		if len([]rune(msg.Content)) > maxPromptChars {
			return nil, TooLarge(path+".content", "must be at most %d characters", maxPromptChars)
		}
		msg.Role = role
		msgs[i] = msg
	}
	return msgs, nil
}

func decodeSampling(f *fields, in *GenerationInput) error {
	var err error
	if in.Raw, err = f.boolean("raw", false); err != nil {
		return err
	}
	if in.Stream, err = f.boolean("stream", false); err != nil {
		return err
	}
	if v, ok, err := f.integer("max_tokens", 1, 1<<31-1); err != nil {
		return err
	} else if ok {
		in.MaxTokens = int(v)
	}
	// The OpenAI-shaped models' name for it (max_tokens is deprecated
	// there); it wins when both are sent.
	if v, ok, err := f.integer("max_completion_tokens", 1, 1<<31-1); err != nil {
		return err
	} else if ok {
		in.MaxTokens = int(v)
	}
	if v, ok, err := f.number("temperature", 0, 5); err != nil {
		return err
	} else if ok {
		in.Temperature = v
	}
	if in.TopP, err = optNumber(f, "top_p", 0, 2); err != nil {
		return err
	}
	if v, ok, err := f.integer("top_k", 1, 50); err != nil {
		return err
	} else if ok {
		k := int(v)
		in.TopK = &k
	}
	if v, ok, err := f.integer("seed", 1, 9999999999); err != nil {
		return err
	} else if ok {
		in.Seed = &v
	}
	if in.RepetitionPenalty, err = optNumber(f, "repetition_penalty", 0, 2); err != nil {
		return err
	}
	if in.FrequencyPenalty, err = optNumber(f, "frequency_penalty", 0, 2); err != nil {
		return err
	}
	if in.PresencePenalty, err = optNumber(f, "presence_penalty", 0, 2); err != nil {
		return err
	}
	if s, ok, err := f.str("lora"); err != nil {
		return err
	} else if ok {
		in.LoRA = s
	}
	return nil
}

func optNumber(f *fields, name string, lo, hi float64) (*float64, error) {
	v, ok, err := f.number(name, lo, hi)
	if err != nil || !ok {
		return nil, err
	}
	return &v, nil
}

func decodeTools(f *fields) ([]Tool, error) {
	items, ok, err := f.array("tools")
	if err != nil || !ok {
		return nil, err
	}
	tools := make([]Tool, len(items))
	for i, item := range items {
		path := indexPath("tools", i)
		tf, err := parseObject(path, item)
		if err != nil {
			return nil, err
		}
		if tf.has("function") { // OpenAI shape {type:"function", function:{…}}
			if tf, err = parseObject(path+".function", tf.m["function"]); err != nil {
				return nil, err
			}
		}
		name, ok, err := tf.str("name")
		if err != nil {
			return nil, err
		}
		if !ok || name == "" {
			return nil, BadInput(tf.path("name"), "is required")
		}
		desc, _, err := tf.str("description")
		if err != nil {
			return nil, err
		}
		params := tf.m["parameters"]
		if tf.has("parameters") && jsonKind(params) != "an object" {
			return nil, BadInput(tf.path("parameters"), "must be an object")
		}
		tools[i] = Tool{Name: name, Description: desc, Parameters: params}
	}
	return tools, nil
}

func decodeResponseFormat(f *fields, in *GenerationInput) error {
	if !f.has("response_format") {
		return nil
	}
	rf, err := parseObject("response_format", f.m["response_format"])
	if err != nil {
		return err
	}
	typ, _, err := rf.str("type")
	if err != nil {
		return err
	}
	switch typ {
	case "json_object":
	case "json_schema":
		if !rf.has("json_schema") || jsonKind(rf.m["json_schema"]) != "an object" {
			return BadInput("response_format.json_schema", "is required for type json_schema and must be an object")
		}
		if err := checkJSONSchema("response_format.json_schema", rf.m["json_schema"]); err != nil {
			return err
		}
		in.Schema = rf.m["json_schema"]
	default:
		return BadInput("response_format.type", "must be \"json_object\" or \"json_schema\", got %q", typ)
	}
	if in.Stream {
		return BadInput("response_format", "JSON mode does not support streaming")
	}
	in.ResponseFormat = typ
	return nil
}

// decodeContent reads a message's content: a string, or an array of parts
// ({type: "text", text} and {type: "image_url", image_url: {url}} with a
// data: URL; edgeinfer fetches nothing, so an http(s) URL is refused).
func decodeContent(path string, raw json.RawMessage) (Message, error) {
	switch jsonKind(raw) {
	case "a string":
		var s string
		err := json.Unmarshal(raw, &s)
		return Message{Content: s}, err
	case "null":
		return Message{}, nil // an assistant turn that only called tools
	case "an array":
	default:
		return Message{}, BadInput(path, "must be a string or an array of content parts, got %s", jsonKind(raw))
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil {
		return Message{}, BadInput(path, "must be an array of content parts")
	}
	var msg Message
	var text strings.Builder
	for j, part := range parts {
		pp := indexPath(path, j)
		pf, err := parseObject(pp, part)
		if err != nil {
			return Message{}, err
		}
		typ, _, err := pf.str("type")
		if err != nil {
			return Message{}, err
		}
		switch typ {
		case "text":
			t, _, err := pf.str("text")
			if err != nil {
				return Message{}, err
			}
			text.WriteString(t)
		case "image_url":
			img, err := decodeImageURL(pp+".image_url", pf)
			if err != nil {
				return Message{}, err
			}
			msg.Images = append(msg.Images, img)
		default:
			return Message{}, BadInput(pp+".type", "must be \"text\" or \"image_url\", got %q", typ)
		}
	}
	msg.Content = text.String()
	return msg, nil
}

// decodeImageURL reads {image_url: {url}} (or image_url as the URL string
// itself), which must be a data: URL of an image.
func decodeImageURL(path string, pf *fields) ([]byte, error) {
	var url string
	switch jsonKind(pf.m["image_url"]) {
	case "a string":
		url, _, _ = pf.str("image_url")
	case "an object":
		uf, err := parseObject(path, pf.m["image_url"])
		if err != nil {
			return nil, err
		}
		if url, _, err = uf.str("url"); err != nil {
			return nil, err
		}
		path += ".url"
	default:
		return nil, BadInput(path, "must be {url: \"data:image/…;base64,…\"}")
	}
	if !strings.HasPrefix(url, "data:") {
		return nil, BadInput(path, "must be a data: URL (data:image/png;base64,…); edgeinfer fetches no URLs")
	}
	img, err := decodeBase64(url)
	if err != nil {
		return nil, BadInput(path, "is not valid base64: %v", err)
	}
	if err := checkIsImage(path, img); err != nil {
		return nil, err
	}
	return img, nil
}

// checkIsImage refuses bytes that are not an image, by their signature.
func checkIsImage(path string, b []byte) error {
	if len(b) == 0 {
		return BadInput(path, "must not be empty")
	}
	if ct := http.DetectContentType(b); !strings.HasPrefix(ct, "image/") {
		return BadInput(path, "is not an image (the bytes look like %s)", ct)
	}
	return nil
}

// reasoningEfforts are the efforts reasoning_effort and reasoning.effort
// take.
var reasoningEfforts = []string{"low", "medium", "high"}

// decodeThink reads the reasoning switches Workers AI models take:
// chat_template_kwargs.enable_thinking (Qwen3, GLM), reasoning_effort
// (OpenAI-shaped models; null leaves the default) and reasoning.effort
// (gpt-oss's Responses shape).
func decodeThink(f *fields) (any, error) {
	var think any
	if f.has("chat_template_kwargs") {
		kw, err := parseObject("chat_template_kwargs", f.m["chat_template_kwargs"])
		if err != nil {
			return nil, err
		}
		if kw.has("enable_thinking") {
			on, err := kw.boolean("enable_thinking", true)
			if err != nil {
				return nil, err
			}
			think = on
		}
	}
	effort := func(path string, raw json.RawMessage) error {
		if jsonKind(raw) == "null" {
			return nil
		}
		var e string
		if json.Unmarshal(raw, &e) != nil || !slices.Contains(reasoningEfforts, e) {
			return BadInput(path, "must be one of %v or null", reasoningEfforts)
		}
		think = e
		return nil
	}
	if f.has("reasoning_effort") {
		if err := effort("reasoning_effort", f.m["reasoning_effort"]); err != nil {
			return nil, err
		}
	}
	if f.has("reasoning") {
		rf, err := parseObject("reasoning", f.m["reasoning"])
		if err != nil {
			return nil, err
		}
		if rf.has("effort") {
			if err := effort("reasoning.effort", rf.m["effort"]); err != nil {
				return nil, err
			}
		}
	}
	return think, nil
}

// decodeResponsesInput reads the Responses-API shape gpt-oss takes:
// input (a string, or an array of {role, content} items whose content is a
// string or input_text/output_text parts) and instructions (a system
// message before it).
func decodeResponsesInput(f *fields) ([]Message, error) {
	var msgs []Message
	if f.has("instructions") {
		sys, _, err := f.str("instructions")
		if err != nil {
			return nil, err
		}
		if sys != "" {
			msgs = append(msgs, Message{Role: "system", Content: sys})
		}
	}
	raw := f.m["input"]
	switch jsonKind(raw) {
	case "a string":
		text, _, err := f.str("input")
		if err != nil {
			return nil, err
		}
		if text == "" {
			return nil, BadInput("input", "must not be empty")
		}
		return append(msgs, Message{Role: "user", Content: text}), nil
	case "an array":
	default:
		return nil, BadInput("input", "must be a string or an array of {role, content} items, got %s", jsonKind(raw))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || len(items) == 0 {
		return nil, BadInput("input", "must be a non-empty array of {role, content} items")
	}
	for i, item := range items {
		path := indexPath("input", i)
		itf, err := parseObject(path, item)
		if err != nil {
			return nil, err
		}
		role, _, err := itf.str("role")
		if err != nil {
			return nil, err
		}
		if role == "" {
			return nil, BadInput(path+".role", "is required")
		}
		msg, err := decodeResponsesContent(path+".content", itf.m["content"])
		if err != nil {
			return nil, err
		}
		if len([]rune(msg)) > maxPromptChars {
			return nil, TooLarge(path+".content", "must be at most %d characters", maxPromptChars)
		}
		msgs = append(msgs, Message{Role: role, Content: msg})
	}
	return msgs, nil
}

// decodeResponsesContent reads a Responses item's content: a string, or
// input_text / output_text parts.
func decodeResponsesContent(path string, raw json.RawMessage) (string, error) {
	if jsonKind(raw) == "a string" {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return "", BadInput(path, "must be a string or an array of input_text parts")
	}
	var b strings.Builder
	for j, p := range parts {
		switch p.Type {
		case "input_text", "output_text", "text":
			b.WriteString(p.Text)
		default:
			return "", BadInput(indexPath(path, j)+".type", "must be \"input_text\" or \"output_text\", got %q", p.Type)
		}
	}
	return b.String(), nil
}
