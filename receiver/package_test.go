package receiver

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: every
// receiver is shut down and every fake daemon closed by the tests' cleanups.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
