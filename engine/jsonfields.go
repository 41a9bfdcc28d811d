package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// fields is a JSON object being validated field by field, so that every
// error names the field it is about.
type fields struct {
	prefix string // "" for the top level, "messages[2]." inside arrays
	m      map[string]json.RawMessage
}

// parseObject reads a JSON object; anything else is a bad input at path.
func parseObject(path string, raw []byte) (*fields, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		where := path
		if where == "" {
			where = "/"
		}
		return nil, BadInput(where, "expected a JSON object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, BadInput(path, "invalid JSON: %s", jsonErrorText(err))
	}
	prefix := ""
	if path != "" {
		prefix = path + "."
	}
	return &fields{prefix: prefix, m: m}, nil
}

func jsonErrorText(err error) string {
	if se, ok := err.(*json.SyntaxError); ok {
		return fmt.Sprintf("%s at offset %d", se.Error(), se.Offset)
	}
	return err.Error()
}

func (f *fields) path(name string) string { return f.prefix + name }

// has reports whether name is present and not null.
func (f *fields) has(name string) bool {
	raw, ok := f.m[name]
	return ok && !isNull(raw)
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// str reads a string field; ok is false when absent.
func (f *fields) str(name string) (s string, ok bool, err error) {
	if !f.has(name) {
		return "", false, nil
	}
	s, err = decodeString(f.path(name), f.m[name])
	return s, err == nil, err
}

// decodeString decodes a JSON string, refusing invalid UTF-8 that
// encoding/json would silently replace with U+FFFD.
func decodeString(path string, raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", BadInput(path, "must be a string, got %s", jsonKind(raw))
	}
	if !utf8.Valid(raw) || containsLoneSurrogateEscape(raw) {
		return "", BadInput(path, "must be valid UTF-8 text")
	}
	return s, nil
}

// containsLoneSurrogateEscape spots \ud800-\udfff escapes that are not part
// of a valid pair; encoding/json turns them into U+FFFD without an error.
func containsLoneSurrogateEscape(raw []byte) bool {
	for i := 0; i+5 < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if raw[i+1] == '\\' { // an escaped backslash, not an escape sequence
			i++
			continue
		}
		if raw[i+1] != 'u' {
			continue
		}
		v, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 32)
		if err != nil {
			continue
		}
		switch {
		case v >= 0xD800 && v <= 0xDBFF:
			if i+11 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
				lo, err := strconv.ParseUint(string(raw[i+8:i+12]), 16, 32)
				if err == nil && lo >= 0xDC00 && lo <= 0xDFFF {
					i += 11
					continue
				}
			}
			return true
		case v >= 0xDC00 && v <= 0xDFFF:
			return true
		}
		i += 5
	}
	return false
}

// boolean reads a boolean field, coercing "true"/"false" strings as
// Workers AI does (its docs send "raw": "true").
func (f *fields) boolean(name string, def bool) (bool, error) {
	if !f.has(name) {
		return def, nil
	}
	raw := bytes.TrimSpace(f.m[name])
	switch string(raw) {
	case "true", `"true"`:
		return true, nil
	case "false", `"false"`:
		return false, nil
	}
	return false, BadInput(f.path(name), "must be a boolean, got %s", jsonKind(raw))
}

// number reads a numeric field within [lo, hi]; ok is false when absent.
func (f *fields) number(name string, lo, hi float64) (v float64, ok bool, err error) {
	if !f.has(name) {
		return 0, false, nil
	}
	if err := json.Unmarshal(f.m[name], &v); err != nil {
		return 0, false, BadInput(f.path(name), "must be a number, got %s", jsonKind(f.m[name]))
	}
	if v < lo || v > hi {
		return 0, false, BadInput(f.path(name), "must be between %s and %s, got %s", fmtNum(lo), fmtNum(hi), fmtNum(v))
	}
	return v, true, nil
}

// integer reads an integral numeric field within [lo, hi].
func (f *fields) integer(name string, lo, hi int64) (v int64, ok bool, err error) {
	x, ok, err := f.number(name, float64(lo), float64(hi))
	if err != nil || !ok {
		return 0, ok, err
	}
	if x != math.Trunc(x) {
		return 0, false, BadInput(f.path(name), "must be an integer, got %s", fmtNum(x))
	}
	return int64(x), true, nil
}

// array splits an array field into its raw items; ok is false when absent.
func (f *fields) array(name string) (items []json.RawMessage, ok bool, err error) {
	if !f.has(name) {
		return nil, false, nil
	}
	if err := json.Unmarshal(f.m[name], &items); err != nil {
		return nil, false, BadInput(f.path(name), "must be an array, got %s", jsonKind(f.m[name]))
	}
	return items, true, nil
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// jsonKind names the JSON type of raw for error messages.
func jsonKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}
