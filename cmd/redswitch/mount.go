package main

import (
	"net/http"

	"github.com/redswitch/redswitch/demo"
)

// mountExtras adds the dashboard, probe and metrics routes to a demo's API.
func mountExtras(mux *http.ServeMux, d *demo.Demo) {}
