package provider

import (
	"bytes"
	"encoding/json"
)

// dialect is the wire format of a route's answers: where its usage is,
// which stream events carry text, end the stream or report an error. The
// routes table gives each route its dialect; a family that speaks the
// native formats (embedding native) reads its answers through it.
type dialect interface {
	// usage reads a complete answer's usage; ok is false when it reports
	// none.
	usage(body []byte) (t Tokens, ok bool)
	// event feeds one stream event to m. usageOnly reports an event that
	// carries usage and nothing else (the chunk include_usage adds).
	event(m *Meter, name string, data []byte) (usageOnly bool)
	// isError and isTerminal recognise the event that reports a failure
	// and the one that ends a complete stream.
	isError(name string, data []byte) bool
	isTerminal(name string, data []byte) bool
}

// native is embedded by the families whose answers are in the routes' own
// wire formats (every family so far): usage, stream events and error
// bodies are read the way the route's dialect reads them. A family that
// translates (a native Gemini, say) provides its own.
type native struct{}

func (native) Usage(r Route, body []byte) (Tokens, bool) { return routes[r].dialect.usage(body) }

func (native) Meter(r Route) *Meter { return &Meter{d: routes[r].dialect} }

func (native) Failure(body []byte) UpstreamError { return readError(body) }

// Meter follows a response stream event by event: it collects the usage
// the provider reports and, for a stream that ends before it does (the
// client left), an estimate of the output seen so far. It also tells the
// stream's error and terminal events apart.
type Meter struct {
	d dialect
	t Tokens
	// reported is set once the stream carried usage; final once it carried
	// the end-of-stream usage.
	reported, final bool
	// deltaEvents and deltaBytes measure the generated text passed on.
	deltaEvents, deltaBytes int64
}

// Event feeds one event: its SSE name ("" for data-only streams) and data.
// usageOnly reports a chat chunk that carries usage and no choices: the
// chunk stream_options.include_usage adds.
func (m *Meter) Event(name string, data []byte) (usageOnly bool) { return m.d.event(m, name, data) }

// IsError reports whether an event is the stream's report of a failure.
func (m *Meter) IsError(name string, data []byte) bool { return m.d.isError(name, data) }

// IsTerminal reports whether an event ends a complete stream: nothing may
// follow it.
func (m *Meter) IsTerminal(name string, data []byte) bool { return m.d.isTerminal(name, data) }

// text counts one event's generated text of n bytes.
func (m *Meter) text(n int) {
	if n > 0 {
		m.deltaEvents++
		m.deltaBytes += int64(n)
	}
}

// Reported reports whether the provider sent any usage, and whether it
// sent its end-of-stream figures.
func (m *Meter) Reported() (any, final bool) { return m.reported, m.final }

// Generated reports whether the stream passed any generated text on.
func (m *Meter) Generated() bool { return m.deltaEvents > 0 }

// Tokens is the usage the provider reported so far.
func (m *Meter) Tokens() Tokens { return m.t }

// Partial is what a stream that ended early used: the usage reported so
// far, with the output raised to an estimate of the text passed on (never
// below what the provider counted). inputEstimate stands in for input the
// provider had not reported yet.
func (m *Meter) Partial(inputEstimate int64) Tokens {
	t := m.t
	if t.InputTotal() == 0 {
		t.Input = inputEstimate
	}
	t.Output = max(t.Output, m.OutputEstimate())
	return t
}

// OutputEstimate is the output tokens of the text streamed so far: a token
// per four bytes, and at least one per event that carried text (providers
// stream about a token an event).
func (m *Meter) OutputEstimate() int64 {
	return max(m.deltaEvents, (m.deltaBytes+3)/4)
}

// usageOf decodes the usage member of a body into u; ok is false when
// the body is not JSON or has none.
func usageOf[U any](body []byte) (u *U, ok bool) {
	var v struct {
		Usage *U `json:"usage"`
	}
	if json.Unmarshal(body, &v) != nil || v.Usage == nil {
		return nil, false
	}
	return v.Usage, true
}

// hasObject reports whether data has a member key whose value is an
// object (not null). A key inside a JSON string cannot match: its quotes
// would be escaped.
func hasObject(data []byte, key string) bool {
	for rest := data; ; {
		i := bytes.Index(rest, []byte(`"`+key+`"`))
		if i < 0 {
			return false
		}
		rest = rest[i+len(key)+2:]
		v := bytes.TrimLeft(rest, " \t\r\n")
		if len(v) > 0 && v[0] == ':' {
			v = bytes.TrimLeft(v[1:], " \t\r\n")
			if len(v) > 0 && v[0] == '{' {
				return true
			}
		}
	}
}

// stringBytes sums the raw lengths of the string values of every member
// named key: the text a chunk carries, escapes counted as written (close
// enough for an estimate, and never decoded).
func stringBytes(data []byte, key string) int {
	n := 0
	for rest := data; ; {
		i := bytes.Index(rest, []byte(`"`+key+`"`))
		if i < 0 {
			return n
		}
		rest = rest[i+len(key)+2:]
		v := bytes.TrimLeft(rest, " \t\r\n")
		if len(v) == 0 || v[0] != ':' {
			continue
		}
		v = bytes.TrimLeft(v[1:], " \t\r\n")
		if len(v) == 0 || v[0] != '"' {
			continue
		}
		for j := 1; j < len(v); j++ {
			if v[j] == '\\' {
				j++
				continue
			}
			if v[j] == '"' {
				n += j - 1
				rest = v[j+1:]
				break
			}
		}
	}
}

// eventType reads the "type" field of an event's JSON data.
func eventType(data []byte) string {
	if !bytes.Contains(data, []byte(`"type"`)) {
		return ""
	}
	var v struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(data, &v)
	return v.Type
}

// named reports whether an event is called name, by its SSE name or, in a
// data-only stream, by its data's type.
func named(name string, data []byte, want string) bool {
	return name == want || name == "" && eventType(data) == want
}

func clamp(v, lo, hi int64) int64 { return max(lo, min(v, hi)) }
