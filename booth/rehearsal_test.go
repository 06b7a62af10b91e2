package booth

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func rehearsal(power PowerMode) Rehearsal {
	r := Rehearsal{Power: power, Host: "127.0.0.1", EtcdHost: "172.28.0.1",
		Ports: map[string]int{"api": 18080}, DataDir: "/tmp/booth/head"}
	for _, n := range []string{"11", "12", "13"} {
		r.Nodes = append(r.Nodes, RehearsalNode{Address: "172.28.0." + n, Agent: "http://172.28.0." + n + ":8010",
			Container: "rig-n" + n[1:]})
	}
	return r
}

// TestRehearseShippedBooth derives the rehearsal configuration from the
// shipped booth file, as `make booth` does, and checks it against golden
// files: the shipped file must parse and keep meaning what it says.
func TestRehearseShippedBooth(t *testing.T) {
	src, err := os.ReadFile("../deploy/booth/booth.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, power := range []PowerMode{PowerAgent, PowerContainer} {
		t.Run(string(power), func(t *testing.T) {
			out, err := Rehearse("booth.yaml", src, rehearsal(power))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "testdata/rehearsal/"+string(power)+".yaml", out)
			cfg, err := Parse("rehearsal.yaml", out)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Power != power || cfg.GPIO.Backend != "virtual" || len(cfg.Relays) != 0 {
				t.Errorf("power %s, gpio %s, %d relays; want %s, virtual, none", cfg.Power, cfg.GPIO.Backend, len(cfg.Relays), power)
			}
			if cfg.Listen.API != "127.0.0.1:18080" || cfg.Listen.Primary != "127.0.0.1:5432" || cfg.Listen.EtcdClient != "172.28.0.1:2379" {
				t.Errorf("listen %+v", cfg.Listen)
			}
			if len(cfg.Switches) != 3 || cfg.Switches[0].Node != "n1" || cfg.Nodes[2].Address != "172.28.0.13" {
				t.Errorf("switches %+v nodes %+v", cfg.Switches, cfg.Nodes)
			}
			if !bytes.Contains(out, []byte("# One red toggle switch per node")) {
				t.Error("the shipped file's comments were lost")
			}
		})
	}
}

func TestRehearseRefuses(t *testing.T) {
	src, err := os.ReadFile("../deploy/booth/booth.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		src  []byte
		r    Rehearsal
		want string
	}{
		{"too few nodes", src, Rehearsal{Power: PowerAgent, Nodes: rehearsal(PowerAgent).Nodes[:2]}, "3 nodes configured, 2"},
		{"relay power", src, func() Rehearsal { r := rehearsal(PowerAgent); r.Power = PowerRelay; return r }(), "want agent or container"},
		{"bad source", []byte("nodes: [\n"), rehearsal(PowerAgent), "booth.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Rehearse("booth.yaml", tt.src, tt.r)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
}

// FuzzRehearse: any input is refused with an error or rehearsed into a
// file that parses; never a panic.
func FuzzRehearse(f *testing.F) {
	if src, err := os.ReadFile("../deploy/booth/booth.yaml"); err == nil {
		f.Add(src)
	}
	f.Add([]byte("nodes: [{name: n1, address: a, agent: 'http://a:1'}]\nswitches: [{id: 1, node: n1, pin: 1}]\npower: agent\noperator_token_env: A\ncluster_token_env: B\ngpio: {backend: virtual}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		r := rehearsal(PowerAgent)
		cfg, err := Parse("f.yaml", src)
		if err != nil {
			return
		}
		r.Nodes = r.Nodes[:0]
		for range cfg.Nodes {
			r.Nodes = append(r.Nodes, RehearsalNode{Address: "10.1.1.1", Agent: "http://10.1.1.1:1"})
		}
		_, _ = Rehearse("f.yaml", src, r)
	})
}
