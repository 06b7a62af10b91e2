package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// segmentSeqs reads every segment of dir directly: file name → seqs.
func segmentSeqs(t *testing.T, dir string) map[string][]uint64 {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]uint64{}
	for _, s := range segs {
		f, err := os.Open(s.path)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Read(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Problems) > 0 {
			t.Errorf("%s: %v", s.path, c.Problems)
		}
		seqs := []uint64{}
		for _, e := range c.Events {
			seqs = append(seqs, e.Seq)
		}
		out[filepath.Base(s.path)] = seqs
	}
	return out
}

// fakeDay is an injectable Now that a test moves across midnight.
type fakeDay struct {
	mu sync.Mutex
	t  time.Time
}

func (d *fakeDay) now() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.t
}

func (d *fakeDay) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.t = t
}

func TestRotation(t *testing.T) {
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	sample, err := json.Marshal(Event{Seq: 1, At: at, Kind: KindMark, Detail: "x"})
	if err != nil {
		t.Fatal(err)
	}
	lineLen := int64(len(sample) + 1) // the same for seq 1..9
	midnight := time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		segSize int64
		// now is the clock at each append.
		now  []time.Time
		want map[string][]uint64
	}{
		{
			name:    "by size: two lines fit",
			segSize: 2 * lineLen,
			now:     []time.Time{at, at, at, at, at},
			want:    map[string][]uint64{"000001.jsonl": {1, 2}, "000002.jsonl": {3, 4}, "000003.jsonl": {5}},
		},
		{
			name:    "a line larger than the size gets a segment of its own",
			segSize: 10,
			now:     []time.Time{at, at, at},
			want:    map[string][]uint64{"000001.jsonl": {1}, "000002.jsonl": {2}, "000003.jsonl": {3}},
		},
		{
			name:    "by UTC day",
			segSize: DefaultSegmentSize,
			now: []time.Time{at, midnight.Add(-time.Nanosecond), midnight, midnight.Add(time.Hour),
				midnight.Add(50 * time.Hour)},
			want: map[string][]uint64{"000001.jsonl": {1, 2}, "000002.jsonl": {3, 4}, "000003.jsonl": {5}},
		},
		{
			name:    "a local midnight is no UTC day change",
			segSize: DefaultSegmentSize,
			now: []time.Time{
				time.Date(2025, 3, 1, 23, 30, 0, 0, time.FixedZone("CET", 3600)),
				time.Date(2025, 3, 2, 0, 30, 0, 0, time.FixedZone("CET", 3600)),
			},
			want: map[string][]uint64{"000001.jsonl": {1, 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "journal")
			day := &fakeDay{t: tt.now[0]}
			j, _, err := Open(dir, nil, Options{SegmentSize: tt.segSize, Now: day.now})
			if err != nil {
				t.Fatal(err)
			}
			for i, now := range tt.now {
				day.set(now)
				e, err := j.Append(Event{At: at, Kind: KindMark, Detail: "x"})
				if err != nil {
					t.Fatal(err)
				}
				if e.Seq != uint64(i+1) {
					t.Fatalf("append %d got seq %d", i, e.Seq)
				}
			}
			names := slices.Sorted(maps.Keys(tt.want))
			if got, want := filepath.Base(j.Path()), names[len(names)-1]; got != want {
				t.Errorf("Path() = %s, want the newest segment %s", got, want)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			if got := segmentSeqs(t, dir); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("segments = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSegmentsAcrossRestarts appends over several runs, each rotating
// more than once: numbering continues, Open and ReadDir hand back the whole
// history, and a segment once left behind never changes.
func TestSegmentsAcrossRestarts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	day := &fakeDay{t: day0()}
	opts := Options{SegmentSize: 300, Now: day.now}
	old := map[string][]byte{}
	var seq uint64
	for round := range 3 {
		j, events, err := Open(dir, nil, opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != int(seq) {
			t.Fatalf("round %d: Open read %d events, want %d", round, len(events), seq)
		}
		for i, e := range events {
			if e.Seq != uint64(i+1) {
				t.Fatalf("round %d: event %d has seq %d", round, i, e.Seq)
			}
		}
		for i := range 7 {
			if i == 5 {
				day.set(day.now().Add(24 * time.Hour))
			}
			e, err := j.Append(Event{Kind: KindMark, Detail: strings.Repeat("r", 40+round*i)})
			if err != nil {
				t.Fatal(err)
			}
			seq++
			if e.Seq != seq {
				t.Fatalf("round %d: seq %d, want %d", round, e.Seq, seq)
			}
		}
		newest := filepath.Base(j.Path())
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		segs, err := listSegments(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range segs {
			b, err := os.ReadFile(s.path)
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Base(s.path)
			if prev, ok := old[name]; ok && !bytes.Equal(prev, b) {
				t.Errorf("round %d: older segment %s changed", round, name)
			}
			if name != newest {
				old[name] = b
			}
		}
		all, err := ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != int(seq) || all[len(all)-1].Seq != seq {
			t.Fatalf("round %d: ReadDir returned %d events, want %d", round, len(all), seq)
		}
	}
	if len(old) < 4 {
		t.Errorf("only %d segments were left behind: the test did not rotate", len(old))
	}
}

func TestDamagedSegments(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	first := line(1, KindMark) + "garbage\n" + line(3, KindMark) + `{"se`
	second := line(5, KindMark) + `{"seq":6,"at":"2025-01-01T00:00:00Z","ki`
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("000001.jsonl", first)
	write("000002.jsonl", second)
	write("000002.jsonl.torn", "") // earlier torn tails are kept, not read
	write("notes.txt", "not a segment\n")

	// ReadDir skips without cutting.
	got, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s := seqsOf(got); fmt.Sprint(s) != "[1 3 5]" {
		t.Errorf("ReadDir seqs = %v, want [1 3 5]", s)
	}

	var logs bytes.Buffer
	j, events, err := Open(dir, slog.New(slog.NewTextHandler(&logs, nil)), Options{Now: day0})
	if err != nil {
		t.Fatal(err)
	}
	if s := seqsOf(events); fmt.Sprint(s) != "[1 3 5]" {
		t.Errorf("Open seqs = %v, want [1 3 5]", s)
	}
	for _, w := range []string{"000001.jsonl:2", "invalid line", "000001.jsonl:4", "older segment", "000002.jsonl:2", "cutting it off"} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("log lacks %q:\n%s", w, logs.String())
		}
	}
	e, err := j.Append(Event{Kind: KindMark})
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != 6 {
		t.Errorf("next seq %d, want 6", e.Seq)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "000001.jsonl"))
	if string(b) != first {
		t.Errorf("the older segment was rewritten: %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "000001.jsonl.torn")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the older segment's damage was cut: %v", err)
	}
	torn, _ := os.ReadFile(filepath.Join(dir, "000002.jsonl.torn"))
	if want := `{"seq":6,"at":"2025-01-01T00:00:00Z","ki` + "\n"; string(torn) != want {
		t.Errorf("torn file = %q, want %q", torn, want)
	}
	b, _ = os.ReadFile(filepath.Join(dir, "000002.jsonl"))
	if !strings.HasPrefix(string(b), line(5, KindMark)+`{"seq":6,`) {
		t.Errorf("newest segment after the cut and an append = %q", b)
	}
}

func seqsOf(events []Event) []uint64 {
	var out []uint64
	for _, e := range events {
		out = append(out, e.Seq)
	}
	return out
}

func TestMigrateSingleFile(t *testing.T) {
	good := line(1, KindMark) + line(2, KindPower) + line(3, KindMark)
	tests := []struct {
		name string
		// legacy is the old file's content; "" means there is none.
		legacy   string
		segments bool
		// holdLegacy keeps the old file locked, as a running earlier
		// version does.
		holdLegacy bool
		wantErr    error
		wantErrMsg string
		wantSeqs   string
		wantTorn   string
	}{
		{name: "single file moves in", legacy: good, wantSeqs: "[1 2 3 4]"},
		{name: "its torn tail is cut as the newest segment's", legacy: good + `{"seq":4,"at"`,
			wantSeqs: "[1 2 3 4]", wantTorn: `{"seq":4,"at"` + "\n"},
		{name: "nothing to move", wantSeqs: "[1]"},
		{name: "already moved: segments and no single file", segments: true, wantSeqs: "[1 2]"},
		{name: "both a single file and segments", legacy: good, segments: true,
			wantErrMsg: "move one of them away"},
		{name: "single file held by an earlier version", legacy: good, holdLegacy: true, wantErr: ErrInUse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			legacy := filepath.Join(data, "journal.jsonl")
			dir := filepath.Join(data, "journal")
			if tt.legacy != "" {
				if err := os.WriteFile(legacy, []byte(tt.legacy), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tt.segments {
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "000001.jsonl"), []byte(line(1, KindMark)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tt.holdLegacy {
				f, err := os.Open(legacy)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
					t.Fatal(err)
				}
			}
			var logs bytes.Buffer
			j, _, err := Open(dir, slog.New(slog.NewTextHandler(&logs, nil)), Options{Legacy: legacy, Now: day0})
			if tt.wantErr != nil || tt.wantErrMsg != "" {
				if err == nil {
					j.Close()
					t.Fatal("Open succeeded")
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantErrMsg) {
					t.Fatalf("err = %v, want %v %q", err, tt.wantErr, tt.wantErrMsg)
				}
				if b, _ := os.ReadFile(legacy); string(b) != tt.legacy {
					t.Errorf("the single file changed on a refused Open: %q", b)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := j.Append(Event{Kind: KindMark, Detail: "after"}); err != nil {
				t.Fatal(err)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(legacy); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the single file is still there: %v", err)
			}
			if tt.legacy != "" && !strings.Contains(logs.String(), "moved the single-file journal") {
				t.Errorf("log does not tell of the move:\n%s", logs.String())
			}
			all, err := ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(seqsOf(all)); got != tt.wantSeqs {
				t.Errorf("seqs = %s, want %s", got, tt.wantSeqs)
			}
			torn, _ := os.ReadFile(filepath.Join(dir, "000001.jsonl.torn"))
			if string(torn) != tt.wantTorn {
				t.Errorf("torn = %q, want %q", torn, tt.wantTorn)
			}
		})
	}
}

func TestOneWriterPerDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	j, _, err := Open(dir, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(dir, nil, Options{}); !errors.Is(err, ErrInUse) {
		t.Fatalf("second Open = %v, want ErrInUse", err)
	}
	// Readers need no lock.
	if _, err := ReadDir(dir); err != nil {
		t.Fatalf("ReadDir beside a writer: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j2, _, err := Open(dir, nil, Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	j2.Close()
}

func TestSegmentName(t *testing.T) {
	tests := []struct {
		name string
		n    uint64
		ok   bool
	}{
		{"000001.jsonl", 1, true},
		{"000042.jsonl", 42, true},
		{"1234567.jsonl", 1234567, true},
		{"000000.jsonl", 0, false},
		{"0000001.jsonl", 0, false}, // not the name segment 1 gets
		{"1.jsonl", 0, false},
		{"000001.jsonl.torn", 0, false},
		{"journal.jsonl", 0, false},
		{"lock", 0, false},
		{"+00001.jsonl", 0, false},
		{".jsonl", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, ok := parseSegmentName(tt.name)
			if n != tt.n || ok != tt.ok {
				t.Errorf("parseSegmentName = %d, %v; want %d, %v", n, ok, tt.n, tt.ok)
			}
		})
	}
}

func FuzzSegmentName(f *testing.F) {
	for _, s := range []string{"000001.jsonl", "999999.jsonl", "1000000.jsonl", "0000001.jsonl", "x.jsonl", "000001.jsonl.torn"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		n, ok := parseSegmentName(name)
		if !ok {
			return
		}
		if n == 0 || segmentName(n) != name {
			t.Fatalf("%q parsed as segment %d, whose name is %q", name, n, segmentName(n))
		}
		if m, ok := parseSegmentName(segmentName(n + 1)); n+1 != 0 && (!ok || m != n+1) {
			t.Fatalf("the next segment's name %q does not parse back", segmentName(n+1))
		}
	})
}
