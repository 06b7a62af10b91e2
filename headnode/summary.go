package headnode

import (
	"math"
	"slices"

	"github.com/redswitch/redswitch/dashboard"
	"github.com/redswitch/redswitch/probe/analysis"
)

// failoverStats aggregates the settled failovers, each folded in once;
// the few still open to change are added at each summary.
type failoverStats struct {
	n    int       // failovers folded
	durs []float64 // their durations in seconds, sorted
	sum  float64
}

func (s *failoverStats) fold(fs []analysis.Failover) {
	for _, f := range fs {
		d := f.Duration.Seconds()
		i, _ := slices.BinarySearch(s.durs, d)
		s.durs = slices.Insert(s.durs, i, d)
		s.sum += d
		s.n++
	}
}

// summary is the dashboard's summary of the folded failovers and tail,
// the failovers after them; lostBy counts lost commits by failover index,
// lost is every lost commit and duration(i) the i-th failover's.
func (s *failoverStats) summary(tail []analysis.Failover, lostBy map[int]int, lost int, duration func(int) float64) dashboard.FailoverSummary {
	durs := s.durs
	sum := s.sum
	if len(tail) > 0 {
		durs = slices.Clone(s.durs)
		for _, f := range tail {
			d := f.Duration.Seconds()
			i, _ := slices.BinarySearch(durs, d)
			durs = slices.Insert(durs, i, d)
			sum += d
		}
	}
	out := dashboard.FailoverSummary{Count: len(durs), LostCommits: lost}
	if len(durs) == 0 {
		return out
	}
	rank := func(p float64) float64 { return durs[max(0, int(math.Ceil(p*float64(len(durs))))-1)] }
	out.MinS, out.MaxS, out.MeanS = durs[0], durs[len(durs)-1], sum/float64(len(durs))
	out.P50S, out.P90S, out.P99S = rank(0.5), rank(0.9), rank(0.99)
	// Durations are sorted, so the buckets come out in order.
	for _, d := range durs {
		b := bucketOf(d)
		if n := len(out.Buckets); n > 0 && out.Buckets[n-1].S == b {
			out.Buckets[n-1].N++
			continue
		}
		out.Buckets = append(out.Buckets, dashboard.Bucket{S: b, N: 1})
	}
	for i := range lostBy {
		out.WithLoss++
		b := bucketOf(duration(i))
		if j, ok := slices.BinarySearchFunc(out.Buckets, b, func(x dashboard.Bucket, b int) int { return x.S - b }); ok {
			out.Buckets[j].Lost++
		}
	}
	return out
}

func bucketOf(d float64) int {
	return min(dashboard.BucketCap, max(0, int(math.Floor(d))))
}

// summarize is the summary of a whole list of failovers at once.
func summarize(fs []analysis.Failover, lostBy map[int]int, lost int) dashboard.FailoverSummary {
	var s failoverStats
	s.fold(fs)
	return s.summary(nil, lostBy, lost, func(i int) float64 { return fs[i].Duration.Seconds() })
}
