// Package fork makes copy-on-write forks of a running PostgreSQL 15 data
// directory: writable, standalone copies on a new timeline, on their own
// port, with none of the parent's replication or cluster identity.
//
// A fork is made in four steps. Copy: a btrfs snapshot of the data
// directory's subvolume after a CHECKPOINT (atomic, O(1); on a standby the
// CHECKPOINT is a restartpoint), or a reflink or plain copy between
// pg_backup_start and pg_backup_stop with the returned backup_label, or
// pg_basebackup. Prepare (pure edits, see Recipe and EditConf): drop the
// pid file, recovery signals, replication slots and identity settings, set
// the port and redswitch.fork. Start it as a standby with no upstream, as
// the data directory's owner. Promote it, which switches it to a new
// timeline, and wait until pg_is_in_recovery() is false.
//
// A fork keeps its parent's system identifier, so it must never join the
// parent's Patroni cluster: it has no primary_conninfo, no archive and
// runs outside Patroni. Sources with user tablespaces are refused.
//
// Manager keeps one JSON record per fork in its directory, so List works
// across restarts of the process that made them.
package fork
