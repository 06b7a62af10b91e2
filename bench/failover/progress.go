package failover

import (
	"fmt"
	"io"
	"strings"
)

// ProgressLine renders one line of the progress bar: the label, a bar of
// width cells, done of total, the running median of samples and the last
// result. Pure, so it is tested on its own.
func ProgressLine(label string, done, total int, samples []float64, last string, width int) string {
	if width < 1 {
		width = 1
	}
	if total < 1 {
		total = 1
	}
	done = min(max(done, 0), total)
	filled := done * width / total
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s [%s%s] %d/%d", label, strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total)
	if len(samples) > 0 {
		fmt.Fprintf(&b, "  median %.2f s", Summarize(samples).P50)
	}
	if last != "" {
		fmt.Fprintf(&b, "  last %s", last)
	}
	return b.String()
}

// progress redraws its line in place on a terminal.
type progress struct {
	w       io.Writer
	label   string
	total   int
	done    int
	samples []float64
	last    string
	width   int // of the previous line, to blank leftovers
}

func newProgress(w io.Writer, label string, total int) *progress {
	return &progress{w: w, label: label, total: total}
}

// status redraws the line with a transient note (what is happening now).
func (p *progress) status(note string) {
	if p == nil || p.w == nil {
		return
	}
	line := ProgressLine(p.label, p.done, p.total, p.samples, p.last, 20)
	if note != "" {
		line += "  (" + note + ")"
	}
	pad := max(p.width-len(line), 0)
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
	p.width = len(line)
}

// add counts a finished trial; sample is NaN-free seconds, or ok=false for
// a failed trial.
func (p *progress) add(sample float64, ok bool, last string) {
	if p == nil {
		return
	}
	p.done++
	if ok {
		p.samples = append(p.samples, sample)
	}
	p.last = last
	p.status("")
}

// finish ends the line.
func (p *progress) finish() {
	if p == nil || p.w == nil {
		return
	}
	p.status("")
	fmt.Fprintln(p.w)
}
