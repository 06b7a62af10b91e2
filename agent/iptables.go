package agent

import (
	"strconv"
	"strings"

	"github.com/redswitch/redswitch/agentapi"
)

// chainPrefix marks the iptables chains the agent owns.
const chainPrefix = "RS-"

// chainOf names the iptables chain of a block. Block names are checked by
// agentapi.ValidBlockName, so the chain stays under iptables' 28 characters.
func chainOf(block string) string { return chainPrefix + block }

// listRulesCommand lists the filter table's chains and rules in the form
// iptables takes them (-N chain, -A chain rule...).
func listRulesCommand() []string { return []string{"iptables", "-w", "-S"} }

// ownedBlocks returns the blocks whose chains a listing by
// listRulesCommand shows: what an earlier agent left in this network
// namespace, which outlives the agent when its container or machine did
// not restart (a soft cut, an agent restarted by systemd).
func ownedBlocks(listing string) []string {
	var blocks []string
	for _, line := range strings.Split(listing, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "-N" && strings.HasPrefix(f[1], chainPrefix) && len(f[1]) > len(chainPrefix) {
			blocks = append(blocks, strings.TrimPrefix(f[1], chainPrefix))
		}
	}
	return blocks
}

// blockCommands builds the iptables invocations that make a block: a chain
// of its own, jumped to first from INPUT and OUTPUT, dropping traffic to
// and from every peer in both directions. DROP, not REJECT: a partition is
// silence, and connections hang as they would on a broken network. The
// agent's own port stays open so the head node can still heal the node.
func blockCommands(block string, peers []agentapi.Peer, agentPort int) [][]string {
	chain := chainOf(block)
	ap := strconv.Itoa(agentPort)
	cmds := [][]string{
		{"iptables", "-w", "-N", chain},
		{"iptables", "-w", "-A", chain, "-p", "tcp", "--dport", ap, "-j", "RETURN"},
		{"iptables", "-w", "-A", chain, "-p", "tcp", "--sport", ap, "-j", "RETURN"},
	}
	for _, p := range peers {
		if p.Port > 0 {
			port := strconv.Itoa(p.Port)
			cmds = append(cmds,
				[]string{"iptables", "-w", "-A", chain, "-d", p.Address, "-p", "tcp", "--dport", port, "-j", "DROP"},
				[]string{"iptables", "-w", "-A", chain, "-s", p.Address, "-p", "tcp", "--sport", port, "-j", "DROP"})
			continue
		}
		cmds = append(cmds,
			[]string{"iptables", "-w", "-A", chain, "-d", p.Address, "-j", "DROP"},
			[]string{"iptables", "-w", "-A", chain, "-s", p.Address, "-j", "DROP"})
	}
	// Jumps last: the chain is complete before any packet sees it.
	return append(cmds,
		[]string{"iptables", "-w", "-I", "INPUT", "1", "-j", chain},
		[]string{"iptables", "-w", "-I", "OUTPUT", "1", "-j", chain})
}

// unblockCommands builds the invocations that remove a block. Each may
// fail because the block is (partly) gone already; the caller ignores
// those failures, so removing twice is harmless.
func unblockCommands(block string) [][]string {
	chain := chainOf(block)
	return [][]string{
		{"iptables", "-w", "-D", "INPUT", "-j", chain},
		{"iptables", "-w", "-D", "OUTPUT", "-j", chain},
		{"iptables", "-w", "-F", chain},
		{"iptables", "-w", "-X", chain},
	}
}

// psqlCommand builds a psql invocation over the local socket that runs one
// statement and prints bare results.
func psqlCommand(binDir, socketDir, sql string) []string {
	return []string{binDir + "/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", socketDir, "-U", "postgres", "-d", "postgres", "-c", sql}
}

// walFillSQL builds statements that write about n bytes of WAL on a
// primary: rows of 1 kB into an unindexed scratch table, then a segment
// switch so the WAL is complete and shipped.
func walFillSQL(n int64) string {
	rows := n/1100 + 1
	return "CREATE TABLE IF NOT EXISTS redswitch_wal_fill (b text); " +
		"INSERT INTO redswitch_wal_fill SELECT repeat('x', 1000) FROM generate_series(1, " + strconv.FormatInt(rows, 10) + "); " +
		"TRUNCATE redswitch_wal_fill; SELECT pg_switch_wal();"
}
