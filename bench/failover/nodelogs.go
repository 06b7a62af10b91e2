package failover

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/redswitch/redswitch/demo"
	"github.com/redswitch/redswitch/rig"
)

// keepNodeLogs saves what the victim and the new primary logged from just
// before the cut to now, with Docker's receive timestamps: Patroni's race,
// the promotion and PostgreSQL's end of recovery, on the same clock as the
// journal (the host's).
func keepNodeLogs(ctx context.Context, out string, d *demo.Demo, tr Trial) error {
	if tr.cutAt.IsZero() {
		return nil
	}
	cli, err := rig.Docker(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	since := tr.cutAt.Add(-2 * time.Second)
	for _, n := range d.Rig.Nodes() {
		if n.Name != tr.Victim && n.Name != tr.NewPrimary {
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		rc, err := cli.ContainerLogs(lctx, n.ContainerID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true,
			Timestamps: true, Since: strconv.FormatFloat(float64(since.UnixNano())/1e9, 'f', 3, 64)})
		if err != nil {
			cancel()
			return fmt.Errorf("logs of %s: %w", n.Name, err)
		}
		var buf bytes.Buffer
		_, err = stdcopy.StdCopy(&buf, &buf, rc)
		rc.Close()
		cancel()
		if err != nil {
			return fmt.Errorf("logs of %s: %w", n.Name, err)
		}
		path := filepath.Join(out, "events", fmt.Sprintf("%s-%02d.%s.log", tr.Profile, tr.Trial, n.Name))
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
