package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/testcontainers/testcontainers-go"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/booth"
	"github.com/redswitch/redswitch/boothcheck"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/credentials"
	"github.com/redswitch/redswitch/demo"
	"github.com/redswitch/redswitch/dirlock"
	"github.com/redswitch/redswitch/rig"
)

// boothState is what `booth down` needs to remove a rehearsal's rig.
type boothState struct {
	RigID string `json:"rig_id"`
	// Dir is the absolute rehearsal directory, the rig's data dir label.
	Dir string `json:"dir"`
}

// runBooth rehearses a booth on one machine: `up` starts node containers
// that run only the agent and writes a booth configuration for them
// derived from the shipped one; `redswitch headnode --config` then runs
// the head node on it; `down` removes the containers.
func runBooth(ctx context.Context, env *environ, args []string) error {
	if len(args) > 0 && args[0] == "check" {
		return boothCheck(ctx, env, args[1:])
	}
	if len(args) == 0 || (args[0] != "up" && args[0] != "down") {
		return usagef("booth: want `booth up`, `booth down` (see make booth) or `booth check`")
	}
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") != "true" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	if args[0] == "down" {
		return boothDown(ctx, env, args[1:])
	}
	return boothUp(ctx, env, args[1:])
}

func boothUp(ctx context.Context, env *environ, args []string) error {
	fs := newFlags(env, "booth up", "Starts the booth's database nodes as containers running only `redswitch agent` and writes\nDIR/booth.yaml, derived from the shipped booth configuration, for `redswitch headnode --config`.")
	from := fs.String("from", "deploy/booth/booth.yaml", "booth configuration to rehearse")
	dir := fs.String("dir", ".build/booth", "rehearsal directory: rig state, cluster token, derived configuration, head node data")
	powerMode := fs.String("power", string(booth.PowerAgent), "agent (the agents' soft cut) or container (SIGKILL of the node's container)")
	image := fs.String("image", demo.DefaultImage, "node image (make image builds it)")
	hostFlag := fs.String("host", "127.0.0.1", "where the head node's listeners bind (those the booth file keeps on loopback stay there): an address, or `gateway`, the node network's gateway, so that a container on that network plays a laptop on the booth LAN")
	ports := map[string]*int{}
	for _, f := range []string{"api", "primary", "replicas", "stats", "etcd_client", "etcd_peer"} {
		ports[f] = fs.Int(flagName(f)+"-port", 0, "port of listen."+f+" (default: the configuration's)")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	src, err := os.ReadFile(*from)
	if err != nil {
		return fmt.Errorf("booth config: %w", err)
	}
	cfg, err := booth.Parse(*from, src)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return fmt.Errorf("booth dir: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return fmt.Errorf("booth dir: %w", err)
	}
	if _, err := os.Stat(filepath.Join(abs, "rig.json")); err == nil {
		return fmt.Errorf("%s holds a running rehearsal: `redswitch booth down --dir %s` first", abs, *dir)
	}
	// New nodes make a new cluster: the head node's etcd and journal of
	// an earlier rehearsal would tell them one is already initialised, and
	// they would wait for its leader for ever. Not while a head node runs
	// on it.
	head := filepath.Join(abs, "head")
	lock, err := dirlock.Acquire(head)
	if err != nil {
		return fmt.Errorf("booth up: %w", err)
	}
	err = os.RemoveAll(head)
	lock.Release()
	if err != nil {
		return fmt.Errorf("booth up: clear the earlier head node data: %w", err)
	}
	// The booth's secrets, made where the head node will look for them
	// (its data dir), before the nodes that need them start.
	names := make([]string, len(cfg.Nodes))
	for i := range names {
		names[i] = rig.NodeName(i + 1)
	}
	// The nodes need only the CA; the head node issues etcd's
	// certificate for its addresses from it when it starts.
	secrets, err := credentials.EnsureSet(filepath.Join(head, "secrets"), names, nil)
	if err != nil {
		return fmt.Errorf("booth up: %w", err)
	}
	cli, err := rig.Docker(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	if _, err := cli.ImageInspect(ctx, *image); err != nil {
		return fmt.Errorf("node image %s is missing: build it with `make image` (%w)", *image, err)
	}
	var volume int64
	if rig.VolumesSupported() == nil {
		volume = demo.DefaultVolumeSize
	}
	r, err := rig.CreateNetwork(ctx, cli, rig.Options{Scope: cfg.Scope, Nodes: len(cfg.Nodes), Image: *image,
		Timings: cfg.Timings, DataDir: abs, VolumeSize: volume, PostmortemForks: true, Credentials: secrets.Booth, EtcdCA: secrets.CA, Log: env.log})
	if err != nil {
		return err
	}
	st := boothState{RigID: r.ID(), Dir: abs}
	b, _ := json.Marshal(st)
	if err := os.WriteFile(filepath.Join(abs, "rig.json"), b, 0o600); err != nil {
		return errors.Join(fmt.Errorf("booth state: %w", err), r.Close(ctx))
	}
	etcdPort := portOf(cfg.Listen.EtcdClient)
	if p := *ports["etcd_client"]; p != 0 {
		etcdPort = p
	}
	host := *hostFlag
	if host == "gateway" {
		host = r.Gateway()
	}
	reh := booth.Rehearsal{Power: booth.PowerMode(*powerMode), Host: host, EtcdHost: r.Gateway(),
		Ports: map[string]int{}, DataDir: filepath.Join(abs, "head")}
	for f, p := range ports {
		if *p != 0 {
			reh.Ports[f] = *p
		}
	}
	for i := range cfg.Nodes {
		addr := r.NodeAddress(i + 1)
		reh.Nodes = append(reh.Nodes, booth.RehearsalNode{Address: addr,
			Agent:     fmt.Sprintf("http://%s:%d", addr, cluster.AgentPort),
			Container: r.ID() + "-" + rig.NodeName(i+1)})
	}
	out, err := booth.Rehearse(*from, src, reh)
	if err != nil {
		return errors.Join(err, boothRemove(ctx, cli, st, env))
	}
	if err := r.StartNodes(ctx, []string{r.Gateway() + ":" + strconv.Itoa(etcdPort)}); err != nil {
		return errors.Join(err, boothRemove(ctx, cli, st, env))
	}
	token := boothToken()
	if err := r.SetClusterToken(ctx, agentapi.TokenFile, token); err != nil {
		return errors.Join(err, boothRemove(ctx, cli, st, env))
	}
	conf := filepath.Join(abs, "booth.yaml")
	for path, data := range map[string][]byte{filepath.Join(abs, "cluster-token"): []byte(token + "\n"), conf: out} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return errors.Join(err, boothRemove(ctx, cli, st, env))
		}
	}
	fmt.Fprintf(env.stdout, "booth nodes up: %d containers running only the agent (rig %s)\n", len(cfg.Nodes), r.ID())
	fmt.Fprintf(env.stdout, "head node configuration: %s\n", conf)
	return nil
}

func boothDown(ctx context.Context, env *environ, args []string) error {
	fs := newFlags(env, "booth down", "Removes the containers, network and volumes of a rehearsed booth.")
	dir := fs.String("dir", ".build/booth", "rehearsal directory")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(*dir, "rig.json"))
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(env.stdout, "no booth rehearsal is up in", *dir)
		return nil
	}
	if err != nil {
		return fmt.Errorf("booth state: %w", err)
	}
	var st boothState
	if err := json.Unmarshal(b, &st); err != nil || st.RigID == "" {
		return fmt.Errorf("booth state %s: unreadable (%v)", filepath.Join(*dir, "rig.json"), err)
	}
	cli, err := rig.Docker(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	if err := boothRemove(ctx, cli, st, env); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "booth rehearsal %s removed\n", st.RigID)
	return nil
}

// boothRemove removes a rehearsal's containers, network and volumes, and
// its state file last, so a failed removal can be run again.
func boothRemove(ctx context.Context, cli *testcontainers.DockerClient, st boothState, env *environ) error {
	if err := rig.Remove(ctx, cli, map[string]string{rig.LabelRig: st.RigID}, env.log); err != nil {
		return err
	}
	if err := rig.RemoveVolumes(ctx, st.Dir, st.RigID, env.log); err != nil {
		return err
	}
	return os.Remove(filepath.Join(st.Dir, "rig.json"))
}

func flagName(field string) string {
	out := []byte(field)
	for i, c := range out {
		if c == '_' {
			out[i] = '-'
		}
	}
	return string(out)
}

func portOf(addr string) int {
	_, p, err := hostPort(addr)
	if err != nil {
		return 0
	}
	return p
}

func boothToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// boothCheck is the pre-show checklist, run from another laptop on the
// booth's LAN: it tries every port as an outsider and fails when anything
// but the public dashboard and API answers.
func boothCheck(ctx context.Context, env *environ, args []string) error {
	fs := newFlags(env, "booth check", "Tries every port of the booth as an outsider on its LAN would (no credentials, or the\ndefault ones) and prints what answered; exits non-zero if anything is open that should not be.")
	config := fs.String("config", envDefault(env, "REDSWITCH_CONFIG", "/etc/redswitch/booth.yaml"), "booth configuration: the nodes and listeners to try")
	head := fs.String("head", "", "the head node's address on the booth LAN (required: its listeners bind every address)")
	timeout := fs.Duration("timeout", 3*time.Second, "time per attempt")
	asJSON := fs.Bool("json", false, "print the results as JSON instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := booth.Load(*config)
	if err != nil {
		return err
	}
	plan, err := boothcheck.Plan(cfg, *head)
	if err != nil {
		return usagef("booth check: %v", err)
	}
	results := boothcheck.Run(ctx, boothcheck.Net{Timeout: *timeout}, plan)
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(boothcheck.JSON(results)); err != nil {
			return err
		}
	} else {
		fmt.Fprint(env.stdout, boothcheck.Table(results))
	}
	if bad := boothcheck.Failed(results); len(bad) > 0 {
		return fmt.Errorf("%d of %d attempts found the booth open where it should be closed", len(bad), len(results))
	}
	return nil
}
