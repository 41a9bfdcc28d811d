package engine

import (
	"encoding/json"
	"fmt"
	"slices"
)

// jsonSchemaTypes are the values JSON Schema allows for "type".
var jsonSchemaTypes = []string{"object", "array", "string", "number", "integer", "boolean", "null"}

// checkJSONSchema checks that raw reads as a JSON Schema where its
// structural keywords are concerned (type, properties, items, required,
// enum, anyOf/oneOf/allOf), so a malformed schema is a 400 naming the
// keyword instead of an error from deep inside the runtime's grammar
// compiler. The wrapped form OpenAI sends ({name, strict, schema}) is
// checked at its schema.
func checkJSONSchema(path string, raw json.RawMessage) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return BadInput(path, "must be a JSON Schema object")
	}
	if inner, ok := top["schema"]; ok && top["type"] == nil && top["properties"] == nil {
		return checkSchemaNode(path+".schema", inner, 0)
	}
	return checkSchemaNode(path, raw, 0)
}

// maxSchemaDepth bounds the recursion on hostile input.
const maxSchemaDepth = 64

func checkSchemaNode(path string, raw json.RawMessage, depth int) error {
	if depth > maxSchemaDepth {
		return BadInput(path, "nests deeper than %d levels", maxSchemaDepth)
	}
	if string(raw) == "true" || string(raw) == "false" {
		return nil // boolean schemas accept or refuse everything
	}
	var node map[string]json.RawMessage
	if err := json.Unmarshal(raw, &node); err != nil {
		return BadInput(path, "must be a JSON Schema object")
	}
	if t, ok := node["type"]; ok {
		if err := checkSchemaType(path+".type", t); err != nil {
			return err
		}
	}
	if p, ok := node["properties"]; ok {
		var props map[string]json.RawMessage
		if json.Unmarshal(p, &props) != nil {
			return BadInput(path+".properties", "must be an object of schemas")
		}
		for name, sub := range props {
			if err := checkSchemaNode(path+".properties."+name, sub, depth+1); err != nil {
				return err
			}
		}
	}
	if items, ok := node["items"]; ok {
		if err := checkSchemaNode(path+".items", items, depth+1); err != nil {
			return err
		}
	}
	if r, ok := node["required"]; ok {
		var names []string
		if json.Unmarshal(r, &names) != nil {
			return BadInput(path+".required", "must be an array of property names")
		}
	}
	if e, ok := node["enum"]; ok {
		var values []json.RawMessage
		if json.Unmarshal(e, &values) != nil || len(values) == 0 {
			return BadInput(path+".enum", "must be a non-empty array")
		}
	}
	for _, key := range []string{"anyOf", "oneOf", "allOf"} {
		list, ok := node[key]
		if !ok {
			continue
		}
		var subs []json.RawMessage
		if json.Unmarshal(list, &subs) != nil || len(subs) == 0 {
			return BadInput(path+"."+key, "must be a non-empty array of schemas")
		}
		for i, sub := range subs {
			if err := checkSchemaNode(fmt.Sprintf("%s.%s[%d]", path, key, i), sub, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkSchemaType(path string, raw json.RawMessage) error {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if !slices.Contains(jsonSchemaTypes, one) {
			return BadInput(path, "must be one of %v, got %q", jsonSchemaTypes, one)
		}
		return nil
	}
	var many []string
	if json.Unmarshal(raw, &many) != nil || len(many) == 0 {
		return BadInput(path, "must be a type name or an array of them")
	}
	for _, t := range many {
		if !slices.Contains(jsonSchemaTypes, t) {
			return BadInput(path, "must be one of %v, got %q", jsonSchemaTypes, t)
		}
	}
	return nil
}
