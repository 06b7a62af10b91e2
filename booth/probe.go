package booth

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/redswitch/redswitch/credentials"
)

// ProbeDSN is the commit probe's connection string and where it comes
// from (file:line), for errors at start. An empty or wildcard host in
// listen.primary means 127.0.0.1: HAProxy listens there too, and a DSN
// without a host would make pgx dial a unix socket instead. The probe logs
// in as its own role (credentials.ProbeRole) with password, the booth's
// generated one, unless probe.password_file names another; it refuses the
// superuser and a well-known password.
func (c *Config) ProbeDSN(password string) (dsn, where string, err error) {
	p := c.Probe
	where = c.File
	if p.Line > 0 {
		where = fmt.Sprintf("%s:%d: probe", c.File, p.Line)
	} else if line, ok := c.lines["listen.primary"]; ok {
		where = fmt.Sprintf("%s:%d: listen.primary", c.File, line)
	}
	if p.DSN != "" {
		where := fmt.Sprintf("%s:%d: probe.dsn", c.File, p.Lines["dsn"])
		if u, err := url.Parse(p.DSN); err == nil {
			if pw, ok := u.User.Password(); ok {
				if err := credentials.Check("password", pw); err != nil {
					return "", where, fmt.Errorf("%s: %w", where, err)
				}
			}
		}
		return p.DSN, where, nil
	}
	host, port := p.Host, p.Port
	if host == "" || port == 0 {
		h, ps, err := net.SplitHostPort(c.Listen.Primary)
		if err != nil {
			return "", where, fmt.Errorf("%s: listen.primary %q: %w", where, c.Listen.Primary, err)
		}
		if host == "" {
			host = h
		}
		if port == 0 {
			port, _ = strconv.Atoi(ps)
		}
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	user := p.User
	if user == "" {
		user = credentials.ProbeRole
	}
	if user == credentials.SuperuserName {
		// The probe's password sits in the head node's memory and files;
		// a superuser's runs shell commands on the nodes.
		return "", where, fmt.Errorf("%s:%d: probe.user: the probe writes as its own role, not the superuser %q (leave it out: %s)",
			c.File, p.Lines["user"], user, credentials.ProbeRole)
	}
	if p.PasswordFile != "" {
		b, err := os.ReadFile(p.PasswordFile)
		if err != nil {
			return "", where, fmt.Errorf("%s:%d: probe.password_file: %w", c.File, p.Lines["password_file"], err)
		}
		password = strings.TrimRight(string(b), "\r\n")
		if password == "" {
			return "", where, fmt.Errorf("%s:%d: probe.password_file: %s is empty", c.File, p.Lines["password_file"], p.PasswordFile)
		}
	}
	if err := credentials.Check("password", password); err != nil {
		return "", where, fmt.Errorf("%s: probe: %w", where, err)
	}
	db := p.Database
	if db == "" {
		db = "postgres"
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: "/" + db}
	return u.String(), where, nil
}
