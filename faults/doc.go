// Package faults injects and recovers the failures a Patroni cluster meets
// besides a power cut: a frozen node, a network partition, an etcd outage,
// crashes of PostgreSQL or Patroni, a full disk, a corrupt data directory,
// a lagging replica, a node starved of CPU.
//
// Each kind is one small type in its own file with Inject and Recover,
// listed once in Kinds. A Manager resolves a request's target against the
// head node's state, guards every (kind, node) with a small state machine
// that refuses a double injection, records each injection and recovery in
// the journal, and recovers whatever is still active on Close. Faults that
// must act inside a node go through the node agent's API (agentapi).
//
// A fault is recovered node by node. A node without power when its fault
// is recovered is not called (its agent cannot answer): the recovery
// succeeds for the others and lists the node in Fault.Pending, and the
// manager heals it, and journals it, once the head node's state shows its
// power back and its agent answers. The agents clear their own faults when
// they start and when a soft cut ends, so a node comes back clean even if
// no manager is left to heal it.
package faults
