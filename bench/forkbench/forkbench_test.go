package forkbench

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/fork"
	"github.com/redswitch/redswitch/fork/pglocal"
	"github.com/redswitch/redswitch/prereq"
	"golang.org/x/sys/unix"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestSummarize(t *testing.T) {
	msd := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted
	}
	tests := []struct {
		name string
		in   []time.Duration
		want Latency
	}{
		{"one", msd(5), Latency{5, 5, 5, 1}},
		{"odd", msd(3, 1, 2), Latency{2, 3, 3, 3}},
		{"hundred", msd(hundred...), Latency{50, 99, 100, 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Summarize(tt.in); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if got := Summarize(nil); !math.IsNaN(got.P99) || got.N != 0 {
		t.Fatalf("empty: got %+v", got)
	}
}

func TestOverlapping(t *testing.T) {
	base := time.Unix(1000, 0)
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	ss := []sample{
		{at(0), 50 * time.Millisecond},  // ends before the window
		{at(80), 30 * time.Millisecond}, // ends inside
		{at(150), 10 * time.Millisecond},
		{at(190), 100 * time.Millisecond}, // starts inside, ends after
		{at(210), time.Millisecond},       // starts after
	}
	got := overlapping(ss, at(100), at(200))
	want := []time.Duration{30 * time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestPhaseMax(t *testing.T) {
	end := time.Unix(2000, 0)
	at := func(ms int) time.Time { return end.Add(time.Duration(ms) * time.Millisecond) }
	// Phases laid back from end: promote [-100,0], start+prepare
	// [-400,-100], copy [-450,-400], checkpoint [-650,-450].
	tm := fork.Timings{Checkpoint: 200 * time.Millisecond, Snapshot: 50 * time.Millisecond, Prepare: 100 * time.Millisecond,
		Start: 200 * time.Millisecond, Promote: 100 * time.Millisecond}
	tests := []struct {
		name    string
		samples []sample
		want    PhaseLatency
	}{
		{"none", nil, PhaseLatency{}},
		{"one per phase", []sample{
			{at(-600), 3 * time.Millisecond},
			{at(-430), 7 * time.Millisecond},
			{at(-300), 11 * time.Millisecond},
			{at(-50), 5 * time.Millisecond},
		}, PhaseLatency{Checkpoint: 3, Copy: 7, Start: 11, Promote: 5}},
		{"a long one spans phases", []sample{{at(-500), 380 * time.Millisecond}}, PhaseLatency{Checkpoint: 380, Copy: 380, Start: 380}},
		{"before the fork", []sample{{at(-900), 10 * time.Millisecond}}, PhaseLatency{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := phaseMax(&load{samples: tt.samples}, end, tm); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPhaseLatencyWorst(t *testing.T) {
	a := PhaseLatency{Checkpoint: 5, Copy: 1, Start: 9, Promote: 0}
	b := PhaseLatency{Checkpoint: 2, Copy: 7, Start: 9, Promote: 3}
	want := PhaseLatency{Checkpoint: 5, Copy: 7, Start: 9, Promote: 3}
	if got := a.worst(b); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got := (PhaseLatency{}).worst(a); got != a {
		t.Fatalf("zero.worst(a) = %+v, want %+v", got, a)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
		idx  int
	}{
		{[]float64{5}, 5, 0},
		{[]float64{3, 1, 2}, 2, 2},
		{[]float64{4, 1, 3, 2}, 2, 3}, // the lower median
	}
	for _, tt := range tests {
		if idx := medianIndex(tt.in); tt.in[idx] != tt.want || idx != tt.idx {
			t.Errorf("median of %v at %d, want %v at %d", tt.in, idx, tt.want, tt.idx)
		}
	}
}

func TestServerSettings(t *testing.T) {
	rig := "checkpoint_timeout=" + cluster.CheckpointTimeout
	for _, c := range []struct {
		name  string
		extra []fork.Setting
		want  string
	}{
		{"the rig's", nil, rig},
		{"overridden, any case", []fork.Setting{{Key: "Checkpoint_Timeout", Value: "5min"}}, "Checkpoint_Timeout=5min"},
		{"added", []fork.Setting{{Key: "max_wal_size", Value: "4GB"}}, rig + ",max_wal_size=4GB"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, s := range serverSettings(c.extra) {
				got = append(got, s.Key+"="+s.Value)
			}
			if g := strings.Join(got, ","); g != c.want {
				t.Fatalf("got %q, want %q", g, c.want)
			}
		})
	}
}

func TestCPUSet(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []int
		err  string
	}{
		{"0", []int{0}, ""},
		{"0,2-3", []int{0, 2, 3}, ""},
		{"3-1", nil, "range 3-1"},
		{"2000", nil, "range 2000"},
		{"x", nil, "CPU list"},
	} {
		t.Run(c.in, func(t *testing.T) {
			set, err := cpuSet(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for i := range 8 {
				if set.IsSet(i) {
					got = append(got, i)
				}
			}
			if !slices.Equal(got, c.want) || set.Count() != len(c.want) {
				t.Fatalf("got %v (count %d), want %v", got, set.Count(), c.want)
			}
		})
	}
}

func TestPgbenchInitArgs(t *testing.T) {
	got := strings.Join(PgbenchInitArgs("/usr/lib/postgresql/15/bin", 5433, 100), " ")
	want := "/usr/lib/postgresql/15/bin/pgbench -i -q -s 100 -h 127.0.0.1 -p 5433 -U postgres postgres"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func sampleResults() Results {
	return Results{
		Machine:  Machine{CPU: "Test CPU", Cores: 2, MemBytes: 8 << 30, Kernel: "6.1.0", Postgres: "postgres (PostgreSQL) 15.18", Storage: "btrfs on a loop device", LoadTPS: 200, Clients: 4, ServerSettings: []string{"checkpoint_timeout=1min"}, SyncReplica: true, PrimaryCPUs: "0", ForkCPUs: "1", SteadyS: 120, ForkSched: "SCHED_IDLE", GoVersion: "go1.26", LoadAvgStart: "0.50 0.40 0.30", LoadAvgEnd: "1.00 0.60 0.40"},
		Controls: []Control{{Scale: 10, Source: "replica", Windows: 3, WindowS: 0.5, P50Ms: 2, P99Ms: 5, MaxMs: 7, Samples: 300, SteadyP99Ms: 6}},
		Rows: []Row{
			{Scale: 10, Method: "snapshot", Source: "replica", Forks: 3, ToWritableS: 0.9, ToWritableMaxS: 1.1, PhaseMaxMs: PhaseLatency{Checkpoint: 4, Copy: 5, Start: 12, Promote: 7}, LatencyP50Ms: 3, LatencyP99Ms: 9, LatencyMaxMs: 12, SteadyP50Ms: 2.5, SteadyP99Ms: 6, SteadyMaxMs: 20, DiskBytes: 5 << 20, ReplayBytes: 34 << 20, CheckpointS: 0.2, CopyS: 0.03, StartS: 0.4, PromoteS: 0.2, Samples: 180, SourceDBBytes: 160 << 20},
			{Scale: 10, Method: "copy", Source: "replica", Error: "cp: no space | left"},
			{Scale: 100, Method: "basebackup", Source: "primary", Forks: 1, ToWritableS: 12.5, ToWritableMaxS: 12.5, PhaseMaxMs: PhaseLatency{Copy: 80, Start: 30, Promote: 9}, LatencyP50Ms: 3, LatencyP99Ms: 30, LatencyMaxMs: 80, SteadyP50Ms: 2.5, SteadyP99Ms: 6, SteadyMaxMs: 20, DiskBytes: 1600 << 20, CopyS: 11, StartS: 1, PromoteS: 0.2, Samples: 2500, SourceDBBytes: 1500 << 20},
		},
	}
}

func TestRenderReportGolden(t *testing.T) {
	got := RenderReport(sampleResults())
	path := filepath.Join("testdata", "report.golden.md")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("report differs from %s (run with -update):\n%s", path, got)
	}
}

func TestParseResults(t *testing.T) {
	good, err := json.Marshal(sampleResults())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseResults(good); err != nil {
		t.Fatalf("good results rejected: %v", err)
	}
	tests := []struct {
		name, in, wantErr string
	}{
		{"not json", "{", "results.json: unexpected EOF"},
		{"no rows", `{"rows":[]}`, "field rows: empty"},
		{"bad scale", `{"rows":[{"scale":0,"method":"snapshot"}]}`, "rows[0].scale"},
		{"bad method", `{"rows":[{"scale":1,"method":"zfs"}]}`, "rows[0].method"},
		{"bad source", `{"rows":[{"scale":1,"method":"copy","source":"standby"}]}`, "rows[0].source"},
		{"no forks", `{"rows":[{"scale":1,"method":"copy","source":"replica","to_writable_s":1,"to_writable_max_s":1,"steady_p50_ms":1,"steady_p99_ms":1,"steady_max_ms":1}]}`, "rows[0].forks"},
		{"negative replay", `{"rows":[{"scale":1,"method":"snapshot","source":"replica","forks":1,"to_writable_s":1,"to_writable_max_s":1,"steady_p50_ms":1,"steady_p99_ms":1,"steady_max_ms":1,"replay_bytes":-1}]}`, "rows[0].replay_bytes"},
		{"max below median", `{"rows":[{"scale":1,"method":"copy","source":"replica","forks":2,"to_writable_s":2,"to_writable_max_s":1,"steady_p50_ms":1,"steady_p99_ms":1,"steady_max_ms":1}]}`, "rows[0].to_writable_max_s"},
		{"zero time", `{"rows":[{"scale":1,"method":"copy","source":"replica","steady_p50_ms":1,"steady_p99_ms":1,"steady_max_ms":1}]}`, "rows[0].to_writable_s"},
		{"order", `{"rows":[{"scale":1,"method":"copy","source":"primary","to_writable_s":1,"latency_p50_ms":5,"latency_p99_ms":1,"latency_max_ms":9,"steady_p50_ms":1,"steady_p99_ms":1,"steady_max_ms":1}]}`, "out of order"},
		{"bad control", `{"rows":[{"scale":1,"method":"copy","source":"replica","error":"x"}],"controls":[{"scale":1,"windows":0,"window_s":1}]}`, "controls[0]"},
		{"control order", `{"rows":[{"scale":1,"method":"copy","source":"replica","error":"x"}],"controls":[{"scale":1,"windows":1,"window_s":1,"p50_ms":3,"p99_ms":2,"max_ms":4}]}`, "controls[0]: percentiles"},
		{"unknown field", `{"rows":[],"extra":1}`, `unknown field "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseResults([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func FuzzParseResults(f *testing.F) {
	good, _ := json.Marshal(sampleResults())
	f.Add(good)
	f.Add([]byte(`{"rows":[{"scale":1,"method":"copy","source":"replica"}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := ParseResults(in)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "results.json: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(r.Rows) == 0 {
			t.Fatal("accepted results without rows")
		}
		_ = RenderReport(r) // must not panic on anything accepted
	})
}

func TestPlotFiles(t *testing.T) {
	dir := t.TempDir()
	png, svg := filepath.Join(dir, "f.png"), filepath.Join(dir, "f.svg")
	if err := Plot(sampleResults(), png, svg); err != nil {
		t.Fatal(err)
	}
	checkImages(t, png, svg)
}

func checkImages(t *testing.T, png, svg string) {
	t.Helper()
	b, err := os.ReadFile(png)
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("%s is not a PNG (%v)", png, err)
	}
	b, err = os.ReadFile(svg)
	if err != nil || !bytes.Contains(b, []byte("<svg")) || !bytes.Contains(b, []byte("snapshot")) {
		t.Errorf("%s is not an SVG with a legend (%v)", svg, err)
	}
}

// TestRunScale1 runs the whole bench at scale 1 and checks the files are
// well formed (not the performance targets).
func TestRunScale1(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test; -short given")
	}
	// Root, btrfs-progs and PostgreSQL 15 are what scripts/install-deps.sh
	// and CI provide: missing under CI=true, they fail the test.
	if os.Geteuid() != 0 {
		prereq.Missing(t, "needs root for the btrfs loop device and to run PostgreSQL as postgres")
	}
	if _, err := exec.LookPath("mkfs.btrfs"); err != nil {
		prereq.Missing(t, "needs btrfs-progs (mkfs.btrfs): apt-get install -y btrfs-progs")
	}
	if _, err := os.Stat(filepath.Join(pglocal.DefaultBinDir, "pgbench")); err != nil {
		prereq.Missing(t, "needs postgresql-15 with pgbench in %s: %v", pglocal.DefaultBinDir, err)
	}
	out := t.TempDir()
	for _, d := range []string{filepath.Dir(out), out} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The forks' image in a directory of its own, as --forks-image-dir
	// puts it on another disk; a server setting the report must name.
	imgDir := filepath.Join(out, "forks-images")
	runtime.LockOSThread() // the CPU check below reads this thread's set
	defer runtime.UnlockOSThread()
	var before unix.CPUSet
	if err := unix.SchedGetaffinity(0, &before); err != nil {
		t.Fatal(err)
	}
	err := Run(ctx, Options{Scales: []int{1}, Out: out, ForksImageDir: imgDir, Steady: 2 * time.Second, Settle: 500 * time.Millisecond, ForkWrites: 200, Repeat: 2,
		ServerSettings: []fork.Setting{{Key: "checkpoint_timeout", Value: "45s"}},
		// CPU 0 exists everywhere: the servers, forks and load run through
		// taskset and the pinned process, which is given back its CPUs;
		// the forks also through chrt --idle.
		PrimaryCPUs: "0", ForkCPUs: "0", Idle: true, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	var after unix.CPUSet
	if err := unix.SchedGetaffinity(0, &after); err != nil || after.Count() != before.Count() {
		t.Errorf("after the run this thread may use %d CPUs, before %d (%v)", after.Count(), before.Count(), err)
	}
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := ParseResults(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != len(fork.Methods) {
		t.Fatalf("%d rows, want one per method", len(res.Rows))
	}
	for i, m := range fork.Methods {
		r := res.Rows[i]
		if r.Method != string(m) || r.Source != SourceReplica || r.Forks != 2 || r.Scale != 1 || r.Error != "" || r.DiskBytes <= 0 || r.Samples == 0 {
			t.Errorf("row %d: %+v", i, r)
		}
	}
	// A replica's snapshot replays at least the WAL since its restartpoint.
	if r := res.Rows[0]; r.Method != string(fork.Snapshot) || r.ReplayBytes <= 0 {
		t.Errorf("snapshot row replayed %d bytes, want some WAL", r.ReplayBytes)
	}
	if res.Machine.ForkSched != "SCHED_IDLE" || res.Machine.SteadyS != 2 {
		t.Errorf("machine fork_sched %q, steady_s %v; want SCHED_IDLE, 2", res.Machine.ForkSched, res.Machine.SteadyS)
	}
	if res.Machine.PrimaryCPUs != "0" || res.Machine.ForkCPUs != "0" {
		t.Errorf("machine CPUs %q / %q, want 0 / 0", res.Machine.PrimaryCPUs, res.Machine.ForkCPUs)
	}
	if got := strings.Join(res.Machine.ServerSettings, ","); got != "checkpoint_timeout=45s" {
		t.Errorf("machine.server_settings = %q", got)
	}
	if !strings.Contains(res.Machine.Storage, imgDir) {
		t.Errorf("storage %q does not name the forks' image directory %s", res.Machine.Storage, imgDir)
	}
	if ents, _ := os.ReadDir(imgDir); len(ents) > 0 {
		t.Errorf("forks' image left behind: %v", ents)
	}
	report, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if string(report) != RenderReport(res) {
		t.Error("report.md does not match results.json")
	}
	checkImages(t, filepath.Join(out, "fork.png"), filepath.Join(out, "fork.svg"))
	if len(res.Controls) != 1 || res.Controls[0].Samples == 0 || res.Controls[0].Windows != 2 {
		t.Errorf("controls: %+v, want one for scale 1 with samples from 2 windows", res.Controls)
	}
	if ents, _ := os.ReadDir(filepath.Join(out, "work")); len(ents) > 1 {
		t.Errorf("work directory not cleaned: %v", ents)
	}
}
