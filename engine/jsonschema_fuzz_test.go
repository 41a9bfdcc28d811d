package engine

import (
	"encoding/json"
	"testing"
)

// FuzzJSONSchema: any bytes as a response_format schema get nil or a
// bad-input error naming a field under the schema, never a panic.
func FuzzJSONSchema(f *testing.F) {
	for _, seed := range []string{
		`{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}`,
		`{"name":"x","schema":{"type":["string","null"]}}`,
		`{"anyOf":[{"type":"integer"},true]}`, `{"items":{"enum":[1,"a"]}}`, `[]`, `{"properties":[]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return
		}
		err := checkJSONSchema("response_format.json_schema", raw)
		if err != nil && KindOf(err) != KindBadInput {
			t.Fatalf("%s: %v is not a bad-input error", raw, err)
		}
	})
}
