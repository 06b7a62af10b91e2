package headnode

import (
	"testing"
	"time"

	"github.com/redswitch/redswitch/dashboard"
	"github.com/redswitch/redswitch/probe/analysis"
)

func TestFailoverSummary(t *testing.T) {
	fo := func(s ...float64) []analysis.Failover {
		var out []analysis.Failover
		for _, d := range s {
			out = append(out, analysis.Failover{Duration: time.Duration(d * float64(time.Second))})
		}
		return out
	}
	tests := []struct {
		name   string
		folded []analysis.Failover
		tail   []analysis.Failover
		lostBy map[int]int
		want   dashboard.FailoverSummary
	}{
		{name: "none", want: dashboard.FailoverSummary{}},
		{name: "settled and open alike", folded: fo(5.2, 4.8, 7.1), tail: fo(5.5),
			want: dashboard.FailoverSummary{Count: 4, MinS: 4.8, MeanS: 5.65, P50S: 5.2, P90S: 7.1, P99S: 7.1, MaxS: 7.1,
				Buckets: []dashboard.Bucket{{S: 4, N: 1}, {S: 5, N: 2}, {S: 7, N: 1}}}},
		{name: "losses mark their buckets", folded: fo(5.2, 4.8, 5.9), lostBy: map[int]int{0: 2, 2: 1},
			want: dashboard.FailoverSummary{Count: 3, WithLoss: 2, LostCommits: 4, MinS: 4.8, MeanS: 5.3, P50S: 5.2, P90S: 5.9, P99S: 5.9, MaxS: 5.9,
				Buckets: []dashboard.Bucket{{S: 4, N: 1}, {S: 5, N: 2, Lost: 2}}}},
		{name: "the longest share the last bucket", folded: fo(300, 121, 6),
			want: dashboard.FailoverSummary{Count: 3, MinS: 6, MeanS: 427.0 / 3, P50S: 121, P90S: 300, P99S: 300, MaxS: 300,
				Buckets: []dashboard.Bucket{{S: 6, N: 1}, {S: dashboard.BucketCap, N: 2}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s failoverStats
			s.fold(tc.folded)
			all := append(append([]analysis.Failover{}, tc.folded...), tc.tail...)
			lost := 0
			for _, n := range tc.lostBy {
				lost += n
			}
			if tc.lostBy != nil {
				lost++ // one lost commit of no failover
			}
			got := s.summary(tc.tail, tc.lostBy, lost, func(i int) float64 { return all[i].Duration.Seconds() })
			if string(jsonOf(t, got)) != string(jsonOf(t, tc.want)) {
				t.Errorf("summary\n got %s\nwant %s", jsonOf(t, got), jsonOf(t, tc.want))
			}
		})
	}
}
