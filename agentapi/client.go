package agentapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/redswitch/redswitch/jsonapi"
)

// Client calls one node's agent.
type Client struct {
	// BaseURL is http://address:port of the agent.
	BaseURL string
	Token   string
	HTTP    *http.Client
}

// NewClient returns a client of the agent at address (host or host:port;
// the agent port when none is given).
func NewClient(address string, port int, token string) *Client {
	host := address
	if _, _, err := net.SplitHostPort(address); err != nil {
		host = net.JoinHostPort(address, strconv.Itoa(port))
	}
	return &Client{BaseURL: "http://" + host, Token: token, HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// StatusError is an error answer of the agent.
type StatusError struct {
	Code int
	Msg  string
}

func (e *StatusError) Error() string { return fmt.Sprintf("agent: %d: %s", e.Code, e.Msg) }

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	err := jsonapi.Call(ctx, c.HTTP, method, c.BaseURL+path, c.Token, in, out, 1<<20)
	var se *jsonapi.StatusError
	if errors.As(err, &se) {
		return fmt.Errorf("agent %s %s: %w", method, c.BaseURL+path, &StatusError{Code: se.Code, Msg: se.Msg})
	}
	if err != nil {
		return fmt.Errorf("agent %s %s: %w", method, c.BaseURL+path, err)
	}
	return nil
}

// Status returns the agent's view of its node.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.do(ctx, http.MethodGet, PathStatus, nil, &s)
	return s, err
}

// Block drops the node's traffic with peers under a named block, until
// Unblock. Installing a block that exists replaces it.
func (c *Client) Block(ctx context.Context, name string, peers []Peer) error {
	return c.do(ctx, http.MethodPut, PathBlocks+name, BlockRequest{Peers: peers}, nil)
}

// Unblock removes a named block; removing one that does not exist is fine.
func (c *Client) Unblock(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, PathBlocks+name, nil, nil)
}

// CrashPostgres SIGKILLs the postmaster.
func (c *Client) CrashPostgres(ctx context.Context) (KillResponse, error) {
	var r KillResponse
	err := c.do(ctx, http.MethodPost, PathPostgresKill, nil, &r)
	return r, err
}

// CrashPatroni SIGKILLs Patroni; with hold the agent does not restart it
// until ReleasePatroni.
func (c *Client) CrashPatroni(ctx context.Context, hold bool) (KillResponse, error) {
	var r KillResponse
	err := c.do(ctx, http.MethodPost, PathPatroniKill, PatroniCrashRequest{Hold: hold}, &r)
	return r, err
}

// ReleasePatroni lets the agent start Patroni again.
func (c *Client) ReleasePatroni(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, PathPatroniHold, nil, nil)
}

// SetPower cuts the node's power softly (on false) or restores it.
func (c *Client) SetPower(ctx context.Context, on bool) (PowerResponse, error) {
	var r PowerResponse
	err := c.do(ctx, http.MethodPut, PathPower, PowerRequest{On: &on}, &r)
	return r, err
}

// CreateFork forks the node's running database.
func (c *Client) CreateFork(ctx context.Context, req ForkRequest) (ForkInfo, error) {
	var f ForkInfo
	err := c.do(ctx, http.MethodPost, PathForks, req, &f)
	return f, err
}

// Forks lists the node's forks.
func (c *Client) Forks(ctx context.Context) ([]ForkInfo, error) {
	var fs []ForkInfo
	err := c.do(ctx, http.MethodGet, PathForks, nil, &fs)
	return fs, err
}

// DestroyFork stops a fork and deletes its data.
func (c *Client) DestroyFork(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, PathForks+"/"+url.PathEscape(name), nil, nil)
}

// FillDisk fills the data directory's filesystem.
func (c *Client) FillDisk(ctx context.Context, req FillRequest) (FillResponse, error) {
	var r FillResponse
	err := c.do(ctx, http.MethodPut, PathDiskFill, req, &r)
	return r, err
}

// ReleaseDisk deletes the fill.
func (c *Client) ReleaseDisk(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, PathDiskFill, nil, nil)
}

// PauseReplay pauses WAL replay on a replica.
func (c *Client) PauseReplay(ctx context.Context) error {
	return c.do(ctx, http.MethodPut, PathReplayPause, nil, nil)
}

// ResumeReplay resumes WAL replay.
func (c *Client) ResumeReplay(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, PathReplayPause, nil, nil)
}

// GenerateWAL writes about n bytes of WAL on a primary.
func (c *Client) GenerateWAL(ctx context.Context, n int64) error {
	return c.do(ctx, http.MethodPost, PathWAL, WALRequest{Bytes: n}, nil)
}

// PatroniLog returns the node's Patroni output read in q's window.
func (c *Client) PatroniLog(ctx context.Context, q LogQuery) (PatroniLog, error) {
	var l PatroniLog
	path := PathPatroniLog
	if v := q.Values(); len(v) > 0 {
		path += "?" + v.Encode()
	}
	err := c.do(ctx, http.MethodGet, path, nil, &l)
	return l, err
}
