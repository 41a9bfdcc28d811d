package devworker

// StripJSONC turns JSON with comments (wrangler.jsonc) into plain JSON: it
// blanks out // and /* */ comments and drops commas that directly precede a
// closing bracket or brace, leaving string contents untouched. Text that is
// not valid JSONC comes out as text that encoding/json then refuses.
func StripJSONC(src []byte) []byte {
	out := make([]byte, 0, len(src))
	inString, escaped := false, false
	pendingComma := -1 // index in out of a comma not yet known to be trailing
	for i := 0; i < len(src); i++ {
		c := src[i]
		if inString {
			out = append(out, c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			pendingComma = -1
			inString = true
			out = append(out, c)
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			if i < len(src) {
				out = append(out, '\n')
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			i += 2
			for i < len(src) && !(src[i] == '*' && i+1 < len(src) && src[i+1] == '/') {
				i++
			}
			i++ // the closing '/', or past the end when unterminated
			out = append(out, ' ')
		case c == ',':
			pendingComma = len(out)
			out = append(out, c)
		case c == '}' || c == ']':
			if pendingComma >= 0 {
				out[pendingComma] = ' '
				pendingComma = -1
			}
			out = append(out, c)
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			out = append(out, c)
		default:
			pendingComma = -1
			out = append(out, c)
		}
	}
	return out
}
