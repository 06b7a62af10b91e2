package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/demo"
)

func runDemo(ctx context.Context, env *environ, args []string) error {
	fs := newFlags(env, "demo", "Brings up a real Patroni cluster in containers behind HAProxy, with the head node's\nembedded etcd, its API and dashboard; runs until Ctrl-C, then removes every container\nand network it created.")
	nodes := fs.Int("nodes", 3, "database nodes (1 to 9)")
	timings := fs.String("timings", "aggressive", "timing profile: aggressive, default or TTL/LOOP_WAIT/RETRY_TIMEOUT")
	listen := fs.String("listen", "127.0.0.1:8080", "API and dashboard address")
	tokenFlag := addSecret(fs, env, "operator-token", "REDSWITCH_OPERATOR_TOKEN", "", "operator token for changing requests (generated when none is given)")
	dataDir := fs.String("data-dir", envDefault(env, "REDSWITCH_DATA_DIR", ".build/demo"), "head node data dir: etcd, journal, HAProxy config")
	image := fs.String("image", demo.DefaultImage, "node image (make image builds it)")
	primary := fs.Int("primary-port", 5000, "HAProxy port routing to the primary")
	replica := fs.Int("replica-port", 5001, "HAProxy port balancing over the replicas")
	stats := fs.Int("stats-port", 7000, "HAProxy stats page port")
	keep := fs.Bool("keep", false, "leave the nodes running on exit; the next start adopts them")
	sync := fs.Bool("synchronous-mode", false, "Patroni synchronous_mode: no acknowledged commit lost on failover")
	probeOn := fs.Bool("probe", true, "run the commit probe through the primary port")
	probeInterval := fs.Duration("probe-interval", 10*time.Millisecond, "time between probe commits")
	postmortem := fs.Bool("postmortem-forks", true, "before a crashed primary rejoins, its agent keeps a running fork of it, so the commits pg_rewind discards can be read")
	powerMode := fs.String("power", demo.PowerContainer, "how a node's power is cut: container (kill the container) or agent (a soft cut by the node's agent: every Patroni and PostgreSQL process stopped at once)")
	open := fs.Bool("open", true, "open the dashboard in a browser when a display is available")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	token, err := tokenFlag.resolve(fs, env, env.log)
	if err != nil {
		return err
	}
	if *nodes < 1 || *nodes > 9 {
		return usagef("--nodes %d: want 1 to 9", *nodes)
	}
	t, err := cluster.ParseTimings(*timings)
	if err != nil {
		return usagef("--timings: %v", err)
	}
	if *powerMode != demo.PowerContainer && *powerMode != demo.PowerAgent {
		return usagef("--power %q: want %s or %s", *powerMode, demo.PowerContainer, demo.PowerAgent)
	}
	if v := os.Getenv("TESTCONTAINERS_RYUK_DISABLED"); v != "true" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	start := time.Now()
	d, err := demo.Start(ctx, demo.Options{
		Nodes: *nodes, Timings: t, Image: *image, DataDir: *dataDir, Listen: *listen, OperatorToken: token,
		PrimaryPort: *primary, ReplicaPort: *replica, StatsPort: *stats, SynchronousMode: *sync,
		Probe: *probeOn, ProbeInterval: *probeInterval, Power: *powerMode, PostmortemForks: *postmortem,
		Log: env.log,
	})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(env.stderr, "stopping: removing the rig's containers and network")
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if *keep {
			d.Detach()
		}
		if err := d.Close(cctx); err != nil {
			fmt.Fprintf(env.stderr, "cleanup: %v\n", err)
		}
	}()
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	h, err := d.WaitHealthy(wctx)
	cancel()
	if err != nil {
		return fmt.Errorf("waiting for the cluster: %w", err)
	}
	fmt.Fprintf(env.stdout, "\nredswitch: %d-node cluster healthy in %.1f s (leader %s, %d streaming replicas)\n",
		*nodes, time.Since(start).Seconds(), h.Leader, h.Streaming)
	fmt.Fprintf(env.stdout, "  dashboard & API  %s/   (state: %s/api/v1/state)\n", d.URL, d.URL)
	fmt.Fprintf(env.stdout, "  primary DSN      %s\n", d.DSN)
	fmt.Fprintf(env.stdout, "  replica DSN      %s\n", d.Replicas)
	fmt.Fprintf(env.stdout, "  HAProxy stats    http://127.0.0.1:%d/\n", *stats)
	fmt.Fprintf(env.stdout, "  operator token   %s\n", d.Token)
	fmt.Fprintf(env.stdout, "  cut a node       curl -X POST -H 'Authorization: Bearer %s' -d '{\"on\":false}' %s/api/v1/nodes/n1/power\n", d.Token, d.URL)
	fmt.Fprintf(env.stdout, "  run a scenario   curl -X POST -H 'Authorization: Bearer %s' -d '{\"name\":\"primary-power-cut\"}' %s/api/v1/scenarios/run\n", d.Token, d.URL)
	fmt.Fprintln(env.stdout, "Ctrl-C stops the demo and removes its containers.")
	if *open && os.Getenv("DISPLAY") != "" {
		_ = exec.Command("xdg-open", d.URL+"/").Start()
	}
	<-ctx.Done()
	return nil
}
