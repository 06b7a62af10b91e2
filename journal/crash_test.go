package journal

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const crashWriterEnv = "REDSWITCH_JOURNAL_CRASH_WRITER"

// detailFor makes records of very different sizes, so that a kill lands in
// the middle of a large write now and then, and lets the reader check that
// a record's content belongs to its seq.
func detailFor(seq uint64) string {
	n := 16
	if seq%4 == 0 {
		n = 256 << 10
	}
	return strings.Repeat(strconv.FormatUint(seq%10, 10), n)
}

// crashSegmentSize makes segments of a few records, so that kills also
// land around the start of a new segment.
const crashSegmentSize = 1 << 20

// crashWriter runs in the re-executed test binary: it appends until killed
// and reports every acknowledged seq on stdout.
func crashWriter(dir string) {
	j, _, err := Open(dir, nil, Options{SegmentSize: crashSegmentSize})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	for {
		e, err := j.Append(Event{Kind: KindProbeAck, Detail: detailFor(j.LastSeq() + 1)})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintf(out, "%d\n", e.Seq)
		out.Flush()
	}
}

func TestKill9MidAppend(t *testing.T) {
	if path := os.Getenv(crashWriterEnv); path != "" {
		crashWriter(path)
		return
	}
	if testing.Short() {
		t.Skip("re-executes the test binary; skipped in -short")
	}
	path := filepath.Join(t.TempDir(), "journal")
	torn := 0
	var acked uint64
	for round := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKill9MidAppend$")
		cmd.Env = append(os.Environ(), crashWriterEnv+"="+path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		seen := 0
		for sc.Scan() {
			n, err := strconv.ParseUint(sc.Text(), 10, 64)
			if err != nil {
				t.Fatalf("round %d: child said %q", round, sc.Text())
			}
			acked = max(acked, n)
			seen++
			if seen == 60+round*17 {
				// Vary the moment of the kill a little.
				time.Sleep(time.Duration(round) * 300 * time.Microsecond)
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child ended with %v (stderr %q), want SIGKILL", round, err, stderr.String())
		}

		var logs bytes.Buffer
		j, events, err := Open(path, slog.New(slog.NewTextHandler(&logs, nil)), Options{SegmentSize: crashSegmentSize})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(logs.String(), "torn last line") {
			torn++
		}
		if strings.Contains(logs.String(), "invalid line") || strings.Contains(logs.String(), "older segment") {
			t.Errorf("round %d: damage before the newest segment's tail after a kill:\n%s", round, logs.String())
		}
		if uint64(len(events)) < acked {
			t.Fatalf("round %d: %d records survive, %d were acknowledged", round, len(events), acked)
		}
		for i, e := range events {
			if e.Seq != uint64(i+1) || e.Detail != detailFor(e.Seq) {
				t.Fatalf("round %d: record %d has seq %d and a %d-byte detail: damaged", round, i, e.Seq, len(e.Detail))
			}
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	}
	segs, err := listSegments(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) < 2 {
		t.Errorf("%d segments: the kills never crossed a new segment", len(segs))
	}
	t.Logf("4 kills, %d left a torn last line, %d records acknowledged in %d segments", torn, acked, len(segs))
}
