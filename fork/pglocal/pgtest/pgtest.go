// Package pgtest is what tests that start a throwaway local PostgreSQL 15
// share: the check that this machine can run one at all.
package pgtest

import (
	"os"
	"os/user"
	"path/filepath"
	"testing"

	"github.com/redswitch/redswitch/fork/pglocal"
	"github.com/redswitch/redswitch/prereq"
)

// Require stops the test unless a local PostgreSQL 15 can run here, and
// returns the postgres user it must run as. Under -short it skips.
// PostgreSQL 15, its postgres user and root are what
// scripts/install-deps.sh and CI provide, so each is a missing
// prerequisite (prereq.Missing): a failure under CI=true, a skip
// elsewhere.
func Require(t testing.TB) pglocal.Owner {
	t.Helper()
	if testing.Short() {
		t.Skip("starts PostgreSQL; skipped in -short")
	}
	if _, err := os.Stat(filepath.Join(pglocal.DefaultBinDir, "postgres")); err != nil {
		prereq.Missing(t, "needs PostgreSQL 15 in %s (Debian package postgresql-15): %v", pglocal.DefaultBinDir, err)
	}
	owner, err := pglocal.LookupOwner("postgres")
	if err != nil {
		prereq.Missing(t, "needs the postgres user: %v", err)
	}
	if me, _ := user.Current(); os.Geteuid() != 0 && (me == nil || me.Username != "postgres") {
		prereq.Missing(t, "needs root (to run PostgreSQL as postgres) or the postgres user")
	}
	return owner
}
