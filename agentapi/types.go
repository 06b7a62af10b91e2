package agentapi

import (
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"time"

	"github.com/redswitch/redswitch/jsonapi"
)

// Routes of the agent API.
const (
	PathStatus       = "/v1/status"
	PathBlocks       = "/v1/blocks/"        // + name: PUT installs, DELETE heals
	PathPostgresKill = "/v1/postgres/crash" // POST
	PathPatroniKill  = "/v1/patroni/crash"  // POST
	PathPatroniHold  = "/v1/patroni/hold"   // DELETE releases the hold
	PathDiskFill     = "/v1/disk/fill"      // PUT fills, DELETE releases
	PathReplayPause  = "/v1/replay/pause"   // PUT pauses, DELETE resumes
	PathWAL          = "/v1/wal"            // POST generates WAL on a primary
	PathPower        = "/v1/power"          // PUT {"on": false} cuts softly, {"on": true} restores
	PathForks        = "/v1/forks"          // GET lists, POST creates; + "/" + name: DELETE destroys
)

// TokenFile is where the agent reads the cluster token when none was
// configured: the rig writes it into running node containers.
const TokenFile = "/etc/redswitch-cluster-token"

// Peer is an address whose traffic a block drops, optionally only one TCP
// port of it (the etcd endpoint on the head node's address).
type Peer struct {
	Address string `json:"address"`
	Port    int    `json:"port,omitempty"`
}

// BlockRequest is the body of PUT /v1/blocks/{name}.
type BlockRequest struct {
	Peers []Peer `json:"peers"`
}

// PatroniCrashRequest is the body of POST /v1/patroni/crash.
type PatroniCrashRequest struct {
	// Hold keeps Patroni down until DELETE /v1/patroni/hold.
	Hold bool `json:"hold"`
}

// FillRequest is the body of PUT /v1/disk/fill.
type FillRequest struct {
	// LeaveBytes is how much free space to leave (0: none).
	LeaveBytes int64 `json:"leave_bytes,omitempty"`
	// MaxBytes refuses to fill more than this: on a data directory that
	// shares the host's disk, filling it would fill the host's.
	MaxBytes int64 `json:"max_bytes"`
}

// FillResponse says what a fill did.
type FillResponse struct {
	Path       string `json:"path"`
	Bytes      int64  `json:"bytes"`
	FreeBefore int64  `json:"free_before"`
}

// WALRequest is the body of POST /v1/wal.
type WALRequest struct {
	Bytes int64 `json:"bytes"`
}

// PowerRequest is the body of PUT /v1/power. On is a pointer so that a
// body without it is refused rather than read as a power cut.
type PowerRequest struct {
	On *bool `json:"on"`
}

// PowerResponse says what a soft power change did.
type PowerResponse struct {
	On bool `json:"on"`
	// Killed lists the processes a cut stopped and killed.
	Killed []int `json:"killed,omitempty"`
}

// ForkRequest is the body of POST /v1/forks.
type ForkRequest struct {
	Name string `json:"name"`
	// Port of the fork's server; 0 lets the agent pick a free one.
	Port int `json:"port,omitempty"`
	// Listen is the fork server's listen_addresses (see ParseListen);
	// empty keeps the node's.
	Listen string `json:"listen,omitempty"`
}

// ForkInfo describes one fork of a node's database.
type ForkInfo struct {
	Name string `json:"name"`
	Node string `json:"node"`
	Port int    `json:"port"`
	// DSN reaches the fork from the head node's side of the network.
	DSN       string    `json:"dsn"`
	Method    string    `json:"method"`
	Timeline  int       `json:"timeline"`
	CreatedAt time.Time `json:"created_at"`
	Running   bool      `json:"running"`
	// ToWritableS is the time from the request to a writable fork, and
	// the phases below its parts, in seconds.
	ToWritableS float64 `json:"to_writable_s"`
	CheckpointS float64 `json:"checkpoint_s"`
	CopyS       float64 `json:"copy_s"`
	StartS      float64 `json:"start_s"`
	PromoteS    float64 `json:"promote_s"`
	// ReplayBytes is the WAL the fork replayed before it was writable,
	// when known (fork.Fork.ReplayBytes): why a replica's fork can be slow.
	ReplayBytes int64 `json:"replay_bytes,omitempty"`
}

// ReplayedMB words ReplayBytes for people ("33.7 MB"); "" when unknown.
func (f ForkInfo) ReplayedMB() string {
	if f.ReplayBytes <= 0 {
		return ""
	}
	return fmt.Sprintf("%.1f MB", float64(f.ReplayBytes)/1e6)
}

// DecodeForkRequest parses and checks a fork request's shape; the agent
// checks the name itself against its fork rules.
func DecodeForkRequest(r io.Reader) (ForkRequest, error) {
	var req ForkRequest
	if err := decode(r, &req, "fork request"); err != nil {
		return req, err
	}
	if req.Name == "" {
		return req, errors.New("fork request: name: required")
	}
	if req.Port < 0 || req.Port > 65535 {
		return req, fmt.Errorf("fork request: port %d: want 1..65535, or none to let the agent pick", req.Port)
	}
	l, err := ParseListen(req.Listen)
	if err != nil {
		return req, fmt.Errorf("fork request: %w", err)
	}
	req.Listen = l
	return req, nil
}

// KillResponse names the process a crash killed.
type KillResponse struct {
	PID int `json:"pid"`
}

// Status is the answer of GET /v1/status.
type Status struct {
	Node        string   `json:"node"`
	PatroniPID  int      `json:"patroni_pid,omitempty"`
	PatroniHeld bool     `json:"patroni_held,omitempty"`
	Blocks      []string `json:"blocks,omitempty"`
	FilledBytes int64    `json:"filled_bytes,omitempty"`
	// SoftPowerOff is set between a soft power cut and its restore.
	SoftPowerOff bool `json:"soft_power_off,omitempty"`
	AutoHeal     bool `json:"auto_heal"`
	// Reinitialisations counts wipes of a corrupt data directory since the
	// agent started.
	Reinitialisations int `json:"reinitialisations,omitempty"`
}

// Error is the body of every error answer.
type Error struct {
	Error string `json:"error"`
}

// MaxBody bounds every request body.
const MaxBody = 64 << 10

var blockName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,15}$`)

// ValidBlockName reports whether name can name a block (it becomes part of
// an iptables chain name, which is short and plain).
func ValidBlockName(name string) error {
	if !blockName.MatchString(name) {
		return fmt.Errorf("block name %q: want 1 to 16 of a-z, 0-9, _ starting with a letter", name)
	}
	return nil
}

// decode reads exactly one JSON object with no unknown fields.
func decode(r io.Reader, v any, what string) error {
	if err := jsonapi.DecodeStrict(r, MaxBody, v); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: empty body: want a JSON object", what)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// DecodeBlockRequest parses and checks a block request.
func DecodeBlockRequest(r io.Reader) (BlockRequest, error) {
	var req BlockRequest
	if err := decode(r, &req, "block request"); err != nil {
		return req, err
	}
	if len(req.Peers) == 0 {
		return req, errors.New("block request: peers: at least one is required")
	}
	if len(req.Peers) > 64 {
		return req, fmt.Errorf("block request: peers: %d, at most 64", len(req.Peers))
	}
	for i, p := range req.Peers {
		ip := net.ParseIP(p.Address)
		if ip == nil || ip.To4() == nil {
			return req, fmt.Errorf("block request: peers[%d].address %q: want an IPv4 address", i, p.Address)
		}
		if p.Port < 0 || p.Port > 65535 {
			return req, fmt.Errorf("block request: peers[%d].port %d: want 1..65535 or none", i, p.Port)
		}
	}
	return req, nil
}

// DecodePatroniCrashRequest parses a Patroni crash request; an empty body
// means no hold.
func DecodePatroniCrashRequest(r io.Reader) (PatroniCrashRequest, error) {
	var req PatroniCrashRequest
	err := decode(r, &req, "patroni crash request")
	return req, err
}

// DecodePowerRequest parses a soft power request; "on" is required.
func DecodePowerRequest(r io.Reader) (PowerRequest, error) {
	var req PowerRequest
	if err := decode(r, &req, "power request"); err != nil {
		return req, err
	}
	if req.On == nil {
		return req, errors.New(`power request: on: required (true restores, false cuts)`)
	}
	return req, nil
}

// DecodeFillRequest parses and checks a disk fill request.
func DecodeFillRequest(r io.Reader) (FillRequest, error) {
	var req FillRequest
	if err := decode(r, &req, "fill request"); err != nil {
		return req, err
	}
	if req.LeaveBytes < 0 {
		return req, fmt.Errorf("fill request: leave_bytes %d: must not be negative", req.LeaveBytes)
	}
	if req.MaxBytes <= 0 {
		return req, fmt.Errorf("fill request: max_bytes %d: must be positive (the most the fill may take)", req.MaxBytes)
	}
	return req, nil
}

// MaxWAL bounds one WAL generation request.
const MaxWAL = 1 << 30

// DecodeWALRequest parses and checks a WAL generation request.
func DecodeWALRequest(r io.Reader) (WALRequest, error) {
	var req WALRequest
	if err := decode(r, &req, "wal request"); err != nil {
		return req, err
	}
	if req.Bytes <= 0 || req.Bytes > MaxWAL {
		return req, fmt.Errorf("wal request: bytes %d: want 1..%d", req.Bytes, MaxWAL)
	}
	return req, nil
}

// EventReinitialised is the Detail of a node event saying the agent wiped
// a corrupt data directory and Patroni rebuilt it from the primary.
const EventReinitialised = "reinitialised"

// NodeEvent is something an agent reports about its node through etcd,
// under NodeEventPrefix: the head node records it in the journal and
// deletes the key.
type NodeEvent struct {
	Node   string    `json:"node"`
	Detail string    `json:"detail"`
	Reason string    `json:"reason,omitempty"`
	From   string    `json:"from,omitempty"`
	At     time.Time `json:"at"`
}

// NodeEventPrefix is the etcd prefix of every node event of a scope.
func NodeEventPrefix(scope string) string { return "/redswitch/" + scope + "/node-events/" }

// NodeEventKey is the key of one event of a node.
func NodeEventKey(scope, node string, at time.Time) string {
	return NodeEventPrefix(scope) + node + "/" + strconv.FormatInt(at.UnixNano(), 10)
}

// PostmortemPrefix starts the name of every post-mortem fork.
const PostmortemPrefix = "postmortem-"
