package scenarios

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Shard returns the files of shard i of n (1-based, as written "I/N"):
// every n-th file of the sorted list, starting with the i-th. Sorting
// first means every CI job computes the same split whatever order its
// directory listing came in. An i outside 1..n gives no files.
func Shard(files []string, i, n int) []string {
	if n < 1 || i < 1 || i > n {
		return nil
	}
	sorted := append([]string(nil), files...)
	sort.Strings(sorted)
	var out []string
	for j := i - 1; j < len(sorted); j += n {
		out = append(out, sorted[j])
	}
	return out
}

// ParseShard parses "I/N" such as "2/4" (shard 2 of 4).
func ParseShard(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, fmt.Errorf("shard %q: want I/N such as 1/4", s)
	}
	i, errI := strconv.Atoi(strings.TrimSpace(a))
	n, errN := strconv.Atoi(strings.TrimSpace(b))
	switch {
	case errI != nil || errN != nil:
		return 0, 0, fmt.Errorf("shard %q: I and N must be whole numbers, such as 1/4", s)
	case n < 1:
		return 0, 0, fmt.Errorf("shard %q: N must be at least 1", s)
	case i < 1 || i > n:
		return 0, 0, fmt.Errorf("shard %q: I must be between 1 and N (%d)", s, n)
	}
	return i, n, nil
}
