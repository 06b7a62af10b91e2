package probe

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// tableDDL creates the probe table. The setup (as the table's owner) and
// a probe allowed to create it run the same statement.
func tableDDL(table string) string {
	return "CREATE TABLE IF NOT EXISTS " + table + " (seq bigint PRIMARY KEY, node text, tl int, at timestamptz DEFAULT now())"
}

// ensureRole makes the probe's own login on the cluster conn is a
// superuser session of: a role that may log in and read and insert into
// the probe table, nothing else (no superuser, no CREATE), with the
// password the probe will give. It is idempotent, so every head node
// start and every failover-time reconnect may run it.
func ensureRole(ctx context.Context, conn *pgx.Conn, role, password, table string) error {
	if role == "" || password == "" {
		return fmt.Errorf("probe role: user and password are required")
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role).Scan(&exists); err != nil {
		return fmt.Errorf("probe role %s: %w", role, err)
	}
	verb := "CREATE"
	if exists {
		verb = "ALTER"
	}
	// Utility statements take no parameters: quote with the server's own
	// format(%I, %L) so no name or password can break out.
	var stmt string
	if err := conn.QueryRow(ctx, "SELECT format('"+verb+" ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD %L', $1::text, $2::text)",
		role, password).Scan(&stmt); err != nil {
		return fmt.Errorf("probe role %s: %w", role, err)
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("probe role %s: %s: %w", role, verb, err)
	}
	if _, err := conn.Exec(ctx, tableDDL(table)); err != nil {
		return fmt.Errorf("probe table %s: %w", table, err)
	}
	var grant string
	if err := conn.QueryRow(ctx, "SELECT format('GRANT SELECT, INSERT ON TABLE %s TO %I', $1::regclass, $2::text)", table, role).Scan(&grant); err != nil {
		return fmt.Errorf("probe table %s: %w", table, err)
	}
	if _, err := conn.Exec(ctx, grant); err != nil {
		return fmt.Errorf("probe table %s: grant to %s: %w", table, role, err)
	}
	return nil
}

// setup runs ensureRole once per Run through Options.SetupDSN, before the
// probe's first login: the role does not exist before it.
func (r *run) setup(ctx context.Context) error {
	p := r.p
	if p.o.SetupDSN == "" || r.setupDone {
		return nil
	}
	cfg, err := pgx.ParseConfig(p.o.SetupDSN)
	if err != nil {
		// pgx's parse error quotes the DSN, password and all.
		return fmt.Errorf("probe: setup DSN does not parse")
	}
	cfg.ConnectTimeout = p.o.ConnectTimeout
	cfg.RuntimeParams["application_name"] = ApplicationName + "-setup"
	cctx, cancel := context.WithTimeout(ctx, p.o.ConnectTimeout+2*p.o.StatementTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return fmt.Errorf("probe setup: %w", err)
	}
	defer closeQuietly(conn)
	if err := ensureRole(cctx, conn, r.cfg.User, r.cfg.Password, p.table); err != nil {
		return err
	}
	r.setupDone = true
	p.o.Log.Info("probe: own role ready", "role", r.cfg.User, "table", p.o.Table)
	return nil
}
