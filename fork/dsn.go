package fork

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// WithPort returns dsn pointing at another port, in the same form it came
// in: a postgres:// URL or a keyword=value string. A fork answers on the
// source's hosts and sockets with its own port.
func WithPort(dsn string, port int) (string, error) {
	if port <= 0 || port > 65535 {
		return "", fmt.Errorf("dsn: port %d out of range", port)
	}
	p := strconv.Itoa(port)
	if t := strings.TrimSpace(dsn); strings.HasPrefix(t, "postgres://") || strings.HasPrefix(t, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("dsn: %w", err)
		}
		if strings.ContainsAny(dsn, " \t\r\n\f\v") {
			return "", fmt.Errorf("dsn: URL with white space: escape it as %%20")
		}
		if strings.Contains(dsn, "#") {
			return "", fmt.Errorf("dsn: URL with a fragment (#): not a connection URL")
		}
		if strings.Contains(u.Host, ",") {
			return "", fmt.Errorf("dsn: multi-host URL %q: name one host", u.Host)
		}
		q := u.Query()
		switch {
		case q.Has("port"):
			q.Set("port", p)
			u.RawQuery = q.Encode()
		case u.Host == "":
			q.Set("port", p)
			u.RawQuery = q.Encode()
		default:
			u.Host = net.JoinHostPort(u.Hostname(), p)
		}
		out := u.String()
		if !strings.Contains(out, "://") {
			// net/url drops the empty authority ("postgres:?port=1").
			out = strings.Replace(out, ":", "://", 1)
		}
		return out, nil
	}
	kv, err := splitKeywords(dsn)
	if err != nil {
		return "", err
	}
	out := make([]string, 0, len(kv)+1)
	for _, f := range kv {
		if f[0] == "port" {
			if strings.Contains(f[1], ",") {
				return "", fmt.Errorf("dsn: multi-host port list %q: name one host", f[1])
			}
			continue
		}
		out = append(out, f[0]+"="+quoteKeyword(f[1]))
	}
	out = append(out, "port="+p)
	return strings.Join(out, " "), nil
}

// splitKeywords parses a libpq keyword=value connection string.
func splitKeywords(s string) ([][2]string, error) {
	var out [][2]string
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return out, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if key == "" || i >= len(s) || s[i] != '=' {
			return nil, fmt.Errorf("dsn: at byte %d: want keyword=value", start)
		}
		i++
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		var val strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					val.WriteByte(s[i+1])
					i += 2
					continue
				}
				i++
				if c == '\'' {
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("dsn: keyword %q: unterminated quoted value", key)
			}
		} else {
			for i < len(s) && !isSpace(s[i]) {
				if s[i] == '\\' {
					i++ // an escape; a trailing one escapes nothing
					if i >= len(s) {
						break
					}
				}
				val.WriteByte(s[i])
				i++
			}
		}
		out = append(out, [2]string{key, val.String()})
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// quoteKeyword quotes a libpq value when it needs it.
func quoteKeyword(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\r\f\v'\\") {
		return v
	}
	return "'" + strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), "'", `\'`) + "'"
}
