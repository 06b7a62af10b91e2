// Package faults injects and recovers the failures a Patroni cluster meets
// besides a power cut: a frozen node, a network partition, an etcd outage,
// crashes of PostgreSQL or Patroni, a full disk, a corrupt data directory,
// a lagging replica.
//
// Each kind is one small type in its own file with Inject and Recover,
// listed once in Kinds. A Manager resolves a request's target against the
// head node's state, guards every (kind, node) with a small state machine
// that refuses a double injection, records each injection and recovery in
// the journal, and recovers whatever is still active on Close. Faults that
// must act inside a node go through the node agent's API (agentapi).
package faults
