package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/prereq"
)

func TestOwnedBlocks(t *testing.T) {
	for _, c := range []struct {
		name, listing string
		want          []string
	}{
		{"none", "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n", nil},
		{"ours among others", `-P INPUT ACCEPT
-N DOCKER
-N RS-etcd
-N RS-partition
-A INPUT -j RS-etcd
-A RS-etcd -d 10.0.0.1/32 -p tcp -m tcp --dport 2379 -j DROP
-A DOCKER -j RETURN
`, []string{"etcd", "partition"}},
		// Rules mentioning a chain, or a bare prefix, are not chains of ours.
		{"rules and prefix only", "-A OUTPUT -j RS-lag\n-N RS-\n-N XRS-lag\n", nil},
		{"empty (iptables failed)", "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ownedBlocks(c.listing); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// fakeExec answers the iptables listing with listing and records every
// command.
type fakeExec struct {
	mu      sync.Mutex
	listing string
	listErr error
	ran     [][]string
}

func (f *fakeExec) exec(_ context.Context, argv []string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ran = append(f.ran, argv)
	if reflect.DeepEqual(argv, listRulesCommand()) {
		return f.listing, f.listErr
	}
	return "", nil
}

// newTestAPI returns an agent API over a data directory in a temporary
// directory, with commands run by fx.
func newTestAPI(t *testing.T, fx *fakeExec) (*apiServer, string) {
	t.Helper()
	dir := t.TempDir()
	o := Options{TokenFile: filepath.Join(dir, "token"), Patroni: cluster.PatroniOptions{Name: "n1", DataDir: filepath.Join(dir, "pg")}}
	sup := newSupervisor(o, account{}, newReaper(false), slog.New(slog.DiscardHandler))
	a := newAPIServer(sup, sup.log)
	a.exec = fx.exec
	if err := os.WriteFile(o.TokenFile, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	return a, dir
}

// TestClearFaults: what an earlier agent left (its chains, the fill file)
// is removed; other chains are not touched; a failed listing is reported
// and the fill file still goes.
func TestClearFaults(t *testing.T) {
	listing := "-P INPUT ACCEPT\n-N DOCKER\n-N RS-etcd\n-N RS-lag\n-A INPUT -j RS-etcd\n"
	for _, c := range []struct {
		name    string
		listing string
		listErr error
		fill    bool
		want    [][]string
		wantErr bool
	}{
		{"chains and fill file", listing, nil, true,
			slices.Concat([][]string{listRulesCommand()}, unblockCommands("etcd"), unblockCommands("lag")), false},
		{"nothing left", "-P INPUT ACCEPT\n", nil, false, [][]string{listRulesCommand()}, false},
		{"no iptables", "", errors.New("start iptables: no such file"), true, [][]string{listRulesCommand()}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			fx := &fakeExec{listing: c.listing, listErr: c.listErr}
			a, dir := newTestAPI(t, fx)
			fill := filepath.Join(dir, "redswitch-fill")
			if c.fill {
				if err := os.WriteFile(fill, []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			a.blocks["etcd"], a.filled = true, 1
			err := a.clearFaults(context.Background(), "test")
			if (err != nil) != c.wantErr {
				t.Errorf("clearFaults: %v, want error %t", err, c.wantErr)
			}
			if !reflect.DeepEqual(fx.ran, c.want) {
				t.Errorf("ran\n%q\nwant\n%q", fx.ran, c.want)
			}
			if _, err := os.Stat(fill); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("fill file still there: %v", err)
			}
			if st := a.status(); len(st.Blocks) != 0 || st.FilledBytes != 0 {
				t.Errorf("status after clearing: blocks %v, filled %d", st.Blocks, st.FilledBytes)
			}
		})
	}
}

// TestSoftPowerOnClearsFaults: the end of a soft cut clears the node's
// faults before Patroni may start again; the cut itself does not.
func TestSoftPowerOnClearsFaults(t *testing.T) {
	fx := &fakeExec{listing: "-N RS-partition\n"}
	a, dir := newTestAPI(t, fx)
	srv := httptest.NewServer(a.handler())
	defer srv.Close()
	put := func(body string) int {
		req, _ := http.NewRequest(http.MethodPut, srv.URL+agentapi.PathPower, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if err := os.WriteFile(filepath.Join(dir, "redswitch-fill"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	a.sup.mu.Lock()
	a.sup.held, a.sup.softOff = true, true
	a.sup.mu.Unlock()
	if code := put(`{"on":true}`); code != 200 {
		t.Fatalf("power on: %d", code)
	}
	want := slices.Concat([][]string{listRulesCommand()}, unblockCommands("partition"))
	if !reflect.DeepEqual(fx.ran, want) {
		t.Errorf("power on ran\n%q\nwant\n%q", fx.ran, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "redswitch-fill")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("fill file outlived the soft power-on: %v", err)
	}
	if a.sup.isHeld() || a.sup.isSoftOff() {
		t.Error("power on left Patroni held")
	}
}

// TestClearFaultsInNetns makes real blocks with iptables in a network
// namespace of its own and checks that clearing removes exactly the
// agent's chains and jumps. Needs root, iptables and ip netns.
func TestClearFaultsInNetns(t *testing.T) {
	// Root, iptables and iproute2 are what CI and scripts/install-deps.sh
	// provide: missing under CI=true, they fail the test.
	if os.Getuid() != 0 {
		prereq.Missing(t, "needs root for iptables in a network namespace")
	}
	for _, bin := range []string{"iptables", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			prereq.Missing(t, "needs %s (scripts/install-deps.sh installs it): %v", bin, err)
		}
	}
	ns := fmt.Sprintf("rs-agent-test-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		prereq.Missing(t, "cannot make a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	inNS := func(ctx context.Context, argv []string) (string, error) {
		out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, argv...)...).CombinedOutput()
		if err != nil {
			return string(out), errors.New(strings.Join(argv, " ") + ": " + err.Error() + ": " + string(out))
		}
		return string(out), nil
	}
	ctx := context.Background()
	run := func(cmds [][]string) {
		t.Helper()
		for _, c := range cmds {
			if out, err := inNS(ctx, c); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
		}
	}
	run(blockCommands("etcd", []agentapi.Peer{{Address: "10.0.0.1", Port: 2379}}, cluster.AgentPort))
	run(blockCommands("partition", []agentapi.Peer{{Address: "10.0.0.12"}}, cluster.AgentPort))
	run([][]string{{"iptables", "-w", "-N", "OTHER"}, {"iptables", "-w", "-A", "INPUT", "-j", "OTHER"}})

	a, _ := newTestAPI(t, &fakeExec{})
	a.exec = inNS
	if err := a.clearFaults(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	out, err := inNS(ctx, listRulesCommand())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, chainPrefix) {
		t.Errorf("the agent's chains survived clearing:\n%s", out)
	}
	if !strings.Contains(out, "-N OTHER") || !strings.Contains(out, "-A INPUT -j OTHER") {
		t.Errorf("clearing touched a chain not the agent's:\n%s", out)
	}
}
