package agentapi

import (
	"fmt"
	"net"
	"strings"
)

// ParseListen checks where a fork's server should listen, the value of
// its listen_addresses: "" keeps the node's (every address, as Patroni
// runs PostgreSQL), "localhost" keeps it on the node, "*" is every
// address, else a comma-separated list of IP addresses (at most 8). It
// returns the value normalised. The fork keeps the node's pg_hba
// (scram-sha-256) and users, so wherever it listens it asks for the same
// passwords.
func ParseListen(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", "*", "localhost":
		return s, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) > 8 {
		return "", fmt.Errorf("listen %q: at most 8 addresses", s)
	}
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		ip := net.ParseIP(p)
		if ip == nil {
			return "", fmt.Errorf("listen %q: %q is not an IP address (want \"localhost\", \"*\" or IP addresses separated by commas)", s, p)
		}
		out = append(out, ip.String())
	}
	return strings.Join(out, ","), nil
}
