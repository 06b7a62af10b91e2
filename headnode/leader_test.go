package headnode

import (
	"testing"
	"time"

	"github.com/redswitch/redswitch/journal"
)

func TestLeaderEvent(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		name    string
		holder  string
		m       kvMeta
		deleted bool
		want    journal.Event
	}{
		{"free key taken", "n2", kvMeta{Lease: 0x694d7c1a2b3c4d5e, CreateRevision: 40, ModRevision: 40}, false,
			journal.Event{At: at, Kind: journal.KindLeader, Node: "n2", ID: "694d7c1a2b3c4d5e", Detail: journal.LeaderCreated}},
		{"live key overwritten", "n1", kvMeta{Lease: 0x2a, CreateRevision: 40, ModRevision: 57}, false,
			journal.Event{At: at, Kind: journal.KindLeader, Node: "n1", ID: "2a", Detail: journal.LeaderOverwritten}},
		{"expired", "", kvMeta{ModRevision: 58}, true,
			journal.Event{At: at, Kind: journal.KindLeader, Detail: "expired"}},
		{"gone while the watch was down", "", kvMeta{}, true,
			journal.Event{At: at, Kind: journal.KindLeader, Detail: "expired"}},
		{"no revisions known", "n3", kvMeta{}, false,
			journal.Event{At: at, Kind: journal.KindLeader, Node: "n3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := leaderEvent(at, c.holder, c.m, c.deleted)
			if got.At != c.want.At || got.Kind != c.want.Kind || got.Node != c.want.Node || got.ID != c.want.ID || got.Detail != c.want.Detail {
				t.Errorf("leaderEvent = %+v, want %+v", got, c.want)
			}
		})
	}
}
