package redact

import (
	"context"
	"fmt"
	"log/slog"
)

// Handler is a slog.Handler that scrubs the message and every attribute —
// nested groups, errors, Stringers and arbitrary values included — before
// passing the record on. Every logger keyward builds sits on one.
type Handler struct {
	next slog.Handler
	s    *Scrubber
}

// NewHandler wraps next. A nil scrubber scrubs patterns only.
func NewHandler(next slog.Handler, s *Scrubber) *Handler {
	if s == nil {
		s = &Scrubber{}
	}
	return &Handler{next: next, s: s}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.s.String(r.Message), r.PC)
	// Added at once, so that the record's storage grows once.
	var buf [24]slog.Attr
	clean := buf[:0]
	r.Attrs(func(a slog.Attr) bool {
		clean = append(clean, h.attr(a, 0))
		return true
	})
	out.AddAttrs(clean...)
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = h.attr(a, 0)
	}
	return &Handler{next: h.next.WithAttrs(clean), s: h.s}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(h.s.String(name)), s: h.s}
}

const maxDepth = 16

func (h *Handler) attr(a slog.Attr, depth int) slog.Attr {
	a.Key = h.s.String(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(h.s.String(v.String()))
	case slog.KindGroup:
		if depth >= maxDepth {
			a.Value = slog.StringValue("[too deep]")
			break
		}
		attrs := v.Group()
		clean := make([]slog.Attr, len(attrs))
		for i, g := range attrs {
			clean[i] = h.attr(g, depth+1)
		}
		a.Value = slog.GroupValue(clean...)
	case slog.KindAny:
		a.Value = slog.StringValue(h.s.String(anyString(v.Any())))
	default:
		a.Value = v
	}
	return a
}

// anyString renders a value the way the JSON or text handler would
// otherwise have, but as a string we can scrub.
func anyString(v any) string {
	switch x := v.(type) {
	case nil:
		return "<nil>"
	case error:
		return x.Error()
	case fmt.Stringer:
		return x.String()
	case []byte:
		return string(x)
	default:
		return fmt.Sprintf("%+v", x)
	}
}
