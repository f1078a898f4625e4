package usage

import "testing"

func TestEstimates(t *testing.T) {
	if got := EstimateInput(400, 0); got != 108 {
		t.Errorf("EstimateInput(400, 0) = %d", got)
	}
	// A token array is a token a number.
	if got := EstimateInput(0, 4000); got != 4008 {
		t.Errorf("EstimateInput(0, 4000) = %d", got)
	}
	if got, want := BoundInput(500, 1, 1), int64(500)+inputAllowance+imageAllowance+documentAllowance; got != want {
		t.Errorf("BoundInput = %d, want %d", got, want)
	}
	if got := BoundInput(70, 0, 0); got != 70+inputAllowance {
		t.Errorf("BoundInput(text) = %d", got)
	}
}
