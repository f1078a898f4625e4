package budget_test

import (
	"testing"

	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/budget/ledgertest"
)

func TestMemoryLedgerContract(t *testing.T) {
	ledgertest.RunLedger(t, func(t *testing.T, src budget.SpendSource) budget.Ledger {
		return budget.NewMemoryLedger(src)
	})
}
