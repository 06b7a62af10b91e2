package haproxy

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ServerState is one backend server's status as HAProxy's stats report it.
type ServerState struct {
	// Listener is "primary" or "replicas".
	Listener string
	Server   string
	// Up is true when HAProxy routes to the server.
	Up     bool
	Status string
}

// ParseStats reads the CSV of HAProxy's "show stat" and returns the state of
// every server line (not FRONTEND/BACKEND summaries).
func ParseStats(r io.Reader) ([]ServerState, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("haproxy stats: header: %w", err)
	}
	if len(header) == 0 {
		return nil, errors.New("haproxy stats: empty header")
	}
	header[0] = strings.TrimPrefix(strings.TrimSpace(header[0]), "# ")
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for _, need := range []string{"pxname", "svname", "status"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("haproxy stats: header lacks column %q", need)
		}
	}
	var out []ServerState
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("haproxy stats: line %d: %w", line, err)
		}
		if len(rec) <= col["status"] || len(rec) <= col["svname"] || len(rec) <= col["pxname"] {
			continue
		}
		sv := rec[col["svname"]]
		if sv == "FRONTEND" || sv == "BACKEND" || sv == "" {
			continue
		}
		st := rec[col["status"]]
		out = append(out, ServerState{Listener: rec[col["pxname"]], Server: sv, Status: st,
			Up: strings.HasPrefix(st, "UP")})
	}
}
