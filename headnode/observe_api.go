package headnode

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/probe/analysis"
)

// MaxFailoverPage bounds the limit of GET /api/v1/failovers and of GET
// /api/v1/outages.
const MaxFailoverPage = 1000

// pageQuery reads ?limit=&before= of a paged list whose IDs are prefix
// and a number from 1 ("failover-12", "outage-3"): the page ends before
// the entry `before` (its ID or its number), or at the newest; limit 0
// means no paging. before is returned as an index (-1: none).
func pageQuery(r *http.Request, prefix string) (limit, before int, err error) {
	q := r.URL.Query()
	if s := q.Get("limit"); s != "" {
		limit, err = strconv.Atoi(s)
		if err != nil || limit < 1 || limit > MaxFailoverPage {
			return 0, 0, badRequest("limit %q: want 1 to %d", s, MaxFailoverPage)
		}
	}
	before = -1
	if s := q.Get("before"); s != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(s, prefix))
		if err != nil || n < 1 {
			return 0, 0, badRequest("before %q: want an ID such as %s12", s, prefix)
		}
		if limit == 0 {
			return 0, 0, badRequest("before needs a limit")
		}
		before = n - 1 // IDs count from 1
	}
	return limit, before, nil
}

// pageBounds is the index range of the page a query asks for, over a
// list of total entries.
func pageBounds(limit, before, total int) (start, end int) {
	end = total
	if before >= 0 {
		end = min(before, total)
	}
	return max(0, end-limit), end
}

func (ob *Observer) handleFailovers(w http.ResponseWriter, r *http.Request) {
	limit, before, err := pageQuery(r, "failover-")
	if err != nil {
		writeError(w, err)
		return
	}
	if limit == 0 {
		// Every failover, oldest first: the answer callers always had.
		fs, total := ob.failoverPage(0, int(^uint(0)>>1))
		writeJSON(w, http.StatusOK, headnodeapi.FailoverPage{Failovers: Failovers(analysis.Report{Failovers: fs}), Total: total})
		return
	}
	_, total := ob.failoverPage(0, 0)
	start, end := pageBounds(limit, before, total)
	fs, total := ob.failoverPage(start, end)
	page := headnodeapi.FailoverPage{Failovers: Failovers(analysis.Report{Failovers: fs}), Total: total}
	if start > 0 && len(fs) > 0 {
		page.NextBefore = fs[0].ID
	}
	writeJSON(w, http.StatusOK, page)
}

// handleOutages answers GET /api/v1/outages: the kept outages (the
// latest headnodeapi.MaxKeptOutages), paged like the failovers.
func (ob *Observer) handleOutages(w http.ResponseWriter, r *http.Request) {
	limit, before, err := pageQuery(r, "outage-")
	if err != nil {
		writeError(w, err)
		return
	}
	if limit == 0 {
		limit = headnodeapi.MaxKeptOutages
	}
	_, total := ob.outagePage(0, 0)
	start, end := pageBounds(limit, before, total)
	xs, total := ob.outagePage(start, end)
	page := headnodeapi.OutagePage{Outages: Outages(xs), Total: total}
	// Older pages exist only while older outages are kept.
	if start > 0 && len(xs) > 0 {
		if older, _ := ob.outagePage(start-1, start); len(older) > 0 {
			page.NextBefore = xs[0].ID
		}
	}
	writeJSON(w, http.StatusOK, page)
}
