package sariftest

import "testing"

func TestValidate(t *testing.T) {
	s := Schema(t)
	if err := Validate(t, s, []byte(`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"keyward"}},"results":[]}]}`)); err != nil {
		t.Errorf("a minimal log refused: %v", err)
	}
	for _, bad := range []string{
		`{"version":"2.1.0","runs":[{"tool":{"driver":{}}}]}`,
		`{"version":"9","runs":[]}`,
		`not json`,
	} {
		if err := Validate(t, s, []byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
