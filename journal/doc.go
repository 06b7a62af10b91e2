// Package journal is the head node's durable, append-only event log: one JSON
// object per line, numbered 1, 2, 3... by the journal.
//
// Layout: a directory of numbered segments, 000001.jsonl, 000002.jsonl...,
// read in that order as one journal, with the numbering continuous across
// them. Only the newest segment is appended to; a new one starts when the
// current one would grow past Options.SegmentSize or on the first append of
// a new UTC day, so a head node that runs for days keeps files of bounded
// size that can be copied or archived a day at a time. A flocked file
// "lock" in the directory admits one writer (ErrInUse).
//
// Durability: every Append is one write(2) of a complete line before it
// returns, so a crash of the head node process (even kill -9) loses nothing
// that was appended. fsync is a group commit: a background flusher syncs at
// most every Options.SyncInterval (100 ms by default), and kinds listed in
// Options.SyncKinds (power, fault, leader, role, switch by default) or
// written with AppendSync are synced before Append returns. A crash of the
// machine (power loss, kernel panic) can therefore lose at most the unsynced
// tail: the events of the last SyncInterval that were not of a sync kind.
// A segment is synced before the next one is created, so only the newest
// can have a torn tail.
//
// Fail closed: the first failed write or fsync is sticky (ErrFailed). Linux
// reports a failed writeback once and then clears it, so the journal never
// trusts a later fsync and refuses every later Append instead of recording
// events over a hole; Err reports it for the head node's state.
//
// Reading back on Open tolerates what a crash leaves behind: a torn or
// unparsable last line of the newest segment is reported, saved next to it
// in "<segment>.torn" and cut off so appending continues on a clean line; an
// invalid line anywhere else is reported with its file:line and skipped.
// Older segments are never rewritten.
package journal
