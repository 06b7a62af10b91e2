package agentapi

import (
	"net/url"
	"testing"
	"time"
)

func TestParseLogQuery(t *testing.T) {
	at := time.Date(2025, 5, 1, 12, 0, 0, 500, time.UTC)
	tests := []struct {
		query string
		want  LogQuery
		ok    bool
	}{
		{"", LogQuery{Max: 50}, true},
		{"since=2025-05-01T12:00:00.0000005Z&until=2025-05-01T12:00:01.0000005Z&max=10",
			LogQuery{Since: at, Until: at.Add(time.Second), Max: 10}, true},
		{"max=500", LogQuery{Max: 500}, true},
		{"max=501", LogQuery{}, false},
		{"max=0", LogQuery{}, false},
		{"max=x", LogQuery{}, false},
		{"since=yesterday", LogQuery{}, false},
		{"since=2025-05-01T12:00:01Z&until=2025-05-01T12:00:00Z", LogQuery{}, false},
	}
	for _, tc := range tests {
		v, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseLogQuery(v)
		if (err == nil) != tc.ok || (tc.ok && (!got.Since.Equal(tc.want.Since) || !got.Until.Equal(tc.want.Until) || got.Max != tc.want.Max)) {
			t.Errorf("ParseLogQuery(%q) = %+v, %v; want %+v ok=%v", tc.query, got, err, tc.want, tc.ok)
		}
	}
}

// FuzzParseLogQuery: whatever the query, an accepted one is bounded and
// ordered, and survives its own encoding.
func FuzzParseLogQuery(f *testing.F) {
	f.Add("since=2025-05-01T12:00:00Z&until=2025-05-01T12:00:01Z&max=10")
	f.Add("max=-1")
	f.Add("since=%zz")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseLogQuery(v)
		if err != nil {
			return
		}
		if q.Max < 1 || q.Max > MaxLogLines {
			t.Fatalf("accepted max %d", q.Max)
		}
		if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
			t.Fatalf("accepted until %v before since %v", q.Until, q.Since)
		}
		back, err := ParseLogQuery(q.Values())
		if err != nil || !back.Since.Equal(q.Since) || !back.Until.Equal(q.Until) || back.Max != q.Max {
			t.Fatalf("round trip of %+v: %+v, %v", q, back, err)
		}
	})
}
