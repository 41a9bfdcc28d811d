package engine

import (
	"context"
	"strconv"
)

// TranslationInput is a validated translation request. Language values are
// passed through as given; the backend resolves them against its model's
// language table and rejects unknown ones.
type TranslationInput struct {
	Text       string
	SourceLang string
	TargetLang string
}

// TranslationOutput is the Workers AI translation result.
type TranslationOutput struct {
	TranslatedText string `json:"translated_text"`
}

// Translator is implemented by translation backends.
type Translator interface {
	Translate(ctx context.Context, in *TranslationInput) (*TranslationOutput, error)
}

func decodeTranslation(raw []byte) (*TranslationInput, error) {
	f, err := parseObject("", raw)
	if err != nil {
		return nil, err
	}
	if f.has("requests") {
		return nil, BadInput("requests", "batch requests need the queueRequest option")
	}
	in := &TranslationInput{SourceLang: "en"}
	var ok bool
	if in.Text, ok, err = f.str("text"); err != nil {
		return nil, err
	} else if !ok {
		return nil, BadInput("text", "is required")
	} else if in.Text == "" {
		return nil, BadInput("text", "must not be empty")
	}
	if in.TargetLang, ok, err = f.str("target_lang"); err != nil {
		return nil, err
	} else if !ok || in.TargetLang == "" {
		return nil, BadInput("target_lang", "is required (an ISO code such as \"fr\" or a name such as \"french\")")
	}
	if s, ok, err := f.str("source_lang"); err != nil {
		return nil, err
	} else if ok && s != "" {
		in.SourceLang = s
	}
	return in, nil
}

func indexPath(name string, i int) string { return name + "[" + strconv.Itoa(i) + "]" }
