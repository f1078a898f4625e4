package policy

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/keyward/keyward/internal/apierr"
)

// value is a decoded JSON value that keeps its object members in order.
// Every check reads it, and the body forwarded upstream is encoded from it,
// so what the provider decodes is exactly what keyward checked: an escape
// such as "docum\u0065nt" is "document" to both.
type value struct {
	kind jsontext.Kind // 'n', 'f', 't', '"', '0', '{' or '['
	// text is a string's decoded value, or a number's literal.
	text string
	// keys are an object's member names, parallel to items; items are its
	// member values or an array's elements.
	keys  []string
	items []value
}

// member returns an object's member named key.
func (v *value) member(key string) (*value, bool) {
	for i, k := range v.keys {
		if k == key {
			return &v.items[i], true
		}
	}
	return nil, false
}

// str returns an object member's string value ("" when it is absent or
// not a string).
func (v *value) str(key string) string {
	if m, ok := v.member(key); ok && m.kind == '"' {
		return m.text
	}
	return ""
}

// isNull reports whether v is JSON null.
func (v *value) isNull() bool { return v.kind == 'n' }

// empty reports whether a member's value asks for nothing: null, false, ""
// or an empty array or object.
func (v *value) empty() bool {
	switch v.kind {
	case 'n', 'f':
		return true
	case '"':
		return v.text == ""
	case '[', '{':
		return len(v.items) == 0
	}
	return false
}

// walk calls fn for v and every value inside it, depth first, with the
// member name each was found under ("" for array elements and the root).
// fn returns false to skip what is inside a value.
func (v *value) walk(key string, fn func(key string, v *value) bool) {
	if !fn(key, v) {
		return
	}
	for i := range v.items {
		k := ""
		if v.kind == '{' {
			k = v.keys[i]
		}
		v.items[i].walk(k, fn)
	}
}

// decodeTree decodes one JSON value strictly: a member name twice in one
// object, invalid UTF-8 and trailing data are refused, since the provider
// might read them differently from keyward.
func decodeTree(body []byte) (value, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	v, err := readValue(dec)
	if err != nil {
		return value{}, treeError(body, err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		if err == nil {
			err = errors.New("trailing data")
		}
		return value{}, treeError(body, err)
	}
	return v, nil
}

func readValue(dec *jsontext.Decoder) (value, error) {
	tok, err := dec.ReadToken()
	if err != nil {
		return value{}, err
	}
	v := value{kind: tok.Kind()}
	switch v.kind {
	case '"', '0':
		v.text = tok.String()
	case '{':
		for dec.PeekKind() != '}' {
			name, err := dec.ReadToken()
			if err != nil {
				return value{}, err
			}
			key := name.String() // before the next read voids the token
			item, err := readValue(dec)
			if err != nil {
				return value{}, err
			}
			v.keys = append(v.keys, key)
			v.items = append(v.items, item)
		}
		if _, err := dec.ReadToken(); err != nil {
			return value{}, err
		}
	case '[':
		for dec.PeekKind() != ']' {
			item, err := readValue(dec)
			if err != nil {
				return value{}, err
			}
			v.items = append(v.items, item)
		}
		if _, err := dec.ReadToken(); err != nil {
			return value{}, err
		}
	}
	return v, nil
}

// treeError turns a decoding error into a client error that names the
// byte where it happened and what kind of mistake it is, without echoing
// any of the body.
func treeError(body []byte, err error) *Error {
	if len(bytes.TrimSpace(body)) == 0 {
		return fail(apierr.InvalidJSON, "the request body is empty; send a JSON object")
	}
	var offset int64 = -1
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		offset = se.ByteOffset
	}
	at := func(what string) *Error {
		if offset < 0 {
			return fail(apierr.InvalidJSON, "invalid JSON: %s", what)
		}
		return fail(apierr.InvalidJSON, "invalid JSON at byte %d: %s", offset, what)
	}
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fail(apierr.InvalidJSON, "the JSON is cut short at byte %d", len(body))
	case errors.Is(err, jsontext.ErrDuplicateName):
		return at("an object has the same member name twice")
	case strings.Contains(err.Error(), "UTF-8"):
		return at("a string is not valid UTF-8")
	case err.Error() == "trailing data" || strings.Contains(err.Error(), "after top-level value"):
		return at("there is more after the JSON value")
	}
	if se != nil && se.Err != nil && len(se.Err.Error()) <= 80 {
		return at(se.Err.Error()) // the library's words, with at most a character of the body
	}
	return at("syntax error")
}

// encode appends v's JSON encoding to dst: no insignificant white space,
// strings in their shortest escaping.
func (v *value) encode(dst []byte) []byte {
	switch v.kind {
	case 'n':
		return append(dst, "null"...)
	case 't':
		return append(dst, "true"...)
	case 'f':
		return append(dst, "false"...)
	case '0':
		return append(dst, v.text...)
	case '"':
		return appendString(dst, v.text)
	case '[':
		dst = append(dst, '[')
		for i := range v.items {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = v.items[i].encode(dst)
		}
		return append(dst, ']')
	case '{':
		dst = append(dst, '{')
		for i := range v.items {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, v.keys[i])
			dst = append(dst, ':')
			dst = v.items[i].encode(dst)
		}
		return append(dst, '}')
	}
	return dst
}

// appendString appends s as a JSON string. s came from the decoder, so it
// is valid UTF-8 and quoting cannot fail.
func appendString(dst []byte, s string) []byte {
	out, err := jsontext.AppendQuote(dst, s)
	if err != nil {
		panic("policy: quoting a decoded string: " + err.Error())
	}
	return out
}
