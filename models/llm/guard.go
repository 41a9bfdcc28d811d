package llm

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/edgeinfer/edgeinfer/engine"
)

// guardOutput is the catalog's name for Llama Guard's answer format.
const guardOutput = "llama-guard"

// guardCategory is one hazard category of Llama Guard 3 (S1 to S14).
var guardCategory = regexp.MustCompile(`^S(1[0-4]|[1-9])$`)

// parseGuard reads a Llama Guard answer, "safe" or "unsafe" followed by a
// line of categories ("S1,S10"), as Workers AI's JSON-mode response
// {safe, categories}. Anything else is an error: the model did not answer
// in its format.
func parseGuard(text string) (map[string]any, error) {
	lines := strings.Fields(strings.ReplaceAll(strings.TrimSpace(text), ",", " "))
	if len(lines) == 0 {
		return nil, fmt.Errorf("empty answer")
	}
	switch lines[0] {
	case "safe":
		if len(lines) > 1 {
			return nil, fmt.Errorf("%q follows a safe verdict", lines[1])
		}
		return map[string]any{"safe": true, "categories": []string{}}, nil
	case "unsafe":
		cats := make([]string, 0, len(lines)-1)
		for _, c := range lines[1:] {
			if !guardCategory.MatchString(c) {
				return nil, fmt.Errorf("%q is not a Llama Guard category (S1 to S14)", c)
			}
			cats = append(cats, c)
		}
		return map[string]any{"safe": false, "categories": cats}, nil
	}
	return nil, fmt.Errorf("the verdict %q is neither safe nor unsafe", lines[0])
}

// guardResponse is the JSON-mode response of a Llama Guard model.
func guardResponse(text string) (any, error) {
	v, err := parseGuard(text)
	if err != nil {
		return nil, &engine.Error{Kind: engine.KindInternal, Message: "JSON Mode couldn't be met",
			Err: fmt.Errorf("llama guard answer %q: %w", text, err)}
	}
	return v, nil
}
