package cluster

// FileInfo is the owner and mode of a file read from a node, so it can be
// written back as it was.
type FileInfo struct {
	UID, GID int
	Mode     int64
}
