package demo

import "net/http"

// mountExtras adds the routes of the parts composed around the head node:
// probe, failovers, metrics, dashboard, switches, faults.
func (d *Demo) mountExtras(mux *http.ServeMux) {
	d.mountObservers(mux)
	d.mountFaults(mux)
}
