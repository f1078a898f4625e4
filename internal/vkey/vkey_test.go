package vkey

import (
	"strings"
	"testing"
)

func TestNewIsValid(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		k, err := New(i%2 == 0)
		if err != nil {
			t.Fatal(err)
		}
		if !Valid(k) || len(k) != Len || seen[k] {
			t.Fatalf("bad key %q", k)
		}
		if IsLive(k) != (i%2 == 0) {
			t.Fatalf("IsLive(%q) wrong", k)
		}
		seen[k] = true
	}
}

func TestValidRejects(t *testing.T) {
	k, _ := New(true)
	flip := func(s string, i int) string {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	for name, s := range map[string]string{
		"empty":          "",
		"short":          k[:len(k)-1],
		"long":           k + "0",
		"body changed":   flip(k, 12),
		"checksum wrong": flip(k, len(k)-1),
		"other prefix":   "kw_prod_" + k[8:],
		"bad character":  k[:10] + "-" + k[11:],
		"random":         "kw_live_" + strings.Repeat("a", Len-8),
	} {
		if Valid(s) {
			t.Errorf("%s: Valid(%q) = true", name, s)
		}
	}
}

func FuzzValid(f *testing.F) {
	k, _ := New(false)
	f.Add(k)
	f.Fuzz(func(t *testing.T, s string) { _ = Valid(s) })
}
