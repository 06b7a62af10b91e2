package etcd

import (
	"net/url"
	"reflect"
	"testing"
)

func TestAdvertised(t *testing.T) {
	u := func(hosts ...string) []url.URL {
		var out []url.URL
		for _, h := range hosts {
			out = append(out, url.URL{Scheme: "http", Host: h})
		}
		return out
	}
	tests := []struct {
		name     string
		in, want []url.URL
	}{
		{"loopback and gateway", u("127.0.0.1:2379", "172.30.1.1:2379"), u("172.30.1.1:2379")},
		{"loopback only", u("127.0.0.1:2379"), u("127.0.0.1:2379")},
		{"localhost and ipv6 loopback", u("localhost:2379", "[::1]:2379", "10.0.0.1:2379"), u("10.0.0.1:2379")},
		{"no loopback", u("10.0.0.1:2379", "10.0.1.1:2379"), u("10.0.0.1:2379", "10.0.1.1:2379")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := advertised(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("advertised = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDialable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1:2379", "127.0.0.1:2379"},
		{"10.0.0.1:2379", "10.0.0.1:2379"},
		{"0.0.0.0:2379", "127.0.0.1:2379"},
		{"[::]:2379", "[::1]:2379"},
		{":2379", "127.0.0.1:2379"},
		{"headnode:2379", "headnode:2379"},
	}
	for _, tc := range tests {
		if got := dialable(tc.in); got != tc.want {
			t.Errorf("dialable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
