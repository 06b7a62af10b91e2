package failover

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/client"
	"go.etcd.io/etcd/api/v3/version"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/demo"
	"github.com/redswitch/redswitch/rig"
)

// The probe's timeouts as demo.Start leaves them (probe.Options defaults).
const (
	probeConnectTimeout   = time.Second
	probeStatementTimeout = 500 * time.Millisecond
	outageThreshold       = 500 * time.Millisecond // analysis.Options default
)

// describe reads the settings the cluster really runs with and the versions
// of what runs it.
func describe(ctx context.Context, o Options, d *demo.Demo, t cluster.Timings, dir string) (Settings, Versions) {
	set := Settings{Profile: t.Name, Nodes: o.Nodes, TTL: t.TTL, LoopWait: t.LoopWait, RetryTimeout: t.RetryTimeout,
		SynchronousMode: o.Sync, ProbeIntervalMs: ms(o.ProbeInterval), ProbeConnectMs: ms(probeConnectTimeout),
		ProbeStatementMs: ms(probeStatementTimeout), OutageThresholdMs: ms(outageThreshold)}
	var ver Versions
	// Patroni's version and the lease come with its keys: give them a moment.
	for i := 0; i < 25; i++ {
		st := d.Head.State()
		for _, n := range st.Nodes {
			if n.PatroniVersion != "" {
				ver.Patroni = n.PatroniVersion
			}
		}
		eff := st.Timings
		if eff.TTL > 0 {
			set.TTL, set.LoopWait, set.RetryTimeout = eff.TTL, eff.LoopWait, eff.RetryTimeout
		}
		set.LeaseTTL, set.TimingsMismatch = eff.LeaseTTL, eff.Mismatch
		if ver.Patroni != "" && set.LeaseTTL > 0 {
			break
		}
		if sleep(ctx, 200*time.Millisecond) != nil {
			break
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "haproxy.cfg")); err == nil {
		set.HAProxyServer = DefaultServerLine(string(b))
	}
	ver.PostgreSQL = postgresVersion(ctx, d.DSN)
	ver.HAProxy = haproxyVersion(ctx)
	ver.Etcd = "embedded etcd " + version.Version
	return set, ver
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// DefaultServerLine returns the first default-server line of a rendered
// haproxy.cfg, trimmed: the check settings that decide routing.
func DefaultServerLine(cfg string) string {
	for _, line := range strings.Split(cfg, "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "default-server ") {
			return l
		}
	}
	return ""
}

func postgresVersion(ctx context.Context, dsn string) string {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, dsn)
	if err != nil {
		return ""
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var v string
	if err := conn.QueryRow(cctx, "SELECT version()").Scan(&v); err != nil {
		return ""
	}
	// "PostgreSQL 15.x (Debian ...) on x86_64-pc-linux-gnu, compiled by ..."
	if i := strings.Index(v, " on "); i > 0 {
		v = v[:i]
	}
	return v
}

func haproxyVersion(ctx context.Context) string {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, "haproxy", "-v").Output()
	if err != nil {
		return ""
	}
	return HAProxyVersion(string(out))
}

// HAProxyVersion extracts "HAProxy 2.6.12-1" from `haproxy -v` output.
func HAProxyVersion(out string) string {
	first, _, _ := strings.Cut(out, "\n")
	first, _, _ = strings.Cut(first, " - ")
	f := strings.Fields(first)
	if len(f) >= 3 && f[0] == "HAProxy" && f[1] == "version" {
		return "HAProxy " + f[2]
	}
	return strings.TrimSpace(first)
}

// machine describes this host and how busy it is now.
func machine(ctx context.Context) Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), LoadStart: load1()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemBytes = kb << 10
		}
	}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		var sb strings.Builder
		for _, c := range u.Release {
			if c == 0 {
				break
			}
			sb.WriteByte(byte(c))
		}
		m.Kernel = sb.String()
	}
	if cli, err := rig.Docker(ctx); err == nil {
		if res, err := cli.ContainerList(ctx, client.ContainerListOptions{}); err == nil {
			m.OtherContainers = len(res.Items)
		}
		cli.Close()
	}
	return m
}

// load1 is the one-minute load average, 0 when unknown.
func load1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
