package provider

import (
	"encoding/json"
	"strconv"
)

// UpstreamError is what a provider's error body (or an error event's
// data) says. None of it is safe to show a client as it is: the proxy
// passes on only identifiers from a closed list, and the message only to
// its redacting log.
type UpstreamError struct {
	Type, Code, Param, Message string
	// Raw is set when the body is not JSON: the message is the body.
	Raw bool
}

// readError reads the error shapes OpenAI, its compatible APIs, Azure and
// Anthropic share: {"error": {type, code, param, message}} (Anthropic adds
// "type": "error" around it), or the same members at the top level.
func readError(b []byte) UpstreamError {
	var body struct {
		Type    any             `json:"type"`
		Code    any             `json:"code"`
		Param   any             `json:"param"`
		Message any             `json:"message"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(b, &body) != nil {
		return UpstreamError{Message: string(b), Raw: true}
	}
	var inner struct {
		Type    any `json:"type"`
		Code    any `json:"code"`
		Param   any `json:"param"`
		Message any `json:"message"`
	}
	if len(body.Error) > 0 && json.Unmarshal(body.Error, &inner) == nil {
		return UpstreamError{Type: str(inner.Type), Code: str(inner.Code), Param: str(inner.Param), Message: str(inner.Message)}
	}
	e := UpstreamError{Type: str(body.Type), Code: str(body.Code), Param: str(body.Param), Message: str(body.Message)}
	if e.Message == "" && len(body.Error) > 0 {
		e.Message = string(body.Error)
	}
	return e
}

// str is a JSON string or number as text, else "".
func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}
