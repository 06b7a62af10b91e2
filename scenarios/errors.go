package scenarios

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Error is one problem found in a scenario file, located by line and
// column (1-based; Column is 0 when only the line is known) and by the
// field's path such as "steps[1].power.off".
type Error struct {
	File         string
	Line, Column int
	Field        string
	Msg          string
}

// Error renders "file:line:col: field: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	fmt.Fprintf(&b, ":%d", e.Line)
	if e.Column > 0 {
		fmt.Fprintf(&b, ":%d", e.Column)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// yamlLine finds the line number in a yaml.v3 syntax error, which reads
// "yaml: line 7: did not find expected key".
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// syntaxError turns a yaml.v3 error into an Error with a line: the YAML
// library names the line in its text, or nothing at all (then line 1).
func syntaxError(file string, err error) *Error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, convErr := strconv.Atoi(m[1])
		if convErr == nil && line > 0 {
			return &Error{File: file, Line: line, Msg: "invalid YAML: " + msg[len(m[0]):]}
		}
	}
	return &Error{File: file, Line: 1, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}
