// Package cluster is the shared vocabulary of redswitch: node roles, Patroni
// timing profiles, and the Patroni configuration the agent renders.
package cluster
