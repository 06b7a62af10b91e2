package cluster

import "fmt"

// The head node and the agents share these etcd keys; they live here so
// neither imports the other for a string.

// AgentKey is the etcd key an agent keeps alive for its node.
func AgentKey(scope, name string) string {
	return fmt.Sprintf("/redswitch/%s/agents/%s", scope, name)
}

// AgentPrefix is the etcd prefix of every agent key of a scope.
func AgentPrefix(scope string) string { return fmt.Sprintf("/redswitch/%s/agents/", scope) }
