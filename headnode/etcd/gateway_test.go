package etcd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// gateway speaks to etcd the way Patroni 3.0.2's etcd3 module does: JSON
// over HTTPS to the gRPC gateway, a token from /v3/auth/authenticate sent
// back bare (no "Bearer") in the Authorization header. The gateway hands
// that header on as gRPC metadata "authorization", which etcd's auth store
// reads besides "token"; the default "simple" token type works, nothing
// else needs setting. Simple tokens lapse after 5 minutes unused
// (--auth-token-ttl); Patroni logs in again when told the token is invalid.
type gateway struct {
	t     *testing.T
	base  string
	http  *http.Client
	token string
}

func newGateway(t *testing.T, b booth) *gateway {
	t.Helper()
	pem, err := os.ReadFile(b.files.CACert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &gateway{t: t, base: "https://" + b.client, http: &http.Client{Timeout: 5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// call POSTs body to path and decodes the answer; it returns the status.
func (g *gateway) call(path string, body any, out any) int {
	g.t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, g.base+path, bytes.NewReader(b))
	if err != nil {
		g.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if g.token != "" {
		req.Header.Set("Authorization", g.token)
	}
	res, err := g.http.Do(req)
	if err != nil {
		g.t.Fatalf("%s: %v", path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, out); err != nil {
			g.t.Fatalf("%s: %v in %s", path, err, raw)
		}
	}
	if res.StatusCode != http.StatusOK && !strings.Contains(string(raw), "permission denied") &&
		!strings.Contains(string(raw), "user name is empty") && !strings.Contains(string(raw), "authentication failed") {
		g.t.Logf("%s: %d %s", path, res.StatusCode, raw)
	}
	return res.StatusCode
}

func (g *gateway) login(user, password string) {
	g.t.Helper()
	var res struct{ Token string }
	if st := g.call("/v3/auth/authenticate", map[string]string{"name": user, "password": password}, &res); st != http.StatusOK || res.Token == "" {
		g.t.Fatalf("authenticate %s: status %d, token %q", user, st, res.Token)
	}
	g.token = res.Token
}

func (g *gateway) put(key, value string, lease string) int {
	body := map[string]string{"key": b64(key), "value": b64(value)}
	if lease != "" {
		body["lease"] = lease
	}
	return g.call("/v3/kv/put", body, nil)
}

func (g *gateway) rangePrefix(prefix string) (int, map[string]string) {
	var res struct {
		Kvs []struct{ Key, Value string }
	}
	st := g.call("/v3/kv/range", map[string]string{"key": b64(prefix), "range_end": b64(prefixEnd(prefix))}, &res)
	out := map[string]string{}
	for _, kv := range res.Kvs {
		k, _ := base64.StdEncoding.DecodeString(kv.Key)
		v, _ := base64.StdEncoding.DecodeString(kv.Value)
		out[string(k)] = string(v)
	}
	return st, out
}

// prefixEnd is the range end of a prefix, as Patroni computes it.
func prefixEnd(p string) string {
	b := []byte(p)
	b[len(b)-1]++
	return string(b)
}

func TestPatroniGateway(t *testing.T) {
	b := newBooth(t)
	s := b.start(t, b.security(patroniUser))
	defer s.Close()

	anon := newGateway(t, b)
	if st := anon.put("/service/redswitch/x", "v", ""); st == http.StatusOK {
		t.Fatal("put without a token accepted")
	}
	if st := anon.call("/v3/auth/authenticate", map[string]string{"name": "patroni", "password": "guess"}, nil); st == http.StatusOK {
		t.Fatal("wrong password accepted")
	}

	g := newGateway(t, b)
	g.login(patroniUser.Name, patroniUser.Password)

	// Patroni discovers the cluster's members first.
	var members struct {
		Members []struct{ ClientURLs []string }
	}
	if st := g.call("/v3/cluster/member/list", map[string]any{}, &members); st != http.StatusOK || len(members.Members) != 1 {
		t.Fatalf("member list: status %d, %+v", st, members)
	}

	// A watch on the scope, opened before the writes, as Patroni keeps one.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	events := g.watch(ctx, "/service/redswitch/")

	var lease struct{ ID string }
	if st := g.call("/v3/lease/grant", map[string]any{"TTL": 5}, &lease); st != http.StatusOK || lease.ID == "" {
		t.Fatalf("lease grant: status %d, %+v", st, lease)
	}
	if st := g.put("/service/redswitch/leader", "n1", lease.ID); st != http.StatusOK {
		t.Fatalf("put the leader key under a lease: status %d", st)
	}
	if st := g.call("/v3/lease/keepalive", map[string]string{"ID": lease.ID}, nil); st != http.StatusOK {
		t.Fatalf("lease keepalive: status %d", st)
	}
	st, kvs := g.rangePrefix("/service/redswitch/")
	if st != http.StatusOK || kvs["/service/redswitch/leader"] != "n1" {
		t.Fatalf("range of the scope: status %d, %v", st, kvs)
	}
	select {
	case k := <-events:
		if k != "/service/redswitch/leader" {
			t.Fatalf("watch saw %q", k)
		}
	case <-ctx.Done():
		t.Fatal("watch saw no event")
	}

	for _, k := range []string{"/service/other/x", "/redswitch/x"} {
		if st := g.put(k, "v", ""); st == http.StatusOK {
			t.Errorf("put %s outside the scope accepted", k)
		}
		if st, _ := g.rangePrefix(k); st == http.StatusOK {
			t.Errorf("range %s outside the scope accepted", k)
		}
	}
}

// watch opens a gateway watch on prefix and sends the key of every event.
func (g *gateway) watch(ctx context.Context, prefix string) <-chan string {
	g.t.Helper()
	body, _ := json.Marshal(map[string]any{"create_request": map[string]string{"key": b64(prefix), "range_end": b64(prefixEnd(prefix))}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.base+"/v3/watch", bytes.NewReader(body))
	if err != nil {
		g.t.Fatal(err)
	}
	req.Header.Set("Authorization", g.token)
	client := &http.Client{Transport: g.http.Transport} // no timeout: the stream stays open
	res, err := client.Do(req)
	if err != nil {
		g.t.Fatalf("watch: %v", err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		g.t.Fatalf("watch: status %d", res.StatusCode)
	}
	type message struct {
		Result struct {
			Created bool
			Events  []struct {
				KV struct{ Key string } `json:"kv"`
			}
		}
		Error json.RawMessage
	}
	dec := json.NewDecoder(bufio.NewReader(res.Body))
	var first message
	if err := dec.Decode(&first); err != nil || !first.Result.Created {
		res.Body.Close()
		g.t.Fatalf("watch: first message %+v, %v", first, err)
	}
	out := make(chan string, 16)
	go func() {
		defer res.Body.Close()
		for {
			var m message
			if err := dec.Decode(&m); err != nil {
				return
			}
			if len(m.Error) > 0 {
				out <- fmt.Sprintf("error %s", m.Error)
				return
			}
			for _, e := range m.Result.Events {
				k, _ := base64.StdEncoding.DecodeString(e.KV.Key)
				out <- string(k)
			}
		}
	}()
	return out
}
