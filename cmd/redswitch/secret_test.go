package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redswitch/redswitch/fork"
)

// TestSecretFlag resolves a secret from the command line, a file and the
// environment: argv works but warns, a file or the environment does not.
func TestSecretFlag(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := file("good", "s3cret\n", 0o600)
	crlf := file("crlf", "s3cret\r\n", 0o600)
	open := file("open", "s3cret", 0o644)
	empty := file("empty", "\n", 0o600)
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string
		warn    string // in the log, "" for none
		wantErr string
	}{
		{"default", nil, nil, "dflt", "", ""},
		{"environment", nil, map[string]string{"X_PW": "fromenv"}, "fromenv", "", ""},
		{"command line warns", []string{"--pw", "argv"}, nil, "argv", "every user of this machine can read", ""},
		{"command line beats environment", []string{"--pw", "argv"}, map[string]string{"X_PW": "fromenv"}, "argv", "--pw", ""},
		{"file", []string{"--pw-file", good}, nil, "s3cret", "", ""},
		{"file without CRLF", []string{"--pw-file", crlf}, nil, "s3cret", "", ""},
		{"file beats environment", []string{"--pw-file", good}, map[string]string{"X_PW": "fromenv"}, "s3cret", "", ""},
		{"file from environment", nil, map[string]string{"X_PW_FILE": good}, "s3cret", "", ""},
		{"file readable by others warns", []string{"--pw-file", open}, nil, "s3cret", "chmod 600", ""},
		{"both on the command line", []string{"--pw", "a", "--pw-file", good}, nil, "", "", "give one"},
		{"both in the environment", nil, map[string]string{"X_PW": "a", "X_PW_FILE": good}, "", "", "give one"},
		{"missing file", []string{"--pw-file", filepath.Join(dir, "none")}, nil, "", "", "no such file"},
		{"empty file", []string{"--pw-file", empty}, nil, "", "", "is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			env := &environ{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string { return tc.env[k] }, log: log}
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			s := addSecret(fs, env, "pw", "X_PW", "dflt", "a password")
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			got, err := s.resolve(fs, env, log)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %q, %v; want an error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
			if tc.warn == "" && logs.Len() > 0 {
				t.Errorf("unexpected warning: %s", logs.String())
			}
			if tc.warn != "" && !strings.Contains(logs.String(), tc.warn) {
				t.Errorf("log %q, want a warning with %q", logs.String(), tc.warn)
			}
			if strings.Contains(logs.String(), tc.want) {
				t.Errorf("the warning prints the secret: %s", logs.String())
			}
		})
	}
}

func TestDSNHasPassword(t *testing.T) {
	tests := []struct {
		dsn  string
		want bool
	}{
		{"postgres://postgres:pw@h:5432/db", true},
		{"postgresql://u@h/db?password=pw", true},
		{"postgres://u@h:5432/db", false},
		{"postgres://h/db?sslmode=disable", false},
		{"host=/var/run/postgresql user=postgres password=pw", true},
		{"host=h password = 'a b'", true},
		{"password=pw", true},
		{"host=h user=postgres dbname=passwords", false},
		{"host=h user=postgres", false},
		{"postgres://u:p@h:bad/", true},
	}
	for _, tc := range tests {
		t.Run(tc.dsn, func(t *testing.T) {
			if got := dsnHasPassword(tc.dsn); got != tc.want {
				t.Fatalf("dsnHasPassword(%q) = %v, want %v", tc.dsn, got, tc.want)
			}
		})
	}
}

// TestForkLocalPassword: `fork local` takes the source's password from
// $REDSWITCH_FORK_PASSWORD and removes it from what its children inherit;
// a password in --dsn still works but is warned about.
func TestForkLocalPassword(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		unset     bool
		warn      bool
		wantUsage string
	}{
		{"password from the environment, removed", []string{"list", "--dir", "FORKS"},
			map[string]string{fork.PasswordEnv: "pw"}, true, false, ""},
		{"password in --dsn warned", []string{"create", "--dir", "FORKS", "--dsn", "host=/run user=postgres password=pw"},
			nil, true, true, "--data-dir, --dsn (unless --stopped), --name and --port are required"},
		{"no password anywhere", []string{"create", "--dir", "FORKS", "--dsn", "host=/run user=postgres"},
			nil, true, false, "are required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			var unset []string
			env := &environ{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string { return tc.env[k] },
				unsetenv: func(k string) error { unset = append(unset, k); return nil },
				log:      slog.New(slog.NewTextHandler(&logs, nil))}
			args := slices.Clone(tc.args)
			for i, a := range args {
				if a == "FORKS" {
					args[i] = t.TempDir()
				}
			}
			err := forkLocal(context.Background(), env, args[0], args[1:])
			if tc.wantUsage != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantUsage) {
					t.Fatalf("err %v, want %q", err, tc.wantUsage)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(unset, fork.PasswordEnv); got != tc.unset {
				t.Errorf("$%s removed: %v, want %v", fork.PasswordEnv, got, tc.unset)
			}
			if got := strings.Contains(logs.String(), "--dsn"); got != tc.warn {
				t.Errorf("warned about --dsn: %v, want %v (log %q)", got, tc.warn, logs.String())
			}
			if strings.Contains(logs.String(), "password=pw") {
				t.Errorf("the warning repeats the DSN's password: %q", logs.String())
			}
		})
	}
}

// FuzzDSNHasPassword: a URL built with a password is seen to carry one,
// one built without (and no password keyword in its path) is not.
func FuzzDSNHasPassword(f *testing.F) {
	f.Add("postgres", "pw", "127.0.0.1:5000", "postgres")
	f.Add("u", "", "h", "db")
	f.Add("a b", "p@ss:w/rd", "[::1]:5432", "x")
	f.Fuzz(func(t *testing.T, user, pw, host, db string) {
		u := url.URL{Scheme: "postgres", Host: host, Path: "/" + db}
		if pw != "" {
			u.User = url.UserPassword(user, pw)
		} else {
			u.User = url.User(user)
		}
		dsn := u.String()
		if _, err := url.Parse(dsn); err != nil {
			return // not a URL a client would give
		}
		if got := dsnHasPassword(dsn); got != (pw != "") {
			t.Fatalf("dsnHasPassword(%q) = %v, want %v", dsn, got, pw != "")
		}
	})
}
