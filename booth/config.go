// Package booth reads the booth configuration: one YAML file that says
// which nodes there are, which switch and relay belongs to which node, how
// power is cut, and where the head node listens. Errors name the file,
// line and field.
package booth

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/fiu"
)

// Config is a parsed and validated booth configuration.
type Config struct {
	// File is the name the configuration was read from.
	File string
	// Scope is the Patroni cluster name (default "redswitch").
	Scope    string
	Nodes    []Node
	Switches []Switch
	Relays   []Relay
	Power    PowerMode
	// Timings is the timing profile named (or written TTL/LOOP/RETRY) by
	// the timings field, default "aggressive".
	Timings       cluster.Timings
	OperatorToken Secret
	ClusterToken  Secret
	Listen        Listen
	// DataDir holds the journal and the embedded etcd (absolute path).
	DataDir string
	GPIO    GPIO
	Probe   Probe
	// lines maps each field's path to the line of its key.
	lines map[string]int
}

// Probe says where the commit probe connects: HAProxy's primary listener
// unless told otherwise.
type Probe struct {
	// Off turns the probe off (enabled: false).
	Off bool
	// DSN, when set, is used as it is; the other fields must be unset.
	DSN string
	// Host and Port default to listen.primary's, an empty or wildcard
	// host meaning 127.0.0.1.
	Host string
	Port int
	// User (default postgres) and the file holding the password
	// (default: the password "postgres" of the rig's image).
	User         string
	PasswordFile string
	Database     string
	// Interval between commits (default 10 ms).
	Interval time.Duration
	// Line is where the section is, Lines where each field is.
	Line  int
	Lines map[string]int
}

// Node is one database node.
type Node struct {
	Name string
	// Address is the host name or IP the node is reached at.
	Address string
	// Agent is the URL of the node agent's API.
	Agent string
	// Container is the node's container, for power: container (a booth
	// rehearsed on one machine).
	Container string
	// Line is where the node is defined, for later error messages.
	Line int
}

// Level is a pin level: "low" or "high".
type Level string

// The two levels.
const (
	Low  Level = "low"
	High Level = "high"
)

// Switch is one red switch.
type Switch struct {
	ID   int
	Node string
	// Pin is the GPIO line (BCM number on a Raspberry Pi).
	Pin int
	// Active is the level the pin reads when the switch is ON (its
	// normal position, node powered). Default low: switch to GND with the
	// pull-up, contact closed when ON.
	Active Level
	Line   int
}

// Relay is the relay channel that cuts one node's DC power.
type Relay struct {
	Node string
	Pin  int
	// Active is the level that energises the relay, which cuts the power
	// (DC runs through the normally-closed contact). Most relay boards are
	// active low.
	Active Level
	Line   int
}

// PowerMode says how a flipped switch cuts a node.
type PowerMode string

// The power modes.
const (
	// PowerRelay drives a relay per node from the head node.
	PowerRelay PowerMode = "relay"
	// PowerContainer kills the node's container.
	PowerContainer PowerMode = "container"
	// PowerAgent asks the node's agent for a soft cut.
	PowerAgent PowerMode = "agent"
	// PowerObserve: the switches cut DC power themselves; the head node
	// only records the switch as the cause.
	PowerObserve PowerMode = "observe"
)

// Secret is a token given in the file or, better, named by an environment
// variable.
type Secret struct {
	Value string
	Env   string
}

// Resolve returns the token, reading the environment through getenv.
func (s Secret) Resolve(getenv func(string) string) (string, error) {
	if s.Env == "" {
		return s.Value, nil
	}
	v := getenv(s.Env)
	if v == "" {
		return "", fmt.Errorf("environment variable %s is empty or unset", s.Env)
	}
	if len(v) < minTokenLen {
		return "", fmt.Errorf("environment variable %s: token shorter than %d characters", s.Env, minTokenLen)
	}
	return v, nil
}

// Listen holds the head node's listen addresses (host:port).
type Listen struct {
	// API serves the dashboard, the API and metrics.
	API string
	// Primary and Replicas are HAProxy's PostgreSQL front ends.
	Primary  string
	Replicas string
	// Stats is HAProxy's stats page.
	Stats string
	// EtcdClient and EtcdPeer are the embedded etcd's URLs' host:port.
	EtcdClient string
	EtcdPeer   string
}

// GPIO configures the switch inputs.
type GPIO struct {
	// Backend is "rpio", "cdev" or "virtual".
	Backend string
	// Chip is the GPIO character device for cdev (default gpiochip0).
	Chip string
	// Debounce is the debounce window (default 30 ms).
	Debounce time.Duration
	// PollRate is samples per second (default 1000, at least 500).
	PollRate int
}

// PollInterval is the time between samples.
func (g GPIO) PollInterval() time.Duration { return time.Second / time.Duration(g.PollRate) }

// FIUSwitches returns the switches in the form fiu.Unit wants.
func (c *Config) FIUSwitches() []fiu.SwitchConfig {
	out := make([]fiu.SwitchConfig, 0, len(c.Switches))
	for _, s := range c.Switches {
		out = append(out, fiu.SwitchConfig{ID: s.ID, Node: s.Node, Pin: s.Pin, ActiveHigh: s.Active == High})
	}
	return out
}

// GPIOLines returns the pins to open: switch inputs and, in relay mode,
// relay outputs at their de-energised level so every node stays powered
// while the head node starts.
func (c *Config) GPIOLines() fiu.Lines {
	l := fiu.Lines{Outputs: map[int]bool{}}
	for _, s := range c.Switches {
		l.Inputs = append(l.Inputs, s.Pin)
	}
	for _, r := range c.Relays {
		l.Outputs[r.Pin] = r.Active != High
	}
	return l
}

// Load reads and validates the booth configuration at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("booth config: %w", err)
	}
	return Parse(path, data)
}

// String names where the secret comes from without showing it.
func (s Secret) String() string {
	switch {
	case s.Env != "":
		return "$" + s.Env
	case s.Value != "":
		return "(set in the file)"
	}
	return "(unset)"
}

// MarshalJSON keeps literal tokens out of JSON (API answers, dumps).
func (s Secret) MarshalJSON() ([]byte, error) {
	return json.Marshal(s.String())
}
