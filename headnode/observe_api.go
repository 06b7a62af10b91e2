package headnode

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/redswitch/redswitch/dashboard"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe"
	"github.com/redswitch/redswitch/probe/analysis"
)

// ProbeJSON is the answer of GET /api/v1/probe.
type ProbeJSON struct {
	probe.Stats
	Totals analysis.Totals `json:"totals"`
	// OpenOutageS is how long the outage in progress has lasted.
	OpenOutageS float64 `json:"open_outage_s,omitempty"`
}

// MaxFailoverPage bounds the limit of GET /api/v1/failovers.
const MaxFailoverPage = 1000

// failoverPageQuery reads ?limit=&before= of GET /api/v1/failovers: the
// page ends before failover `before` (its ID, "failover-12", or its
// number, 12), or at the newest; limit 0 means no paging.
func failoverPageQuery(r *http.Request) (limit, before int, err error) {
	q := r.URL.Query()
	if s := q.Get("limit"); s != "" {
		limit, err = strconv.Atoi(s)
		if err != nil || limit < 1 || limit > MaxFailoverPage {
			return 0, 0, badRequest("limit %q: want 1 to %d", s, MaxFailoverPage)
		}
	}
	before = -1
	if s := q.Get("before"); s != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(s, "failover-"))
		if err != nil || n < 1 {
			return 0, 0, badRequest("before %q: want a failover ID such as failover-12", s)
		}
		if limit == 0 {
			return 0, 0, badRequest("before needs a limit")
		}
		before = n - 1 // IDs count from 1
	}
	return limit, before, nil
}

func (ob *Observer) handleFailovers(w http.ResponseWriter, r *http.Request) {
	limit, before, err := failoverPageQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if limit == 0 {
		// Every failover, oldest first: the answer callers always had.
		fs, total := ob.failoverPage(0, int(^uint(0)>>1))
		writeJSON(w, http.StatusOK, headnodeapi.FailoverPage{Failovers: Failovers(fs), Total: total})
		return
	}
	_, total := ob.failoverPage(0, 0)
	end := total
	if before >= 0 {
		end = min(before, total)
	}
	start := max(0, end-limit)
	fs, total := ob.failoverPage(start, end)
	page := headnodeapi.FailoverPage{Failovers: Failovers(fs), Total: total}
	if start > 0 && len(fs) > 0 {
		page.NextBefore = fs[0].ID
	}
	writeJSON(w, http.StatusOK, page)
}

// Mount adds the observer's routes: failovers, probe, metrics, history
// reset, and the dashboard (page and websocket).
func (ob *Observer) Mount(mux *http.ServeMux, origins []string) {
	mux.HandleFunc("GET /api/v1/failovers", ob.handleFailovers)
	mux.HandleFunc("GET /api/v1/probe", func(w http.ResponseWriter, r *http.Request) {
		pj := ProbeJSON{Totals: ob.totals()}
		if ob.o.Probe != nil {
			pj.Stats = ob.o.Probe.Stats()
			if pj.Outage && !pj.OutageSince.IsZero() {
				pj.OpenOutageS = ob.o.Clock().Sub(pj.OutageSince).Seconds()
			}
		}
		writeJSON(w, http.StatusOK, pj)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(ob.reg, promhttp.HandlerOpts{}))
	mux.Handle("POST /api/v1/history/reset", ob.o.Head.RequireOperator(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := ob.o.Events.Append(journal.Event{Kind: journal.KindMark, Detail: historyResetDetail, Source: "api"}); err != nil {
			writeError(w, err)
			return
		}
		ob.Tick()
		writeJSON(w, http.StatusOK, map[string]any{"reset": true})
	})))
	if ob.o.Hub != nil {
		mux.Handle("GET /ws", dashboard.Handler(ob.o.Hub, dashboard.HandlerOptions{AllowedOrigins: origins, Log: ob.o.Log}))
		mux.Handle("GET /", dashboard.Static())
	}
}
