// Package runapi lets an operator run a library scenario against the
// running head node over its HTTP API, one run at a time, and watch it:
//
//	GET    /api/v1/scenarios            the library, each with whether this cluster can run it
//	POST   /api/v1/scenarios/run        {"name": "primary-power-cut"} → 202 and the run (operator)
//	GET    /api/v1/scenarios/runs       the current run and the last finished ones, newest first
//	GET    /api/v1/scenarios/runs/{id}  one run: state, progress lines, result
//	DELETE /api/v1/scenarios/runs/{id}  cancel it (operator); its teardown still restores the cluster
//
// The head node runs each scenario in its own process (service.Start wires
// a Runner that plays it through scenarios.LocalBackend on the one
// history, probe and fault manager), so a run drives the same power and
// fault paths as a visitor and an operator. The head node's cluster is
// what it is: a scenario whose cluster section asks for another shape
// (node count, timings, synchronous mode, tags) is refused, and the
// listing says why. This package is the HTTP face of runs: one at a time,
// progress, cancel, the last finished ones.
package runapi
