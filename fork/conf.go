package fork

import (
	"fmt"
	"strings"
)

// Setting is one configuration parameter as PostgreSQL reads it.
type Setting struct {
	Key, Value string
}

// confLine is one parsed line of a postgresql.conf-style file. Key is empty
// for blank and comment-only lines.
type confLine struct {
	Key   string // lower-cased, as PostgreSQL matches names case-insensitively
	Value string // unquoted
}

// parseConfLine parses one line of postgresql.conf syntax:
// `name = value`, `name value`, with an optional `# comment`; values may be
// single-quoted with ” or \' for a quote.
func parseConfLine(line string) (confLine, error) {
	s := strings.TrimLeft(line, " \t\r")
	if s == "" || s[0] == '#' {
		return confLine{}, nil
	}
	i := 0
	for i < len(s) && !strings.ContainsRune(" \t\r=#'", rune(s[i])) {
		i++
	}
	if i == 0 {
		return confLine{}, fmt.Errorf("expected a parameter name, found %q", s)
	}
	key := strings.ToLower(s[:i])
	rest := strings.TrimLeft(s[i:], " \t\r")
	if strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], " \t\r")
	}
	if rest == "" || rest[0] == '#' {
		return confLine{}, fmt.Errorf("parameter %q has no value", key)
	}
	var val string
	if rest[0] == '\'' {
		var b strings.Builder
		j := 1
		closed := false
		for j < len(rest) {
			c := rest[j]
			switch {
			case c == '\\' && j+1 < len(rest):
				b.WriteByte(rest[j+1])
				j += 2
				continue
			case c == '\'' && j+1 < len(rest) && rest[j+1] == '\'':
				b.WriteByte('\'')
				j += 2
				continue
			case c == '\'':
				closed = true
			default:
				b.WriteByte(c)
			}
			j++
			if closed {
				break
			}
		}
		if !closed {
			return confLine{}, fmt.Errorf("parameter %q: unterminated quoted value", key)
		}
		val = b.String()
		rest = rest[j:]
	} else {
		j := 0
		for j < len(rest) && !strings.ContainsRune(" \t\r#", rune(rest[j])) {
			j++
		}
		val = rest[:j]
		rest = rest[j:]
	}
	rest = strings.TrimLeft(rest, " \t\r")
	if rest != "" && rest[0] != '#' {
		return confLine{}, fmt.Errorf("parameter %q: unexpected %q after the value", key, rest)
	}
	return confLine{Key: key, Value: val}, nil
}

// quoteConf renders a value as a single-quoted postgresql.conf literal.
func quoteConf(v string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), "'", "''") + "'"
}

// ConfEdit says how to rewrite one configuration file.
type ConfEdit struct {
	// Drop reports whether a parameter must go; dropped lines are kept as
	// comments so the fork's files show what was removed.
	Drop func(key string) bool
	// Rewrite maps a kept parameter's value (e.g. a path into the source
	// data directory); nil keeps values as they are.
	Rewrite func(key, value string) string
	// Set is appended in order; earlier lines with the same names are dropped.
	Set []Setting
}

// droppedPrefix marks a line commented out by EditConf.
const droppedPrefix = "#redswitch-fork dropped: "

// EditConf rewrites the text of a postgresql.conf-style file. It is pure:
// the caller reads and writes the file. Errors name the 1-based line.
func EditConf(text string, e ConfEdit) (string, error) {
	set := make(map[string]bool, len(e.Set))
	for _, s := range e.Set {
		set[strings.ToLower(s.Key)] = true
	}
	lines := strings.Split(text, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var b strings.Builder
	for n, line := range lines {
		cl, err := parseConfLine(line)
		if err != nil {
			return "", fmt.Errorf("line %d: %w", n+1, err)
		}
		switch {
		case cl.Key == "":
			b.WriteString(line)
		case set[cl.Key] || (e.Drop != nil && e.Drop(cl.Key)):
			b.WriteString(droppedPrefix + strings.TrimLeft(line, " \t"))
		case e.Rewrite != nil:
			if nv := e.Rewrite(cl.Key, cl.Value); nv != cl.Value {
				b.WriteString(cl.Key + " = " + quoteConf(nv))
			} else {
				b.WriteString(line)
			}
		default:
			b.WriteString(line)
		}
		b.WriteByte('\n')
	}
	for _, s := range e.Set {
		b.WriteString(strings.ToLower(s.Key) + " = " + quoteConf(s.Value) + "\n")
	}
	return b.String(), nil
}

// ConfSettings returns the parameters a file sets, in order.
func ConfSettings(text string) ([]Setting, error) {
	var out []Setting
	for n, line := range strings.Split(text, "\n") {
		cl, err := parseConfLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		if cl.Key != "" {
			out = append(out, Setting{cl.Key, cl.Value})
		}
	}
	return out, nil
}
