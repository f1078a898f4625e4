package usage

import (
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/store"
)

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"7d", now.AddDate(0, 0, -7), true},
		{"36h", now.Add(-36 * time.Hour), true},
		{"2026-11-01", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), true},
		{"2026-11-01T08:00:00Z", time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC), true},
		{"", time.Time{}, true},
		{"-3d", time.Time{}, false},
		{"-1h", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"99999999d", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := ParseSince(tt.in, now)
		if (err == nil) != tt.ok || !got.Equal(tt.want) {
			t.Errorf("ParseSince(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestReportHostileNames(t *testing.T) {
	groups := []store.UsageGroup{{Group: "=HYPERLINK(\"x\")", Requests: 1}, {Group: "evil\x1b[2Jname", Requests: 1}}
	var csv, table strings.Builder
	if err := WriteReport(&csv, "csv", "user", groups); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csv.String(), "\"'=HYPERLINK(\"\"x\"\")\"") {
		t.Errorf("a formula reached the CSV:\n%s", csv.String())
	}
	if err := WriteReport(&table, "table", "user", groups); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(table.String(), "\x1b") {
		t.Errorf("a terminal escape reached the table: %q", table.String())
	}
	if err := WriteReport(&table, "yaml", "user", groups); err == nil {
		t.Error("unknown format accepted")
	}
	if USD(-1_500_000) != "-1.500000" || USD(7) != "0.000007" {
		t.Error("USD formatting")
	}
}

func FuzzParseSince(f *testing.F) {
	for _, s := range []string{"7d", "36h", "2026-11-01", "2026-11-01T08:00:00Z", "", "-1d", "9999999999d", "1h30m"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseSince(s, now)
		if err == nil && got.After(now) && !strings.Contains(s, "-") && !strings.Contains(s, ":") {
			// Durations and day counts reach back, never forward.
			if _, perr := time.Parse(time.DateOnly, strings.TrimSpace(s)); perr != nil {
				t.Fatalf("ParseSince(%q) = %v, after now", s, got)
			}
		}
	})
}
