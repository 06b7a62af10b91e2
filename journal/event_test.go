package journal

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestErrorCountAndEnd(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	later := at.Add(3 * time.Second)
	tests := []struct {
		name      string
		e         Event
		wantCount int
		wantEnd   time.Time
	}{
		{"single error as written before compaction", Event{Kind: KindProbeError, At: at}, 1, at},
		{"compacted repeats", Event{Kind: KindProbeError, At: at, Count: 300, LastAt: later}, 300, later},
		{"count of one", Event{Kind: KindProbeError, At: at, Count: 1}, 1, at},
		{"damaged: negative count, last before first", Event{Kind: KindProbeError, At: later, Count: -4, LastAt: at}, 1, later},
		{"ack range is no error", Event{Kind: KindProbeAck, At: at, First: 1, Last: 9, Count: 5}, 0, at},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.e.ErrorCount(); got != tt.wantCount {
				t.Errorf("ErrorCount = %d, want %d", got, tt.wantCount)
			}
			if got := tt.e.ErrorEnd(); !got.Equal(tt.wantEnd) {
				t.Errorf("ErrorEnd = %v, want %v", got, tt.wantEnd)
			}
		})
	}
}

// TestCountJSON: a single error's line stays as before compaction (no
// count), a compacted one carries it and reads back.
func TestCountJSON(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		e        Event
		wantJSON string // substring, "" when count must be absent
	}{
		{"single", Event{Seq: 1, At: at, Kind: KindProbeError, Seqno: 7}, ""},
		{"repeats", Event{Seq: 2, At: at, Kind: KindProbeError, Seqno: 8, Last: 95, LastAt: at.Add(time.Second), Count: 88},
			`"count":88`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.e)
			if err != nil {
				t.Fatal(err)
			}
			if has := strings.Contains(string(b), `"count"`); has != (tt.wantJSON != "") || !strings.Contains(string(b), tt.wantJSON) {
				t.Errorf("JSON %s, want count %q", b, tt.wantJSON)
			}
			var back Event
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if back.Count != tt.e.Count || back.ErrorCount() != tt.e.ErrorCount() || !back.ErrorEnd().Equal(tt.e.ErrorEnd()) {
				t.Errorf("read back %+v, want %+v", back, tt.e)
			}
		})
	}
}
