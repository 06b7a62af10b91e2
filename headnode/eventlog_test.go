package headnode

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/redswitch/redswitch/journal"
)

// slowSync holds every fsync until release is closed, as a slow SD card
// at failover time; entered reports that one began.
type slowSync struct {
	journal.WriteSyncer
	entered chan<- struct{}
	release <-chan struct{}
}

func (s slowSync) Sync() error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-s.release
	return s.WriteSyncer.Sync()
}

// TestUnsyncedAppendDoesNotWaitForSync: while a power event waits for its
// fsync, a probe acknowledgement is recorded at once, both keep their
// order in memory and on disk, and the power event returns only once
// synced.
func TestUnsyncedAppendDoesNotWaitForSync(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	released := false
	unblock := func() {
		if !released {
			released = true
			close(release)
		}
	}
	defer unblock() // a failing test must not leave the appends hanging
	dir := filepath.Join(t.TempDir(), "journal")
	j, _, err := journal.Open(dir, nil, journal.Options{SyncInterval: time.Hour,
		WrapFile: func(w journal.WriteSyncer) journal.WriteSyncer {
			return slowSync{WriteSyncer: w, entered: entered, release: release}
		}})
	if err != nil {
		t.Fatal(err)
	}
	l := NewEventLog(j, nil)
	var seen []uint64
	l.Listen(func(e journal.Event) { seen = append(seen, e.Seq) })

	power := make(chan error, 1)
	go func() {
		_, err := l.Append(journal.Event{Kind: journal.KindPower, Node: "n1", On: journal.Bool(false)})
		power <- err
	}()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the power event's fsync never began")
	}
	ack := make(chan error, 1)
	go func() {
		_, err := l.Append(journal.Event{Kind: journal.KindProbeAck, Node: "n2", First: 1, Last: 9})
		ack <- err
	}()
	select {
	case err := <-ack:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("an unsynced probe ack waited behind the power event's fsync")
	}
	select {
	case err := <-power:
		t.Fatalf("the power event returned (%v) before its fsync finished", err)
	default:
	}
	unblock()
	if err := <-power; err != nil {
		t.Fatal(err)
	}

	var mem []journal.Kind
	for _, e := range l.Events() {
		mem = append(mem, e.Kind)
	}
	if len(mem) != 2 || mem[0] != journal.KindPower || mem[1] != journal.KindProbeAck {
		t.Errorf("in memory: %v, want power then probe.ack", mem)
	}
	if len(seen) != 2 || seen[0] != 1 || seen[1] != 2 {
		t.Errorf("listeners saw seqs %v, want [1 2]", seen)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	disk, err := journal.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(disk) != 2 || disk[0].Kind != journal.KindPower || disk[0].Seq != 1 || disk[1].Seq != 2 {
		t.Errorf("on disk: %+v, want power (1) then probe.ack (2)", disk)
	}
}
