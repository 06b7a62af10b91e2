package headnode

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/probe/analysis"
)

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
		writeJSON(w, http.StatusOK, headnodeapi.FailoverPage{Failovers: Failovers(analysis.Report{Failovers: fs}), Total: total})
		return
	}
	_, total := ob.failoverPage(0, 0)
	end := total
	if before >= 0 {
		end = min(before, total)
	}
	start := max(0, end-limit)
	fs, total := ob.failoverPage(start, end)
	page := headnodeapi.FailoverPage{Failovers: Failovers(analysis.Report{Failovers: fs}), Total: total}
	if start > 0 && len(fs) > 0 {
		page.NextBefore = fs[0].ID
	}
	writeJSON(w, http.StatusOK, page)
}
