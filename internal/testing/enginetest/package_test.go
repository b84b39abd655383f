package enginetest

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a proxy leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
