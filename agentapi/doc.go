// Package agentapi is the wire contract of the node agent's HTTP API: the
// request and response types, their strict decoders, and a typed client.
// The agent serves it (package agent); the fault manager on the head node
// calls it (package faults). Every route needs the cluster token as
// "Authorization: Bearer <token>"; errors are JSON {"error": "..."}.
package agentapi
