package headnode

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redswitch/redswitch/dashboard"
	"github.com/redswitch/redswitch/etcdaccess"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe/analysis"
)

// failingSync fails every fsync once armed, as a disk with a write error.
type failingSync struct {
	journal.WriteSyncer
	armed *atomic.Bool
}

func (f failingSync) Sync() error {
	if f.armed.Load() {
		return errors.New("injected: input/output error")
	}
	return f.WriteSyncer.Sync()
}

// TestStateShowsJournalFailure fails the journal's fsync and expects the
// failure in GET /api/v1/state and the dashboard's view, and nowhere
// before it.
func TestStateShowsJournalFailure(t *testing.T) {
	var armed atomic.Bool
	j, _, err := journal.Open(filepath.Join(t.TempDir(), "journal"), nil, journal.Options{
		SyncInterval: time.Hour,
		WrapFile:     func(w journal.WriteSyncer) journal.WriteSyncer { return failingSync{w, &armed} },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	events := NewEventLog(j, nil)
	h, err := New(Options{Scope: "s", Etcd: etcdaccess.Access{Endpoints: []string{"127.0.0.1:1"}}, Power: &seeingPower{j: &memJournal{}},
		Journal: events, JournalErr: j.Err, Members: []Member{{Name: "n1", Address: "10.0.0.1"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.etcd.Close()
	ob := NewObserver(ObserverOptions{Head: h, Events: events})

	state := func(t *testing.T) (string, map[string]any) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/state", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /api/v1/state: %d %s", rec.Code, rec.Body)
		}
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		return ob.view(analysis.Report{}, dashboard.FailoverSummary{}).JournalError, body
	}
	steps := []struct {
		name string
		// fail arms the injected fsync error before the power event.
		fail    bool
		wantErr string // "" means healthy: no journal_error at all
	}{
		{name: "healthy", wantErr: ""},
		{name: "fsync fails", fail: true, wantErr: "journal failed: "},
		{name: "the disk recovers, the journal stays failed", wantErr: "journal failed: "},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			armed.Store(s.fail)
			_, err := events.Append(journal.Event{Kind: journal.KindPower, Node: "n1", On: journal.Bool(false)})
			if (err != nil) != (s.wantErr != "") {
				t.Fatalf("append = %v, want failure %v", err, s.wantErr != "")
			}
			view, body := state(t)
			got, present := body["journal_error"].(string)
			if s.wantErr == "" {
				if present || view != "" {
					t.Fatalf("healthy journal reported as %q (state) / %q (view)", got, view)
				}
				return
			}
			if !strings.HasPrefix(got, s.wantErr) || !strings.Contains(got, "input/output error") {
				t.Errorf("state journal_error = %q, want %q... naming the cause", got, s.wantErr)
			}
			if view != got {
				t.Errorf("dashboard view says %q, state %q", view, got)
			}
		})
	}
}
