package scenarios

import (
	"fmt"
	"reflect"
	"sort"
	"testing"
)

func TestShard(t *testing.T) {
	files := []string{"e", "a", "d", "b", "c"}
	tests := []struct {
		i, n int
		want []string
	}{
		{1, 1, []string{"a", "b", "c", "d", "e"}},
		{1, 2, []string{"a", "c", "e"}},
		{2, 2, []string{"b", "d"}},
		{3, 3, []string{"c"}},
		{5, 7, []string{"e"}},
		{6, 7, nil},
		{0, 2, nil},
		{3, 2, nil},
		{1, 0, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%d", tt.i, tt.n), func(t *testing.T) {
			if got := Shard(files, tt.i, tt.n); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Shard(%d, %d) = %v, want %v", tt.i, tt.n, got, tt.want)
			}
		})
	}
	if files[0] != "e" {
		t.Error("Shard reordered its input")
	}
}

// TestShardPartition checks that the shards of any n cover every file
// exactly once.
func TestShardPartition(t *testing.T) {
	var files []string
	for i := range 23 {
		files = append(files, fmt.Sprintf("s%02d.yaml", i))
	}
	for n := 1; n <= 25; n++ {
		var all []string
		for i := 1; i <= n; i++ {
			all = append(all, Shard(files, i, n)...)
		}
		sort.Strings(all)
		if !reflect.DeepEqual(all, files) {
			t.Fatalf("n=%d: shards cover %v", n, all)
		}
	}
}

func TestParseShard(t *testing.T) {
	tests := []struct {
		in      string
		i, n    int
		wantErr string
	}{
		{in: "1/4", i: 1, n: 4},
		{in: " 4 / 4 ", i: 4, n: 4},
		{in: "1/1", i: 1, n: 1},
		{in: "0/4", wantErr: `shard "0/4": I must be between 1 and N (4)`},
		{in: "5/4", wantErr: `shard "5/4": I must be between 1 and N (4)`},
		{in: "1/0", wantErr: `shard "1/0": N must be at least 1`},
		{in: "1-4", wantErr: `shard "1-4": want I/N such as 1/4`},
		{in: "", wantErr: `shard "": want I/N such as 1/4`},
		{in: "a/b", wantErr: `shard "a/b": I and N must be whole numbers, such as 1/4`},
		{in: "1/2/3", wantErr: `shard "1/2/3": I and N must be whole numbers, such as 1/4`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			i, n, err := ParseShard(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("err = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || i != tt.i || n != tt.n {
				t.Errorf("ParseShard(%q) = %d, %d, %v; want %d, %d", tt.in, i, n, err, tt.i, tt.n)
			}
		})
	}
}

func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"1/4", "0/0", "-1/3", "9999999999999999999/1", "a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		i, n, err := ParseShard(s)
		if err == nil && (n < 1 || i < 1 || i > n) {
			t.Fatalf("ParseShard(%q) accepted %d/%d", s, i, n)
		}
	})
}
