package fiu

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestWatchGolden(t *testing.T) {
	clk := &manualClock{t: t0}
	f := NewFake(t0, clk.Now)
	// Switch 1: flipped off at 100 ms with 2 bounces, back on at 300 ms.
	f.Script(17, append(append([]Step{{0, false}}, Bounce(100*time.Millisecond, true, 2, 700*time.Microsecond)...),
		Step{300 * time.Millisecond, false})...)
	// Switch 2: a 3 ms glitch at 150 ms (noise on the wire).
	f.Script(27, Step{0, false}, Step{150 * time.Millisecond, true}, Step{153 * time.Millisecond, false})
	// Switch 3: active high, On; unreadable from 200 to 250 ms.
	f.Script(22, Step{0, true})
	u, err := NewUnit(Options{Pins: f, Switches: threeSwitches(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	wt := newWatcher(&buf, u)
	wt.header()
	for d := time.Duration(0); d <= 400*time.Millisecond; d += 500 * time.Microsecond {
		switch d {
		case 200 * time.Millisecond:
			f.Fail(22, errors.New("line released"))
		case 250 * time.Millisecond:
			f.Fail(22, nil)
		}
		now := t0.Add(d)
		clk.Set(now)
		changes := u.step(now)
		wt.observe(now, u.snapshot(), changes)
	}
	if wt.err != nil {
		t.Fatal(wt.err)
	}
	golden(t, "watch.golden", buf.Bytes())
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestWatchRealTime(t *testing.T) {
	f := NewFake(time.Now(), time.Now)
	f.Script(17, Step{0, false})
	u, err := NewUnit(Options{Pins: f, Switches: []SwitchConfig{{ID: 1, Node: "n1", Pin: 17}}, Window: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Millisecond)
	defer cancel()
	var buf bytes.Buffer
	if err := Watch(ctx, &buf, u); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "switch 1 node n1  is ON (pin low)") {
		t.Errorf("watch output lacks the settled position:\n%s", buf.String())
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if err := Watch(ctx2, failWriter{}, u); err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Errorf("Watch to a broken writer: %v", err)
	}
}
