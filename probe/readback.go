package probe

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/redswitch/redswitch/journal"
)

// Range is a run of acknowledged probe sequence numbers, First..Last.
type Range struct {
	First, Last uint64
}

// AckedRanges returns the acknowledged sequence numbers recorded in events
// as sorted, merged ranges.
func AckedRanges(events []journal.Event) []Range {
	var rs []Range
	for _, e := range events {
		if e.Kind == journal.KindProbeAck && e.First > 0 && e.Last >= e.First {
			rs = append(rs, Range{e.First, e.Last})
		}
	}
	slices.SortFunc(rs, func(a, b Range) int {
		return cmp.Or(cmp.Compare(a.First, b.First), cmp.Compare(a.Last, b.Last))
	})
	var out []Range
	for _, r := range rs {
		if n := len(out); n > 0 && (out[n-1].Last == math.MaxUint64 || r.First <= out[n-1].Last+1) {
			out[n-1].Last = max(out[n-1].Last, r.Last)
			continue
		}
		out = append(out, r)
	}
	return out
}

// AckSet is AckedRanges kept up to date one event at a time, so the
// whole history's acknowledged numbers stay at hand without its events:
// a few ranges, one more per outage.
type AckSet struct {
	rs []Range
}

// Add folds e into the set; events of other kinds are ignored.
func (s *AckSet) Add(e journal.Event) {
	if e.Kind != journal.KindProbeAck || e.First == 0 || e.Last < e.First {
		return
	}
	r := Range{e.First, e.Last}
	// The first range that r could touch: the last one starting at or
	// before it, when it reaches r.
	i := sort.Search(len(s.rs), func(i int) bool { return s.rs[i].First > r.First })
	if i > 0 && touches(s.rs[i-1], r) {
		i--
	}
	j := i
	for j < len(s.rs) && (touches(s.rs[j], r) || touches(r, s.rs[j])) {
		r = Range{min(r.First, s.rs[j].First), max(r.Last, s.rs[j].Last)}
		j++
	}
	s.rs = slices.Replace(s.rs, i, j, r)
}

// touches reports whether b starts within a or right after it
// (a.First <= b.First).
func touches(a, b Range) bool {
	return b.First >= a.First && (a.Last == math.MaxUint64 || b.First <= a.Last+1)
}

// Ranges returns the set as AckedRanges would: sorted, merged ranges.
func (s *AckSet) Ranges() []Range { return slices.Clone(s.rs) }

// LastSeq is the highest probe sequence number used in events, acknowledged
// or not; a new probe run continues after it (Options.StartAfter).
func LastSeq(events []journal.Event) uint64 {
	var top uint64
	for _, e := range events {
		switch e.Kind {
		case journal.KindProbeAck:
			top = max(top, e.Last, e.First)
		case journal.KindProbeError:
			top = max(top, e.Seqno, e.Last)
		}
	}
	return top
}

// ReadBack reads the probe table through dsn and returns the numbers in
// acked that are not there: acknowledged commits that were lost. It asks
// the server to do the anti-join, so only missing numbers cross the wire.
func ReadBack(ctx context.Context, dsn, table string, acked []Range) ([]uint64, error) {
	if len(acked) == 0 {
		return nil, nil
	}
	firsts := make([]int64, len(acked))
	lasts := make([]int64, len(acked))
	for i, r := range acked {
		if r.Last > math.MaxInt64 || r.First > r.Last {
			return nil, fmt.Errorf("probe: read back: range %d..%d out of bounds", r.First, r.Last)
		}
		firsts[i], lasts[i] = int64(r.First), int64(r.Last)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("probe: read back: connect: %w", err)
	}
	defer closeQuietly(conn)
	rows, err := conn.Query(ctx, `SELECT s FROM unnest($1::bigint[], $2::bigint[]) AS r(f, l),
		generate_series(r.f, r.l) AS s
		WHERE NOT EXISTS (SELECT 1 FROM `+tableIdent(table)+` p WHERE p.seq = s) ORDER BY s`, firsts, lasts)
	if err != nil {
		return nil, fmt.Errorf("probe: read back: %w", err)
	}
	missing, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (uint64, error) {
		var s int64
		err := row.Scan(&s)
		return uint64(s), err
	})
	if err != nil {
		return nil, fmt.Errorf("probe: read back: %w", err)
	}
	return missing, nil
}

// ReadBack checks every commit acknowledged in events against the table on
// the current primary and returns the KindProbeReadback event to record:
// Missing lists the lost numbers, Last the highest number checked.
func (p *Probe) ReadBack(ctx context.Context, events []journal.Event) (journal.Event, error) {
	return p.ReadBackRanges(ctx, AckedRanges(events))
}

// ReadBackRanges is ReadBack over acknowledged ranges kept apart from the
// events (an AckSet over the whole journal).
func (p *Probe) ReadBackRanges(ctx context.Context, acked []Range) (journal.Event, error) {
	e := journal.Event{Kind: journal.KindProbeReadback}
	if n := len(acked); n > 0 {
		e.Last = acked[n-1].Last
	}
	missing, err := ReadBack(ctx, p.o.DSN, p.o.Table, acked)
	if err != nil {
		return e, err
	}
	e.Missing = missing
	e.At = p.o.Clock.Now()
	return e, nil
}
