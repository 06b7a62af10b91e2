package runapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/redswitch/redswitch/scenarios"
)

// RemoteOptions configure Remote.
type RemoteOptions struct {
	// URL of the head node; empty means Job.Self, the address the run's
	// request reached.
	URL string
	// Token is the operator token the run's power and fault requests
	// carry.
	Token string
	// ProbeDSN is the primary DSN for the run's own commit probe (empty:
	// the one the head node reports).
	ProbeDSN string
	// Client is the HTTP client (http.DefaultClient when nil).
	Client *http.Client
	Log    *slog.Logger
}

// Remote is the Runner that plays a scenario against the head node over
// its own API: scenarios.RunScenario with a scenarios.RemoteBackend. On a
// cancel, RunScenario stops between steps and the backend's teardown,
// on a context that survives the cancel, recovers the faults the run
// left injected and powers on the nodes it left off.
func Remote(o RemoteOptions) Runner {
	return func(ctx context.Context, job Job) scenarios.Result {
		url := o.URL
		if url == "" {
			url = job.Self
		}
		b := &scenarios.RemoteBackend{URL: url, OperatorToken: o.Token, ProbeDSN: o.ProbeDSN, Client: o.Client, Log: o.Log}
		return scenarios.RunScenario(ctx, job.Scenario, scenarios.RunOptions{Backend: b, Log: o.Log,
			Progress: func(_, line string) { job.Progress(line) }})
	}
}
