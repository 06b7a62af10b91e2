// Package journal is the head node's durable, append-only event log: one JSON
// object per line, numbered 1, 2, 3... by the journal.
//
// Durability: every Append is one write(2) of a complete line before it
// returns, so a crash of the head node process (even kill -9) loses nothing
// that was appended. fsync is a group commit: a background flusher syncs at
// most every Options.SyncInterval (100 ms by default), and kinds listed in
// Options.SyncKinds (power, fault, leader, role, switch by default) or
// written with AppendSync are synced before Append returns. A crash of the
// machine (power loss, kernel panic) can therefore lose at most the unsynced
// tail: the events of the last SyncInterval that were not of a sync kind.
//
// Reading back on Open tolerates what a crash leaves behind: a torn or
// unparsable last line is reported, saved next to the journal in
// "<path>.torn" and cut off so appending continues on a clean line; an
// invalid line in the middle is reported with its file:line and skipped.
package journal
