package web

import (
	"os"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// productionCost is hashCost as the package sets it.
var productionCost = hashCost

// TestMain makes new hashes cheap: bcrypt's default cost is meant to be
// slow, and -race makes it slower still.
func TestMain(m *testing.M) {
	hashCost = bcrypt.MinCost
	os.Exit(m.Run())
}

func TestHashCost(t *testing.T) {
	if productionCost != bcrypt.DefaultCost {
		t.Errorf("new password hashes have cost %d, want %d", productionCost, bcrypt.DefaultCost)
	}
}
