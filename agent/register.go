package agent

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/etcdaccess"
)

var errKeepAliveEnded = errors.New("lease keep-alive ended")

// Registration is the value of an agent's key in etcd.
type Registration struct {
	Name      string    `json:"name"`
	Address   string    `json:"address"`
	StartedAt time.Time `json:"started_at"`
	PID       int       `json:"pid"`
}

// register keeps the agent's key alive under a lease until ctx ends,
// reconnecting when etcd goes away, so the head node sees the agent vanish
// within the lease and reappear when it comes back.
func register(ctx context.Context, o Options, log *slog.Logger) {
	reg := Registration{Name: o.Patroni.Name, Address: o.Patroni.Address, StartedAt: time.Now().UTC(), PID: os.Getpid()}
	val, _ := json.Marshal(reg)
	key := cluster.AgentKey(o.Patroni.Scope, o.Patroni.Name)
	for ctx.Err() == nil {
		err := registerOnce(ctx, o.Etcd, key, string(val), o.RegisterTTL)
		if ctx.Err() != nil {
			return
		}
		log.Warn("agent registration lost, retrying", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func registerOnce(ctx context.Context, access etcdaccess.Access, key, val string, ttl time.Duration) error {
	cli, err := access.New(2 * time.Second)
	if err != nil {
		return err
	}
	defer cli.Close()
	grantCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	lease, err := cli.Grant(grantCtx, int64(ttl/time.Second))
	cancel()
	if err != nil {
		return err
	}
	putCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, err = cli.Put(putCtx, key, val, clientv3.WithLease(lease.ID))
	cancel()
	if err != nil {
		return err
	}
	ka, err := cli.KeepAlive(ctx, lease.ID)
	if err != nil {
		return err
	}
	for range ka {
	}
	if ctx.Err() != nil {
		// Leaving on purpose: take the key away at once.
		delCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, _ = cli.Revoke(delCtx, lease.ID)
		cancel()
		return ctx.Err()
	}
	return errKeepAliveEnded
}
