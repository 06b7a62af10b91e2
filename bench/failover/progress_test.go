package failover

import (
	"strings"
	"testing"
)

func TestProgressLine(t *testing.T) {
	for _, c := range []struct {
		name        string
		done, total int
		samples     []float64
		last        string
		want        string
	}{
		{"start", 0, 4, nil, "", "aggressive [........] 0/4"},
		{"half", 2, 4, []float64{9, 7}, "7.00 s", "aggressive [####....] 2/4  median 7.00 s  last 7.00 s"},
		{"done", 4, 4, []float64{1, 2, 3, 4}, "", "aggressive [########] 4/4  median 2.00 s"},
		{"overflow clamps", 9, 4, nil, "", "aggressive [########] 4/4"},
		{"zero total", 0, 0, nil, "", "aggressive [........] 0/1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ProgressLine("aggressive", c.done, c.total, c.samples, c.last, 8); got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestProgressRedraws(t *testing.T) {
	var b strings.Builder
	p := newProgress(&b, "default", 2)
	p.status("booting a long note")
	p.add(30, true, "30.00 s")
	p.add(0, false, "failed")
	p.finish()
	out := b.String()
	if strings.Count(out, "\r") < 3 || !strings.HasSuffix(out, "\n") {
		t.Errorf("want in-place redraws ending in a newline, got %q", out)
	}
	if !strings.Contains(out, "2/2  median 30.00 s  last failed") {
		t.Errorf("a failed trial must count as done but not in the median: %q", out)
	}
	var nilBar *progress
	nilBar.status("x") // a nil bar is silent
	nilBar.add(1, true, "")
}
