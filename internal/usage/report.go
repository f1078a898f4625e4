package usage

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keyward/keyward/internal/store"
)

// Groupings lists the groupings a usage report accepts.
var Groupings = []string{store.ByUser, store.ByKey, store.ByModel, store.ByDay}

// ReportFormats lists the formats WriteReport accepts.
var ReportFormats = []string{"table", "json", "csv"}

// ParseSince reads a report's start: a duration back from now ("7d",
// "36h", "90m") or a date or time ("2026-11-01", RFC 3339).
func ParseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err == nil && days >= 0 && days <= 36_500 {
			return now.AddDate(0, 0, -days), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a duration (7d, 36h) or a date (2026-11-01)", s)
}

// USD formats micro-USD as dollars with six decimals.
func USD(micros int64) string {
	sign := ""
	if micros < 0 {
		sign, micros = "-", -micros
	}
	return fmt.Sprintf("%s%d.%06d", sign, micros/1_000_000, micros%1_000_000)
}

// GroupJSON is a usage group as JSON shows it.
type GroupJSON struct {
	Group        string  `json:"group"`
	Requests     int64   `json:"requests"`
	InputTokens  int64   `json:"input_tokens"`
	CachedInput  int64   `json:"cached_input_tokens"`
	CacheWrite   int64   `json:"cache_write_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
	CostMicros   int64   `json:"cost_micros"`
}

// JSONGroups converts groups for JSON output.
func JSONGroups(groups []store.UsageGroup) []GroupJSON {
	out := make([]GroupJSON, 0, len(groups))
	for _, g := range groups {
		out = append(out, GroupJSON{g.Group, g.Requests, g.Input, g.CachedInput, g.CacheWrite, g.Output, float64(g.CostMicros) / 1e6, g.CostMicros})
	}
	return out
}

// WriteReport writes usage groups as an aligned table, JSON or CSV.
func WriteReport(w io.Writer, format, by string, groups []store.UsageGroup) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"by": by, "data": JSONGroups(groups)})
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{by, "requests", "input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "cost_usd"})
		for _, g := range groups {
			_ = cw.Write([]string{csvSafe(g.Group), i64(g.Requests), i64(g.Input), i64(g.CachedInput), i64(g.CacheWrite), i64(g.Output), USD(g.CostMicros)})
		}
		cw.Flush()
		return cw.Error()
	case "table":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%s\tREQUESTS\tINPUT\tCACHED\tCACHE WRITE\tOUTPUT\tCOST (USD)\t\n", strings.ToUpper(by))
		var total store.UsageGroup
		for _, g := range groups {
			name := g.Group
			if name == "" {
				name = "(none)"
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t\n", printable(name), g.Requests, g.Input, g.CachedInput, g.CacheWrite, g.Output, USD(g.CostMicros))
			total.Requests += g.Requests
			total.Input += g.Input
			total.CachedInput += g.CachedInput
			total.CacheWrite += g.CacheWrite
			total.Output += g.Output
			total.CostMicros += g.CostMicros
		}
		fmt.Fprintf(tw, "TOTAL\t%d\t%d\t%d\t%d\t%d\t%s\t\n", total.Requests, total.Input, total.CachedInput, total.CacheWrite, total.Output, USD(total.CostMicros))
		return tw.Flush()
	}
	return fmt.Errorf("unknown format %q (want %s)", format, strings.Join(ReportFormats, ", "))
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }

// csvSafe keeps a spreadsheet from reading a user id as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// printable replaces control characters, so a user id cannot rewrite a
// terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}
