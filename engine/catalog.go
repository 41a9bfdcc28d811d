package engine

import (
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed catalogdata/catalog.yaml catalogdata/schemas/*.json
var catalogFS embed.FS

// Task is a Workers AI task, by edgeinfer's slug ("text-embeddings").
type Task string

const (
	TaskTextGeneration      Task = "text-generation"
	TaskTextEmbeddings      Task = "text-embeddings"
	TaskImageClassification Task = "image-classification"
	TaskTranslation         Task = "translation"
	TaskTextClassification  Task = "text-classification"
)

// TakesBinaryBody reports whether a task's input may be the raw image or
// audio bytes as the request body.
func (t Task) TakesBinaryBody() bool {
	return t == TaskImageClassification || t == TaskImageToText || t == TaskSpeechRecognition
}

// TaskInfo is the Workers AI description of a task.
type TaskInfo struct {
	ID          string `yaml:"id" json:"id"`
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description" json:"description"`
	RPM         int    `yaml:"rpm" json:"-"`
}

// Artifacts says where a model's real files come from.
type Artifacts struct {
	Ollama   string              `yaml:"ollama,omitempty"`
	HFRepo   string              `yaml:"hf_repo,omitempty"`
	Files    []string            `yaml:"files,omitempty"`
	Variants map[string][]string `yaml:"variants,omitempty"`
	// DefaultVariant is the variant served unless the config picks one
	// (models."<id>".variant); empty: fp32. distilbert-sst-2-int8 serves
	// its int8 file, as its name says.
	DefaultVariant string `yaml:"default_variant,omitempty"`
}

// SyntheticLlamaID is the directory name (under $EDGEINFER_HOME/models) of
// the synthetic chat model that `edgeinfer models synth` generates; the
// Ollama backend serves it on every catalog LLM ID whose own Ollama tag is
// missing.
const SyntheticLlamaID = "@edgeinfer/llama-synthetic"

// SyntheticFamilyID is the directory (under $EDGEINFER_HOME/models) of the
// synthetic chat model of a family ("llama3", "qwen3", "gemma3"): it stands
// in for the catalog models of that family whose real tag is absent, so
// their template, tools and thinking run.
func SyntheticFamilyID(family string) string { return "@edgeinfer/" + family + "-synthetic" }

// SyntheticLlamaTag is the Ollama tag the synthetic Llama is created as.
const SyntheticLlamaTag = "edgeinfer/llama-synthetic:latest"

// Entry is one catalog model.
type Entry struct {
	ID          string            `yaml:"id"`
	Aliases     []string          `yaml:"aliases"`
	UUID        string            `yaml:"uuid"`
	Source      int               `yaml:"source"`
	Task        Task              `yaml:"task"`
	Description string            `yaml:"description"`
	Tags        []string          `yaml:"tags"`
	CreatedAt   string            `yaml:"created_at"`
	Properties  map[string]string `yaml:"properties"`
	Backend     string            `yaml:"backend"`
	RPM         int               `yaml:"rpm"`
	Artifacts   Artifacts         `yaml:"artifacts"`
	Defaults    map[string]any    `yaml:"defaults"`

	// Retired is the date (YYYY-MM-DD) Workers AI retired the model. Old
	// Worker code still calls it, so edgeinfer keeps serving it (unless
	// server.retired_models is "refuse") and marks it deprecated in search
	// and schema.
	Retired string `yaml:"retired"`
	// Successor is the model Cloudflare named to replace a retired one; it
	// answers when the original has no Ollama tag of its own.
	Successor string `yaml:"successor"`
	// MinOllama is the oldest Ollama that runs the model's architecture
	// ("0.20.0"); an older one answers 503 naming it.
	MinOllama string `yaml:"min_ollama"`
	// NoLocalPath marks a model with no local equivalent (a 300B–1T MoE, a
	// decision model): it answers 503 unless the config maps it onto a local
	// model (models."<id>".ollama).
	NoLocalPath bool `yaml:"no_local_path"`
	// Family is the chat family whose synthetic model stands in when the
	// real tag is absent ("llama3", "qwen3", "gemma3"); empty: the
	// synthetic Llama.
	Family string `yaml:"family"`
	// Output names a model-specific answer format the backend parses:
	// "llama-guard" (the model answers "safe", or "unsafe" and a line of
	// categories such as "S1,S10"; in JSON mode that becomes
	// {safe, categories}).
	Output string `yaml:"output"`
	// Schema names the model's own Workers AI schema document
	// (catalogdata/schemas/<name>.json) where it differs from its task's,
	// and with it the input forms the model takes: "bge-m3" (text, or
	// contexts with an optional query), "qwen3-embedding" (queries and
	// documents with an instruction), "embeddinggemma" (text, no pooling),
	// "rerank" (query and contexts), SchemaOpenAIChat (OpenAI's chat
	// completion in and out, streamed as chat.completion.chunk). Empty: the
	// task's.
	Schema string `yaml:"schema"`
	// AnsweredBy is the successor whose Ollama tag serves a retired model
	// that has none of its own; set when the catalog loads.
	AnsweredBy string `yaml:"-"`
}

// SchemaOpenAIChat marks the newer text-generation models (glm-4.7-flash,
// gemma-4, qwen3.8) whose Workers AI schema is OpenAI's chat completion:
// /ai/run answers them with a chat.completion object, and streams
// chat.completion.chunk events before the usual usage event and [DONE].
const SchemaOpenAIChat = "openai-chat"

// PlannedDeprecationProperty is the search property through which Workers
// AI marks a model with a deprecation date; retired models carry it.
const PlannedDeprecationProperty = "planned_deprecation_date"

// Catalog is the set of models the engine knows, with aliases resolved.
type Catalog struct {
	Tasks   map[Task]TaskInfo
	entries []*Entry
	byID    map[string]*Entry          // IDs and aliases, lower-cased
	schemas map[string]json.RawMessage // by task, and by Entry.Schema
}

// modelIDPattern is the shape of a model ID: @scope/author/name as Workers
// AI writes them, or @scope/name for custom models.
var modelIDPattern = regexp.MustCompile(`^@[a-z0-9][a-z0-9_-]*(/[A-Za-z0-9._-]+){1,2}$`)

// ValidModelID reports whether id has the shape of a model ID. IDs become
// directory names, so "." and ".." segments are refused.
func ValidModelID(id string) bool {
	if !modelIDPattern.MatchString(id) {
		return false
	}
	for _, seg := range strings.Split(id, "/")[1:] {
		if strings.Trim(seg, ".") == "" {
			return false
		}
	}
	return true
}

// LoadCatalog parses the embedded catalog.
func LoadCatalog() (*Catalog, error) {
	raw, err := catalogFS.ReadFile("catalogdata/catalog.yaml")
	if err != nil {
		return nil, err
	}
	var doc struct {
		Tasks  map[Task]TaskInfo `yaml:"tasks"`
		Models []*Entry          `yaml:"models"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	c := &Catalog{Tasks: doc.Tasks, byID: map[string]*Entry{}, schemas: map[string]json.RawMessage{}}
	names := c.taskNames()
	for _, e := range doc.Models {
		if e.Schema != "" {
			names = append(names, e.Schema)
		}
	}
	for _, name := range names {
		if _, ok := c.schemas[name]; ok {
			continue
		}
		s, err := catalogFS.ReadFile("catalogdata/schemas/" + name + ".json")
		if err != nil {
			return nil, fmt.Errorf("catalog: schema %s: %w", name, err)
		}
		c.schemas[name] = s
	}
	for _, e := range doc.Models {
		if err := c.Add(e); err != nil {
			return nil, err
		}
	}
	if err := c.linkSuccessors(); err != nil {
		return nil, err
	}
	return c, nil
}

// linkSuccessors checks every successor names a catalog model, and gives a
// retired model without an Ollama tag of its own its successor's.
func (c *Catalog) linkSuccessors() error {
	for _, e := range c.entries {
		if e.Successor == "" {
			continue
		}
		next, ok := c.Lookup(e.Successor)
		if !ok {
			return fmt.Errorf("catalog: model %s: successor %s is not in the catalog", e.ID, e.Successor)
		}
		if e.Artifacts.Ollama == "" {
			e.Artifacts.Ollama, e.AnsweredBy = next.Artifacts.Ollama, next.ID
		}
	}
	return nil
}

// Add inserts or replaces an entry; its task must be known.
func (c *Catalog) Add(e *Entry) error {
	if !ValidModelID(e.ID) {
		return fmt.Errorf("catalog: %q is not a model ID (want @scope/author/name or @scope/name)", e.ID)
	}
	if _, ok := c.Tasks[e.Task]; !ok {
		return fmt.Errorf("catalog: model %s: unknown task %q (want one of %s)", e.ID, e.Task, strings.Join(c.taskNames(), ", "))
	}
	if old, ok := c.byID[strings.ToLower(e.ID)]; ok {
		c.entries = slices.DeleteFunc(c.entries, func(x *Entry) bool { return x == old })
	}
	c.entries = append(c.entries, e)
	for _, id := range append([]string{e.ID}, e.Aliases...) {
		c.byID[strings.ToLower(id)] = e
	}
	return nil
}

func (c *Catalog) taskNames() []string {
	names := make([]string, 0, len(c.Tasks))
	for t := range c.Tasks {
		names = append(names, string(t))
	}
	sort.Strings(names)
	return names
}

// Lookup resolves a model ID or alias. Workers AI IDs are case-insensitive
// in practice, so lookups are too.
func (c *Catalog) Lookup(id string) (*Entry, bool) {
	e, ok := c.byID[strings.ToLower(id)]
	return e, ok
}

// Entries lists the models in catalog order.
func (c *Catalog) Entries() []*Entry { return slices.Clone(c.entries) }

// Schema returns the JSON Schema document {input, output} of a task.
func (c *Catalog) Schema(t Task) json.RawMessage { return c.schemas[string(t)] }

// ModelSchema is the schema document of one model: its task's, marked
// with JSON Schema's "deprecated" keyword (and the retirement in the
// input's description) when Workers AI retired the model.
func (c *Catalog) ModelSchema(e *Entry) (json.RawMessage, error) {
	raw := c.schemas[string(e.Task)]
	if e.Schema != "" {
		raw = c.schemas[e.Schema]
	}
	if e.Retired == "" {
		return raw, nil
	}
	var doc map[string]map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("catalog: schema for %s: %w", e.Task, err)
	}
	note := fmt.Sprintf("Retired on Workers AI on %s; edgeinfer still serves it", e.Retired)
	if e.Successor != "" {
		note += fmt.Sprintf(" (successor: %s)", e.Successor)
	}
	for _, part := range doc {
		part["deprecated"] = true
		if d, ok := part["description"].(string); ok && d != "" {
			part["description"] = d + " " + note + "."
		} else {
			part["description"] = note + "."
		}
	}
	return json.Marshal(doc)
}

// Resolve maps a model name from a request to its entry, or to the error a
// Workers AI client expects: 404/3042 for something that is not a model ID,
// 400/5007 for an ID the catalog lacks.
func (c *Catalog) Resolve(id string) (*Entry, error) {
	if e, ok := c.Lookup(id); ok {
		return e, nil
	}
	if !ValidModelID(id) {
		return nil, &Error{Kind: KindInvalidModelName, Message: "The model name is invalid"}
	}
	return nil, &Error{Kind: KindUnknownModel, Message: fmt.Sprintf("No such model %s or task", id)}
}

// SearchObject is a model as the Workers AI models/search API returns it.
type SearchObject struct {
	ID          string           `json:"id"`
	Source      int              `json:"source"`
	Name        string           `json:"name"`
	Description string           `json:"description"`
	Task        TaskInfo         `json:"task"`
	CreatedAt   string           `json:"created_at,omitempty"`
	Tags        []string         `json:"tags"`
	Properties  []SearchProperty `json:"properties"`
}

// SearchProperty is one {property_id, value} pair of a SearchObject.
type SearchProperty struct {
	PropertyID string `json:"property_id"`
	Value      string `json:"value"`
}

// SearchObject renders e the way Workers AI lists it.
func (c *Catalog) SearchObject(e *Entry) SearchObject {
	keys := make([]string, 0, len(e.Properties))
	for k := range e.Properties {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	props := make([]SearchProperty, 0, len(keys)+1)
	for _, k := range keys {
		props = append(props, SearchProperty{PropertyID: k, Value: e.Properties[k]})
	}
	if _, ok := e.Properties[PlannedDeprecationProperty]; !ok && e.Retired != "" {
		props = append(props, SearchProperty{PropertyID: PlannedDeprecationProperty, Value: e.Retired})
	}
	tags := e.Tags
	if tags == nil {
		tags = []string{}
	}
	return SearchObject{ID: e.UUID, Source: e.Source, Name: e.ID, Description: e.Description,
		Task: c.Tasks[e.Task], CreatedAt: e.CreatedAt, Tags: tags, Properties: props}
}

// SearchQuery filters the catalog like GET …/ai/models/search.
type SearchQuery struct {
	Task   string // task name ("Text Embeddings") or slug
	Search string // substring of ID, alias or description
	Author string // the second ID segment ("baai")
}

// Search returns the entries matching q, in catalog order.
func (c *Catalog) Search(q SearchQuery) []*Entry {
	var out []*Entry
	for _, e := range c.entries {
		if q.Task != "" && !strings.EqualFold(q.Task, c.Tasks[e.Task].Name) && !strings.EqualFold(q.Task, string(e.Task)) {
			continue
		}
		if q.Author != "" && !strings.EqualFold(q.Author, author(e.ID)) {
			continue
		}
		if q.Search != "" && !matchesSearch(e, strings.ToLower(q.Search)) {
			continue
		}
		out = append(out, e)
	}
	return out
}

func author(id string) string {
	parts := strings.Split(id, "/")
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

func matchesSearch(e *Entry, needle string) bool {
	for _, s := range append([]string{e.ID, e.Description}, e.Aliases...) {
		if strings.Contains(strings.ToLower(s), needle) {
			return true
		}
	}
	return false
}
