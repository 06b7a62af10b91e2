// Package prereq decides what a test does when something it needs is
// missing: under CI=true, where our scripts install every prerequisite,
// it fails; elsewhere it skips.
package prereq

import (
	"os"
	"testing"
)

// Missing stops the test for a missing prerequisite: Fatalf under
// CI=true, Skipf elsewhere.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: "+format, args...)
	}
	t.Skipf(format, args...)
}
