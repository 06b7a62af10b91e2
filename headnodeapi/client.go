package headnodeapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/redswitch/redswitch/jsonapi"
)

// Client calls a head node's API: the demo's or a booth's, which are the
// same. Reads need no token; changes carry Token as a bearer token.
type Client struct {
	// BaseURL is http://host:port of the API, without a trailing slash.
	BaseURL string
	Token   string
	// HTTP is the client to use; nil means http.DefaultClient, so give
	// one with a timeout where a hung head node must not hang the caller.
	HTTP *http.Client
}

// StatusError is an error answer of the head node: its status code and
// the message of its {"error": ...} body.
type StatusError struct {
	Method, Path string
	Code         int
	Msg          string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("head node %s %s: %d: %s", e.Method, e.Path, e.Code, e.Msg)
}

// Do sends in (JSON, when not nil) to method path and decodes a 2xx
// answer into out (when not nil); any other answer is a *StatusError.
// It is the way to the endpoints whose wire types live with their own
// packages (faults, forks, scenario runs).
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	// Answers are small; the cap keeps a wrong server from filling memory.
	err := jsonapi.Call(ctx, c.HTTP, method, c.BaseURL+path, c.Token, in, out, 16<<20)
	var se *jsonapi.StatusError
	if errors.As(err, &se) {
		return &StatusError{Method: method, Path: path, Code: se.Code, Msg: se.Msg}
	}
	if err != nil {
		return fmt.Errorf("head node %s %s: %w", method, path, err)
	}
	return nil
}

// State is GET /api/v1/state.
func (c *Client) State(ctx context.Context) (State, error) {
	var st State
	err := c.Do(ctx, http.MethodGet, "/api/v1/state", nil, &st)
	return st, err
}

// Failovers is GET /api/v1/failovers, oldest first.
func (c *Client) Failovers(ctx context.Context) ([]Failover, error) {
	var body struct {
		Failovers []Failover `json:"failovers"`
	}
	err := c.Do(ctx, http.MethodGet, "/api/v1/failovers", nil, &body)
	return body.Failovers, err
}

// FailoversPage is GET /api/v1/failovers?limit=&before=: up to limit
// failovers, oldest first, ending before the failover with ID before (the
// newest when before is empty). Walk back with page.NextBefore.
func (c *Client) FailoversPage(ctx context.Context, limit int, before string) (FailoverPage, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if before != "" {
		q.Set("before", before)
	}
	var page FailoverPage
	err := c.Do(ctx, http.MethodGet, "/api/v1/failovers?"+q.Encode(), nil, &page)
	return page, err
}

// Outages is GET /api/v1/outages: every outage kept, oldest first.
func (c *Client) Outages(ctx context.Context) (OutagePage, error) {
	var page OutagePage
	err := c.Do(ctx, http.MethodGet, "/api/v1/outages", nil, &page)
	return page, err
}

// OutagesPage is GET /api/v1/outages?limit=&before=: up to limit
// outages, oldest first, ending before the outage with ID before (the
// newest when before is empty). Walk back with page.NextBefore.
func (c *Client) OutagesPage(ctx context.Context, limit int, before string) (OutagePage, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if before != "" {
		q.Set("before", before)
	}
	var page OutagePage
	err := c.Do(ctx, http.MethodGet, "/api/v1/outages?"+q.Encode(), nil, &page)
	return page, err
}

// Switches is GET /api/v1/switches.
func (c *Client) Switches(ctx context.Context) ([]Switch, error) {
	var body struct {
		Switches []Switch `json:"switches"`
	}
	err := c.Do(ctx, http.MethodGet, "/api/v1/switches", nil, &body)
	return body.Switches, err
}

// SetSwitch flips a virtual switch (POST /api/v1/switches/{id}).
func (c *Client) SetSwitch(ctx context.Context, id int, on bool) error {
	return c.Do(ctx, http.MethodPost, "/api/v1/switches/"+strconv.Itoa(id), SwitchRequest{On: &on}, nil)
}

// SetPower cuts or restores a node's power (POST
// /api/v1/nodes/{name}/power).
func (c *Client) SetPower(ctx context.Context, node string, on bool) error {
	return c.Do(ctx, http.MethodPost, "/api/v1/nodes/"+node+"/power", PowerRequest{On: &on}, nil)
}
