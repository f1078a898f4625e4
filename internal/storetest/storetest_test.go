package storetest

import "testing"

// The contract runs from each implementation's tests (store/sqlite); this
// checks only that the suite's own fixtures are sane.
func TestFixtures(t *testing.T) {
	k := key("a", "u", 1)
	if !k.Active(t0) || len(k.Hash) == 0 {
		t.Fatal("fixture key")
	}
}
