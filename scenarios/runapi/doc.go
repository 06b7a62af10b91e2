// Package runapi lets an operator run a library scenario against the
// running head node over its HTTP API, one run at a time, and watch it:
//
//	GET    /api/v1/scenarios            the library, each with whether this cluster can run it
//	POST   /api/v1/scenarios/run        {"name": "primary-power-cut"} → 202 and the run (operator)
//	GET    /api/v1/scenarios/runs       the current run and the last finished ones, newest first
//	GET    /api/v1/scenarios/runs/{id}  one run: state, progress lines, result
//	DELETE /api/v1/scenarios/runs/{id}  cancel it (operator); its teardown still restores the cluster
//
// A run plays the scenario through scenarios.RemoteBackend against the
// head node's own API (Remote), so it drives the same power and fault
// paths as a visitor and an operator. The head node's cluster is what it
// is: a scenario whose cluster section asks for another shape (node
// count, timings, synchronous mode, tags) is refused, and the listing
// says why. The package lives apart from headnode and demo because
// package scenarios imports demo.
package runapi
