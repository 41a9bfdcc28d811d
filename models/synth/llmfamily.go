package synth

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ollama/ollama/fs/ggml"
)

// LLMFamily is a synthetic chat family.
//
// Besides the synthetic Llama (llama.go), which answers in the Llama-2
// chat format, edgeinfer can generate chat models of three families that
// Ollama 0.17.4 runs on the CPU, each with its family's architecture,
// tokenizer, special tokens and Ollama chat template:
//
//	llama3  llama architecture (llama.cpp runner), byte-level BPE, Llama 3.1
//	        template with tool calling
//	qwen3   qwen3 architecture (q/k norms; Ollama's Go engine), byte-level
//	        BPE, Qwen3 template with thinking (<think>) and tool calls
//	        (<tool_call>)
//	gemma3  gemma3 architecture (Go engine), SentencePiece, Gemma 3 template
//
// Their weights are random but shaped (llmshape.go), so JSON-schema output,
// thinking blocks and tool calls finish within a few dozen tokens. A call's
// arguments are always {}; its function name is copied from the tools
// offered (as Ollama 0.17.4 prints them, Go structs, or as JSON), strongly
// for a name's first three tokens; with several tools the copy picks one.
//
// API: LLMFamilies lists the families and LookupLLMFamily finds one by name.
// A family's PresetDims gives its tiny (tests) and full (benchmarks)
// dimensions, WriteGGUF writes a model, Modelfile returns the Ollama
// Modelfile (FROM ./model.gguf, the template, its parameters) and
// Capabilities what Ollama reports for the created model. Each family is
// also a generator of this package under its ModelID (Generate writes
// model.gguf, Modelfile and config.json into the model directory, the
// layout ollamaserver.EnsureModel creates a model from); WriteLlama3GGUF,
// WriteQwen3GGUF and WriteGemma3GGUF write a preset's GGUF directly.
type LLMFamily struct {
	// Name is the family: "llama3", "qwen3" or "gemma3".
	Name string
	// ModelID is the generator's model ID (the models directory it writes).
	ModelID string
	// OllamaTag is the Ollama model name the family is created as.
	OllamaTag string
	// Arch is the GGUF general.architecture.
	Arch string
	// Template is the Ollama chat template (Go template syntax) and
	// TemplateSource says where it comes from.
	Template, TemplateSource string
	// Params are the Modelfile PARAMETER lines that go with the template
	// (stop strings, sampling defaults), without num_ctx.
	Params [][2]string
	// Capabilities are what Ollama reports for the created model.
	Capabilities []string

	arch     llmArch
	tiny     LLMDims
	full     LLMDims
	vocab    func(size int) (*llmVocab, error)
	spec     func(v *llmVocab) shapeSpec
	metadata func(d LLMDims, v *llmVocab) (ggml.KV, error)
}

//go:embed assets/ollama-templates/*.gotmpl
var ollamaTemplates embed.FS

func ollamaTemplate(name string) string {
	b, err := ollamaTemplates.ReadFile("assets/ollama-templates/" + name)
	if err != nil {
		panic(err)
	}
	// The files end with a newline; the templates do not.
	return strings.TrimSuffix(string(b), "\n")
}

var llmFamilies = []LLMFamily{llama3Family(), qwen3Family(), gemma3Family()}

func init() {
	for _, f := range llmFamilies {
		register(Generator{Model: f.ModelID, Generate: f.generate})
	}
}

// LLMFamilies lists the synthetic chat families.
func LLMFamilies() []LLMFamily { return append([]LLMFamily(nil), llmFamilies...) }

// LookupLLMFamily returns the family called name ("llama3", "qwen3", "gemma3").
func LookupLLMFamily(name string) (LLMFamily, bool) {
	for _, f := range llmFamilies {
		if f.Name == name {
			return f, true
		}
	}
	return LLMFamily{}, false
}

// PresetDims returns the family's dimensions for a preset.
func (f LLMFamily) PresetDims(p Preset) LLMDims {
	if p == Full {
		return f.full
	}
	return f.tiny
}

// ParameterCount counts a model's weights with dims d.
func (f LLMFamily) ParameterCount(d LLMDims) int {
	return d.parameterCount(f.arch.qkNorm(), f.arch.postNorms())
}

// WriteGGUF writes a model of the family with dims d and deterministic
// shaped weights to path.
func (f LLMFamily) WriteGGUF(ctx context.Context, path string, d LLMDims, seed uint64) error {
	v, err := f.vocab(d.Vocab)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	shape, err := newLLMShape(f.spec(v), d, llmSeed(seed))
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	kv, err := f.metadata(d, v)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	fileType := uint32(0)
	if d.F16 {
		fileType = 1
	}
	kv["general.architecture"] = f.Arch
	kv["general.name"] = "edgeinfer-" + f.Name + "-synthetic"
	kv["general.alignment"] = uint32(32)
	kv["general.file_type"] = fileType
	kv["general.parameter_count"] = uint64(f.ParameterCount(d))
	return shape.writeGGUF(ctx, path, kv)
}

// Modelfile is the Ollama Modelfile of a model with dims d whose GGUF is
// model.gguf next to it.
func (f LLMFamily) Modelfile(d LLMDims) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Synthetic %s (random, shaped weights; edgeinfer): output is not meaningful text.\n", f.Name)
	fmt.Fprintf(&b, "# Template: %s.\n", f.TemplateSource)
	b.WriteString("FROM ./model.gguf\n")
	fmt.Fprintf(&b, "TEMPLATE \"\"\"%s\"\"\"\n", f.Template)
	for _, p := range f.Params {
		fmt.Fprintf(&b, "PARAMETER %s %s\n", p[0], p[1])
	}
	fmt.Fprintf(&b, "PARAMETER num_ctx %d\n", min(d.Context, 4096))
	return b.String()
}

// WriteLlama3GGUF writes the Llama 3 family's preset p to path.
func WriteLlama3GGUF(ctx context.Context, path string, p Preset, seed uint64) error {
	f, _ := LookupLLMFamily("llama3")
	return f.WriteGGUF(ctx, path, f.PresetDims(p), seed)
}

// WriteQwen3GGUF writes the Qwen3 family's preset p to path.
func WriteQwen3GGUF(ctx context.Context, path string, p Preset, seed uint64) error {
	f, _ := LookupLLMFamily("qwen3")
	return f.WriteGGUF(ctx, path, f.PresetDims(p), seed)
}

// WriteGemma3GGUF writes the Gemma 3 family's preset p to path.
func WriteGemma3GGUF(ctx context.Context, path string, p Preset, seed uint64) error {
	f, _ := LookupLLMFamily("gemma3")
	return f.WriteGGUF(ctx, path, f.PresetDims(p), seed)
}

func llmSeed(seed uint64) uint64 {
	if seed == 0 {
		return 0x11a3b // default seed; any fixed value keeps runs reproducible
	}
	return seed
}

func (f LLMFamily) generate(ctx context.Context, dir string, o Options) error {
	d := f.PresetDims(o.Preset)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := f.WriteGGUF(ctx, filepath.Join(dir, "model.gguf"), d, o.Seed); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "Modelfile"), []byte(f.Modelfile(d)), 0o644); err != nil {
		return err
	}
	cfg := map[string]any{
		MarkerKey:         true,
		"family":          f.Name,
		"architecture":    f.Arch,
		"preset":          o.Preset,
		"dims":            d,
		"torch_dtype":     map[bool]string{true: "float16", false: "float32"}[d.F16],
		"parameter_count": f.ParameterCount(d),
		"ollama_tag":      f.OllamaTag,
		"capabilities":    f.Capabilities,
		"template_source": f.TemplateSource,
		"gguf":            "model.gguf",
		"modelfile":       "Modelfile",
		"seed":            llmSeed(o.Seed),
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), append(b, '\n'), 0o644)
}

// The corpus the vocabularies are built from.

var templateAction = regexp.MustCompile(`\{\{[^}]*\}\}`)

// templateText is a template's literal text (actions removed).
func templateText(tmpl string) string { return templateAction.ReplaceAllString(tmpl, "\n") }

// llmToolJSON are tool definitions as Ollama renders them into prompts.
var llmToolJSON = []string{
	`{"type":"function","function":{"name":"get_weather","description":"Get the current weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string","description":"The city"}},"required":["city"]}}}`,
	`{"type":"function","function":{"name":"get_current_weather","description":"Get the weather in a location","parameters":{"type":"object","properties":{"location":{"type":"string","description":"The city and state"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"]}}}`,
	`{"type":"function","function":{"name":"search","description":"Search the web","parameters":{"type":"object","properties":{"query":{"type":"string"}},"required":["query"]}}}`,
	`{"type":"function","function":{"name":"calculate","description":"Evaluate a math expression","parameters":{"type":"object","properties":{"expression":{"type":"string"},"n":{"type":"integer"}},"required":["expression"]}}}`,
}

// llmJSONSamples are outputs the shaped models write: tool calls and
// schema-constrained objects.
var llmJSONSamples = []string{
	`{"name":"get_weather","arguments":{}}`,
	`{"name":"get_weather","parameters":{}}`,
	`{"name": "get_weather", "arguments": {"city": "Paris"}}`,
	`{"name":"Ada","summary":"A short answer","n":3}`,
	`{"name": "Ada", "summary": "A short answer", "n": 3}`,
	`{"ok":true,"value":null,"items":[1,2,3],"text":"x"}`,
	`["a","b"] {} [] {"a":{"b":"c"}}`,
	`say "hello" or "yes", (maybe "no") = "x"`,
}

var llmExtraWords = strings.Fields(`weather current city location unit celsius fahrenheit query search
calculate expression math evaluate summary description function functions parameters arguments
properties required object string integer boolean null true false type enum items value name names
json answer question format respond response tool tools call calls assistant user system model
think thinking reasoning content message result date knowledge helpful capabilities original
variables dictionary following prompt given best proper provided signatures within tags return
web state paris london tokyo berlin today tomorrow hello world yes no maybe short long text
get set list find create update delete send read`)

// llmCorpus is the shared corpus plus a family's template text.
func llmCorpus(tmpl string, extra ...string) []string {
	words := append(append([]string(nil), llamaWords...), llmExtraWords...)
	corpus := []string{templateText(tmpl)}
	corpus = append(corpus, llmToolJSON...)
	corpus = append(corpus, llmJSONSamples...)
	corpus = append(corpus, extra...)
	for _, w := range words {
		corpus = append(corpus, w, " "+w)
	}
	for _, w := range llmExtraWords {
		corpus = append(corpus, "_"+w) // identifier parts, as in get_weather
	}
	for _, p := range []string{"the", "a", "of", "to", "in"} {
		for _, w := range words[:40] {
			corpus = append(corpus, p+" "+w+".", w+", "+p+"? "+w+"!\n\n"+w+":\n")
		}
	}
	return corpus
}

// Output shaping shared by the families (see llmshape.go for L and rules).

// jsonOpeners end by opening a JSON string; jsonClosers close one.
var (
	jsonOpeners = []string{`":"`, ` "`, `:"`, `="`, `("`}
	jsonClosers = []string{`"`, `",`, `","`, `"}`, `"}}`}
	digits      = strings.Split("0123456789", "")
)

// chatShaping is what the shared biases and rules need from a family.
type chatShaping struct {
	eos string // the end-of-turn token
	// starters are the tokens a reply (or thinking) starts after: no end
	// of turn right after them.
	starters []string
	// objectOpen is the bias of `{"` relative to L.
	objectOpen float64
	// never are tokens only rules bring (at levelNever otherwise).
	never []string
}

// Bias levels and rule strengths, relative to L.
const (
	levelChain  = 14   // a chain step: the next token is all but certain
	levelCloser = -4.5 // each closing quote's steady share, ~1 % per token
	levelEOS    = -3.5 // end of turn's steady share, ~3 % per token
	levelNever  = -40  // special tokens
)

// baseBias is a token's bias by kind: words that start with a space are
// favoured so output reads as words, merge-chain fragments and made-up
// filler words are disfavoured (so a full-size vocabulary holds about the
// same ordinary mass as a tiny one), control bytes and specials never come.
func baseBias(v *llmVocab, id int) float64 {
	text := v.text[id]
	switch v.kinds[id] {
	case tokKindSpecial:
		return levelNever
	case tokKindByte:
		if v.types[id] == tokByte { // SentencePiece byte fallback
			return levelNever
		}
		if c := text[0]; isLetter(c) {
			return -3
		} else if c > ' ' && c < 0x7f {
			return -1.5
		}
		return levelNever
	case tokKindPrefix:
		return -3
	case tokKindChunk:
		if len(text) == 1 && isLetter(text[0]) {
			return -3 // single letters (SentencePiece)
		}
		if text[0] == '_' {
			return -1 // identifier parts, as in get_weather
		}
	case tokKindFiller:
		return -6
	}
	switch {
	case strings.Trim(text, "\n") == "":
		return -4 // newlines
	case strings.Contains(text, "\n"):
		return -8 // punctuation with a newline, such as ":\n", which JSON keys must not take
	case !strings.ContainsFunc(text, func(r rune) bool { return r > ' ' }):
		return levelNever // runs of spaces and tabs
	case len(text) > 1 && text[0] == ' ' && isLetter(text[1]):
		return 1.5
	}
	return 0
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func (c chatShaping) levels(L float64) map[string]float64 {
	m := map[string]float64{c.eos: L + levelEOS, `{"`: L + c.objectOpen, `":"`: L - 6, ` "`: L - 6, ":": L - 7}
	for _, t := range jsonClosers {
		m[t] = L + levelCloser
	}
	m[`","`] = L + levelCloser + 1 // closes a value and opens the next key
	for _, t := range c.never {
		m[t] = levelNever
	}
	return m
}

// rules: JSON strings close after a word or two, integers after a digit
// or two, a tool call's `{"` `name` `":"` chain, and no end of turn right
// after a starter.
func (c chatShaping) rules(L float64, u func(string) float64) []shapeRule {
	set := func(on ruleOn, src, target string, level float64) shapeRule {
		return shapeRule{on, src, target, level - u(target)}
	}
	rs := []shapeRule{
		set(onCur, `{"`, "name", L+levelChain),
		set(onCur, "name", `":"`, L+levelChain),
		// A colon opens a string with ` "`, an opener the rules below know.
		set(onCur, `":`, ` "`, L+4), set(onCur, `:`, ` "`, L+2),
		shapeRule{onCur, `":`, "\n", -10}, shapeRule{onCur, `":`, `"`, -10},
		shapeRule{onCur, `:`, "\n", -10},
	}
	// Whatever opened it, a string two tokens after a colon is a value's
	// first word: close it.
	for _, colon := range []string{`:`, `":`} {
		for _, cl := range jsonClosers {
			rs = append(rs, set(onPrev2, colon, cl, L+2))
		}
	}
	for _, o := range jsonOpeners {
		for _, cl := range jsonClosers {
			level := L + 2
			if cl == `","` {
				level++ // the likelier close: objects have more keys
			}
			rs = append(rs,
				shapeRule{onCur, o, cl, -30}, // no empty strings
				set(onPrev, o, cl, level),
				set(onPrev2, o, cl, level),
			)
		}
	}
	for _, d := range digits {
		rs = append(rs, set(onCur, d, "}", L+1), set(onCur, d, ",", L-1))
	}
	for _, st := range c.starters {
		rs = append(rs, shapeRule{onCur, st, c.eos, -30}, shapeRule{onPrev, st, c.eos, -30})
	}
	return rs
}

// toolNameContext lets a call's `{"name":"` find the tool's name in the
// prompt: Ollama 0.17.4 prints a tool's function as a Go struct
// (`"function": {get_weather Get the…`, `{function <nil> {get_weather …`),
// later versions as JSON (`{"name":"get_weather",…`). The two tokens
// before the name are `":`, `>` or `name`, then ` {` or `":"`.
var toolNameContext = [][]string{{"name", `":`, ">"}, {`":"`, " {"}}

// requireTokens fails unless the vocabulary holds every token in texts.
func requireTokens(v *llmVocab, texts ...string) error {
	for _, t := range texts {
		if _, err := v.mustID(t); err != nil {
			return err
		}
	}
	return nil
}
