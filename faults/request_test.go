package faults

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeRequest(t *testing.T) {
	for _, c := range []struct {
		name, body string
		want       Request
		err        string // substring; "" means valid
	}{
		{"freeze node", `{"kind":"freeze","target":"n1"}`, Request{Kind: KindFreeze, Target: "n1"}, ""},
		{"partition mode", `{"kind":"partition","target":"primary","from":"etcd"}`, Request{Kind: KindPartition, Target: "primary", From: "etcd"}, ""},
		{"etcd outage default target", `{"kind":"etcd_outage"}`, Request{Kind: KindEtcdOutage}, ""},
		{"etcd outage etcd", `{"kind":"etcd_outage","target":"etcd"}`, Request{Kind: KindEtcdOutage, Target: "etcd"}, ""},
		{"lag", `{"kind":"replica_lag","target":"replica","lag":16777216,"pause":true}`, Request{Kind: KindReplicaLag, Target: "replica", Lag: 16 << 20, Pause: true}, ""},
		{"disk bound", `{"kind":"disk_full","target":"n2","max_fill":1024}`, Request{Kind: KindDiskFull, Target: "n2", MaxFill: 1024}, ""},
		{"cpu starve default", `{"kind":"cpu_starve","target":"primary"}`, Request{Kind: KindCPUStarve, Target: "primary"}, ""},
		{"cpu starve percent", `{"kind":"cpu_starve","target":"n1","cpu_percent":3}`, Request{Kind: KindCPUStarve, Target: "n1", CPUPercent: 3}, ""},
		{"cpu starve fraction", `{"kind":"cpu_starve","target":"n1","cpu_percent":0.5}`, Request{Kind: KindCPUStarve, Target: "n1", CPUPercent: 0.5}, ""},
		{"cpu starve whole cpu", `{"kind":"cpu_starve","target":"n1","cpu_percent":100}`, Request{Kind: KindCPUStarve, Target: "n1", CPUPercent: 100}, ""},
		{"empty", ``, Request{}, "empty"},
		{"not json", `kind=freeze`, Request{}, "body"},
		{"unknown field", `{"kind":"freeze","target":"n1","force":true}`, Request{}, "force"},
		{"trailing", `{"kind":"freeze","target":"n1"} {}`, Request{}, "trailing"},
		{"stray brace", `{"kind":"freeze","target":"n1"}}`, Request{}, "trailing"},
		{"unknown kind", `{"kind":"meltdown","target":"n1"}`, Request{}, `kind "meltdown": unknown`},
		{"missing target", `{"kind":"pg_crash"}`, Request{}, "target: required"},
		{"etcd for node kind", `{"kind":"pg_crash","target":"etcd"}`, Request{}, "cannot target etcd"},
		{"node for etcd kind", `{"kind":"etcd_outage","target":"n1"}`, Request{}, "etcd only"},
		{"bad target chars", `{"kind":"freeze","target":"n1; rm -rf /"}`, Request{}, "want a node name"},
		{"from on freeze", `{"kind":"freeze","target":"n1","from":"etcd"}`, Request{}, "only partition"},
		{"bad from", `{"kind":"partition","target":"n1","from":"moon"}`, Request{}, `from "moon"`},
		{"lag on pg_crash", `{"kind":"pg_crash","target":"n1","lag":5}`, Request{}, "only replica_lag"},
		{"lag missing", `{"kind":"replica_lag","target":"replica"}`, Request{}, "needs lag"},
		{"lag huge", `{"kind":"replica_lag","target":"replica","lag":99999999999}`, Request{}, "needs lag"},
		{"max_fill elsewhere", `{"kind":"freeze","target":"n1","max_fill":5}`, Request{}, "only disk_full"},
		{"cpu_percent elsewhere", `{"kind":"freeze","target":"n1","cpu_percent":5}`, Request{}, "cpu_percent: only cpu_starve"},
		{"cpu_percent negative", `{"kind":"cpu_starve","target":"n1","cpu_percent":-1}`, Request{}, "cpu_percent -1: want 0.1 to 100"},
		{"cpu_percent over a cpu", `{"kind":"cpu_starve","target":"n1","cpu_percent":101}`, Request{}, "cpu_percent 101: want 0.1 to 100"},
		{"cpu_percent under docker's least quota", `{"kind":"cpu_starve","target":"n1","cpu_percent":0.05}`, Request{}, "cpu_percent 0.05: want 0.1 to 100"},
		{"cpu_percent huge", `{"kind":"cpu_starve","target":"n1","cpu_percent":1e309}`, Request{}, "cpu_percent"},
		{"cpu_percent string", `{"kind":"cpu_starve","target":"n1","cpu_percent":"5%"}`, Request{}, "cpu_percent"},
		{"cpu starve etcd", `{"kind":"cpu_starve","target":"etcd"}`, Request{}, "cannot target etcd"},
		{"max_fill negative", `{"kind":"disk_full","target":"n1","max_fill":-5}`, Request{}, "must be positive"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeRequest(strings.NewReader(c.body), Kinds())
			if c.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if got != c.want {
					t.Fatalf("got %+v, want %+v", got, c.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("error %v, want one containing %q", err, c.err)
			}
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v is not ErrBadRequest", err)
			}
			if statusOf(err) != 400 {
				t.Fatalf("status %d, want 400", statusOf(err))
			}
		})
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{`{"kind":"freeze","target":"n1"}`, `{"kind":"etcd_outage"}`,
		`{"kind":"replica_lag","target":"replica","lag":1,"pause":true}`, `{"kind":"partition","target":"n2","from":"nodes"}`,
		`{"kind":"cpu_starve","target":"primary","cpu_percent":5}`, `{"kind":"cpu_starve","target":"n1","cpu_percent":-7}`,
		`{`, `[]`, `{"kind":1}`, `null`} {
		f.Add(s)
	}
	kinds := Kinds()
	f.Fuzz(func(t *testing.T, body string) {
		req, err := DecodeRequest(strings.NewReader(body), kinds)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("decode error not marked bad request: %v", err)
			}
			return
		}
		// A request that decodes is valid, and valid again.
		if err := req.Validate(kinds); err != nil {
			t.Fatalf("decoded request fails validation: %+v: %v", req, err)
		}
		if _, ok := lookup(kinds, req.Kind); !ok {
			t.Fatalf("decoded unknown kind %q", req.Kind)
		}
	})
}
