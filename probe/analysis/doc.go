// Package analysis judges a recorded history after the fact: pure functions
// over journal events, no I/O, no clocks. It finds outages of the commit
// probe, explains the ones that contain a power cut or fault as failovers
// with their phases, attributes acknowledged commits that a read-back found
// missing to the failover that lost them, and detects split brain.
//
// It relies on one property of the probe's compacted ack ranges: a range
// never spans a gap longer than the probe's compaction gap (tens of
// milliseconds), so gaps between ranges are the only gaps in acknowledgement.
package analysis
