package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Problem is a line of a journal that could not be read back.
type Problem struct {
	// Line is the 1-based line number, Offset the byte offset of its start.
	Line   int
	Offset int64
	// Torn is set for the last line when it is incomplete or unparsable:
	// what a crash in the middle of a write leaves behind.
	Torn bool
	Err  error
}

// Error describes the problem with its line number.
func (p Problem) Error() string {
	if p.Torn {
		return fmt.Sprintf("line %d: torn last line: %v", p.Line, p.Err)
	}
	return fmt.Sprintf("line %d: %v", p.Line, p.Err)
}

// Contents is what Read found in a journal.
type Contents struct {
	// Events are the complete, valid records in file order.
	Events []Event
	// Problems are the skipped lines, in file order.
	Problems []Problem
	// Valid is the length of the prefix that ends with the last complete
	// line; a torn last line starts here. Size is the total length read.
	Valid, Size int64
	// Lines is the number of lines seen, including a torn last one.
	Lines int
}

// Read parses a journal. It never fails on bad content: invalid lines are
// returned as Problems. The error is only for failures of r itself.
func Read(r io.Reader) (Contents, error) {
	var c Contents
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			c.Lines++
			start := c.Size
			c.Size += int64(len(line))
			complete := line[len(line)-1] == '\n'
			e, perr := parseLine(line)
			switch {
			case !complete:
				if perr == nil {
					perr = errors.New("no newline at end")
				}
				c.Problems = append(c.Problems, Problem{Line: c.Lines, Offset: start, Torn: true, Err: perr})
			case perr != nil:
				c.Problems = append(c.Problems, Problem{Line: c.Lines, Offset: start, Err: perr})
				c.Valid = c.Size
			default:
				c.Events = append(c.Events, e)
				c.Valid = c.Size
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return c, fmt.Errorf("journal: read line %d: %w", c.Lines+1, err)
		}
	}
	// A complete but unparsable last line is torn too: a crash of the
	// machine can leave a line of zeros or a prefix that happens to end in
	// a newline. Cutting it lets the next append start a clean line.
	if n := len(c.Problems); n > 0 && c.Problems[n-1].Line == c.Lines && !c.Problems[n-1].Torn {
		c.Problems[n-1].Torn = true
		c.Valid = c.Problems[n-1].Offset
	}
	return c, nil
}

func parseLine(line []byte) (Event, error) {
	var e Event
	body := bytes.TrimRight(line, "\n")
	if len(bytes.TrimSpace(body)) == 0 {
		return e, errors.New("empty line")
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return e, fmt.Errorf("invalid JSON: %w", err)
	}
	if e.Kind == "" {
		return e, errors.New("record without kind")
	}
	if e.Seq == 0 {
		return e, errors.New("record without seq")
	}
	return e, nil
}
