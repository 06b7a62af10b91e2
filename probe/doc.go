// Package probe is the commit probe: it writes one numbered row per interval
// through HAProxy to whichever node is primary and records what happened
// (compacted ack ranges, compacted runs of errors with their SQLSTATE and
// count) as journal events, which package analysis judges afterwards. It
// also reads the table back to find acknowledged commits that were lost,
// and exports Prometheus metrics.
//
// The probe never blocks on a hung connection (every statement has its own
// deadline), reconnects at once after an error, and holds no history in
// memory beyond the open ack range, the held repeats of a failing write and
// a few seconds of rate buckets.
package probe
