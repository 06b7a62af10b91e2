package faults

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/journal"
)

// watchNodeEvents records the events agents report through etcd (a node
// re-initialised) as journal node events, deleting each key once recorded
// so it is reported once, until ctx ends.
func watchNodeEvents(ctx context.Context, cli *clientv3.Client, scope string, rec Recorder, clock func() time.Time, log *slog.Logger) {
	prefix := agentapi.NodeEventPrefix(scope)
	for ctx.Err() == nil {
		// Poll once a second: simpler than a watch that must be re-made
		// after every etcd hiccup, and an event is rare and not urgent.
		gctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		res, err := cli.Get(gctx, prefix, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
		cancel()
		if err == nil {
			for _, kv := range res.Kvs {
				e, ok := nodeEventToJournal(kv.Value)
				if ok {
					e.At = clock()
					if _, err := rec.Append(e); err != nil {
						log.Error("journal append failed", "err", err)
						continue
					}
				}
				dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				_, _ = cli.Delete(dctx, string(kv.Key))
				cancel()
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// nodeEventToJournal maps an agent's event to a journal event.
func nodeEventToJournal(v []byte) (journal.Event, bool) {
	var ne agentapi.NodeEvent
	if err := json.Unmarshal(v, &ne); err != nil || ne.Node == "" || ne.Detail == "" {
		return journal.Event{}, false
	}
	return journal.Event{Kind: journal.KindNode, Node: ne.Node, Detail: ne.Detail, Source: "agent"}, true
}
