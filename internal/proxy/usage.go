package proxy

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/keyward/keyward/internal/provider"
)

// Bounds of what a JSON answer's tap keeps: the whole body up to
// tapWhole; past that only the last tapTail bytes, where the providers put
// their usage object.
const (
	tapWhole = 4 << 20
	tapTail  = 256 << 10
)

// bodyTap passes a JSON answer through and keeps what its usage is read
// from at the end.
type bodyTap struct {
	src  io.Reader
	buf  []byte
	cut  bool // buf holds only the tail
	eof  bool
	size int64
}

func (t *bodyTap) Read(p []byte) (int, error) {
	n, err := t.src.Read(p)
	if n > 0 {
		t.keep(p[:n])
	}
	if err == io.EOF {
		t.eof = true
	}
	return n, err
}

func (t *bodyTap) keep(b []byte) {
	t.size += int64(len(b))
	t.buf = append(t.buf, b...)
	if !t.cut && len(t.buf) <= tapWhole {
		return
	}
	t.cut = true
	if len(t.buf) > 2*tapTail {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tapTail:]...)
	}
}

// tokens reads the usage of the body seen, the way the provider p
// reports it.
func (t *bodyTap) tokens(p *provider.Provider, route provider.Route) (provider.Tokens, bool) {
	if !t.cut {
		return p.Usage(route, t.buf)
	}
	// A very large answer (embeddings of many inputs): its usage object is
	// the last one in the body.
	i := bytes.LastIndex(t.buf, []byte(`"usage"`))
	if i < 0 {
		return provider.Tokens{}, false
	}
	rest := bytes.TrimLeft(t.buf[i+len(`"usage"`):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return provider.Tokens{}, false
	}
	dec := json.NewDecoder(bytes.NewReader(rest[1:]))
	var obj json.RawMessage
	if dec.Decode(&obj) != nil {
		return provider.Tokens{}, false
	}
	return p.Usage(route, append(append([]byte(`{"usage":`), obj...), '}'))
}

// meter settles what an answered attempt used, once its body is done.
func (f *Forwarder) meter(at *attempt) {
	info, c := at.call.Info, at.call
	clientLeft := at.client.Err() != nil || info.Code == "client_closed"
	switch {
	case at.meter != nil:
		any, final := at.meter.Reported()
		switch {
		case final:
			info.Usage, info.Metered = at.meter.Tokens(), MeteredReported
		case clientLeft:
			// Never a refund for leaving: what was generated is charged.
			info.Usage, info.Metered = c.partial(at.meter, at.target.Model), MeteredEstimated
		case at.streamComplete:
			// A whole stream without usage (a compatible API that ignores
			// stream_options): estimate it rather than let it be free.
			info.Usage, info.Metered = at.meter.Partial(c.InputEstimate), MeteredEstimated
			f.log.Warn("the provider's stream reported no usage; it is estimated", "request_id", at.reqID, "provider", at.target.Provider.Name, "route", c.Route.String())
		case any || at.meter.Generated():
			// The stream broke (the provider's error, keyward's timeout, an
			// oversized event) after output was passed on: the provider
			// bills what it generated.
			info.Usage, info.Metered = c.partial(at.meter, at.target.Model), MeteredEstimated
		}
		// Otherwise an error before any output or usage: nothing is charged.
	case at.tap != nil && at.tap.eof:
		if t, ok := at.tap.tokens(at.target.Provider, c.Route); ok {
			info.Usage, info.Metered = t, MeteredReported
			return
		}
		// An answer without usage (some compatible APIs): estimate it.
		t := provider.Tokens{Input: c.InputEstimate}
		if len(c.Route.TokenFields()) > 0 {
			t.Output = (at.tap.size + 3) / 4
		}
		info.Usage, info.Metered = t, MeteredEstimated
		f.log.Warn("the provider's answer reported no usage; it is estimated", "request_id", at.reqID, "provider", at.target.Provider.Name, "route", c.Route.String())
	case at.tap != nil && clientLeft:
		// The client left while a complete answer was on its way: the
		// provider generated all of it.
		info.Usage, info.Metered = c.worstCase(), MeteredEstimated
	}
	// A body the provider broke off while the client was still reading is
	// an upstream error: nothing is charged.
}

// partial is what a stream that ended early is charged: its input and the
// output passed on — or, when the model reasoned (the request asked it to,
// or target is a model that reasons by default and the request did not
// turn that off), its whole output cap, since hidden reasoning was spent
// and never streamed.
func (c *Call) partial(m *provider.Meter, target string) provider.Tokens {
	t := m.Partial(c.InputEstimate)
	if c.Req != nil && (c.Req.Reasons() || !c.Req.ReasoningOff() && c.Snap.Prices.Reasons(target, c.Req.Model)) {
		t.Output = max(t.Output, int64(c.Req.OutputTokens)*int64(max(c.Req.Choices, 1)))
	}
	return t
}

// worstCase is what a request that was sent but whose answer never came
// back whole is charged: its input and its whole output cap.
func (c *Call) worstCase() provider.Tokens {
	if c.Req == nil {
		return provider.Tokens{Input: c.InputEstimate}
	}
	return provider.Tokens{Input: c.InputEstimate, Output: int64(c.Req.OutputTokens) * int64(max(c.Req.Choices, 1))}
}

// dropNullUsage removes a "usage": null member from a chat chunk (every
// chunk carries one once include_usage is on). It returns data itself when
// there is nothing to remove, and never writes into data. A key inside a
// JSON string cannot match: its quotes would be escaped.
func dropNullUsage(data []byte) []byte {
	const ws = " \t\r\n"
	i := bytes.Index(data, []byte(`"usage"`))
	if i < 0 {
		return data
	}
	v := bytes.TrimLeft(data[i+len(`"usage"`):], ws)
	if len(v) == 0 || v[0] != ':' {
		return data
	}
	v = bytes.TrimLeft(v[1:], ws)
	if !bytes.HasPrefix(v, []byte("null")) {
		return data
	}
	end := len(data) - len(v) + len("null")
	before := bytes.TrimRight(data[:i], ws)
	switch {
	case len(before) > 0 && before[len(before)-1] == ',':
		// Drop the comma before the member through its value.
		return append(data[:len(before)-1:len(before)-1], data[end:]...)
	case len(before) > 0 && before[len(before)-1] == '{':
		// The first member: drop it and the comma after it.
		rest := bytes.TrimLeft(data[end:], ws)
		if len(rest) > 0 && rest[0] == ',' {
			rest = rest[1:]
		}
		return append(data[:i:i], rest...)
	}
	return data
}
