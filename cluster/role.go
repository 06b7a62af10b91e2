package cluster

// Role is what a node is doing in the cluster, as the dashboard and the
// analysis name it.
type Role string

// The roles a node can have.
const (
	RolePrimary        Role = "primary"
	RoleReplica        Role = "replica"
	RoleDown           Role = "down"
	RoleStarting       Role = "starting"
	RoleRewinding      Role = "rewinding"
	RoleReinitialising Role = "reinitialising"
	RoleUnknown        Role = "unknown"
)

// RoleFromPatroni maps Patroni's role and state strings to a Role.
func RoleFromPatroni(role, state string) Role {
	switch state {
	case "starting", "restarting", "creating replica", "initializing new cluster", "running custom bootstrap script":
		if state == "creating replica" {
			return RoleReinitialising
		}
		return RoleStarting
	case "stopped", "stopping", "crashed", "start failed", "stopped (unknown)":
		return RoleDown
	}
	switch role {
	case "leader", "master", "primary", "standby_leader":
		return RolePrimary
	case "replica", "sync_standby", "standby", "quorum_standby":
		return RoleReplica
	case "uninitialized":
		return RoleStarting
	}
	return RoleUnknown
}
