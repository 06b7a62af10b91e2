package fork

import (
	"fmt"
	"strings"
)

// ParsePostmasterOpts reads the settings a running server was given on its
// command line, from the postmaster.opts file PostgreSQL writes at start:
// the program path, then each argument in double quotes. Patroni passes
// settings such as max_connections and listen_addresses this way, and a fork
// started without them may refuse to start (a standby needs at least the
// primary's max_connections). The data directory (-D) is not a setting and
// is left out.
func ParsePostmasterOpts(text string) ([]Setting, error) {
	args, err := splitOpts(strings.TrimSpace(text))
	if err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("postmaster.opts: empty")
	}
	short := map[string]string{
		"-B": "shared_buffers", "-N": "max_connections", "-p": "port",
		"-h": "listen_addresses", "-k": "unix_socket_directories", "-D": "",
	}
	var out []Setting
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "--"):
			k, v, ok := strings.Cut(a[2:], "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("postmaster.opts: argument %d %q: want --name=value", i, a)
			}
			out = append(out, Setting{strings.ReplaceAll(strings.ToLower(k), "-", "_"), v})
		case strings.HasPrefix(a, "-c"):
			kv := strings.TrimPrefix(a, "-c")
			if kv == "" {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("postmaster.opts: argument %d: -c without a value", i)
				}
				i++
				kv = args[i]
			}
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("postmaster.opts: argument %d %q: want -c name=value", i, kv)
			}
			out = append(out, Setting{strings.ReplaceAll(strings.ToLower(k), "-", "_"), v})
		case a == "-i":
			out = append(out, Setting{"listen_addresses", "*"})
		case len(a) >= 2 && hasKey(short, a[:2]):
			name := short[a[:2]]
			v := a[2:]
			if v == "" {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("postmaster.opts: argument %d: %s without a value", i, a)
				}
				i++
				v = args[i]
			}
			if name != "" {
				out = append(out, Setting{name, v})
			}
		default:
			return nil, fmt.Errorf("postmaster.opts: argument %d %q: unsupported option", i, a)
		}
	}
	return out, nil
}

// splitOpts splits postmaster.opts: an unquoted first word, then
// double-quoted arguments (PostgreSQL does not escape inside them).
func splitOpts(s string) ([]string, error) {
	var out []string
	for s != "" {
		s = strings.TrimLeft(s, " \t\r\n")
		if s == "" {
			break
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("postmaster.opts: unterminated quote in %q", s)
			}
			out = append(out, s[1:1+end])
			s = s[end+2:]
			continue
		}
		end := strings.IndexAny(s, " \t\r\n")
		if end < 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out, nil
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}
