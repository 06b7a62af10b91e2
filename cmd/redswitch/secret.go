package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strings"
)

// secretFlag is a flag that holds a secret (a token, a password). Given
// on the command line it still works, with a warning: every user of the
// machine reads a process's arguments (ps, /proc/PID/cmdline), while its
// environment and a 0600 file are its owner's alone. So it has a twin,
// --NAME-file, and both read the environment: $ENV and $ENV_FILE.
type secretFlag struct {
	name, env string
	value     string // --NAME, else $ENV, else the default
	file      string // --NAME-file, else $ENV_FILE
}

// addSecret defines --name and --name-file on fs.
func addSecret(fs *flag.FlagSet, env *environ, name, envKey, def, usage string) *secretFlag {
	s := &secretFlag{name: name, env: envKey}
	fs.StringVar(&s.value, name, envDefault(env, envKey, def),
		fmt.Sprintf("%s (default $%s; on the command line every user of the machine can read it: prefer $%s or --%s-file)",
			usage, envKey, envKey, name))
	fs.StringVar(&s.file, name+"-file", env.getenv(envKey+"_FILE"),
		fmt.Sprintf("read the %s from `FILE` (default $%s_FILE); a trailing newline is not part of it", name, envKey))
	return s
}

// resolve returns the secret once fs is parsed. The command line wins over
// the environment; at one level a value and a file are one too many.
func (s *secretFlag) resolve(fs *flag.FlagSet, env *environ, log *slog.Logger) (string, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fileFlag := s.name + "-file"
	switch {
	case set[s.name] && set[fileFlag]:
		return "", usagef("--%s and --%s: give one", s.name, fileFlag)
	case set[fileFlag]:
		return s.read(log)
	case set[s.name]:
		log.Warn("secret given on the command line, which every user of this machine can read (ps): set it in the environment or a file instead",
			"flag", "--"+s.name, "env", "$"+s.env, "file_flag", "--"+fileFlag)
		return s.value, nil
	case env.getenv(s.env) != "" && s.file != "":
		return "", usagef("$%s and $%s_FILE are both set: give one", s.env, s.env)
	case s.file != "":
		return s.read(log)
	}
	return s.value, nil
}

// read reads the secret's file, without its line ending.
func (s *secretFlag) read(log *slog.Logger) (string, error) {
	fi, err := os.Stat(s.file)
	if err != nil {
		return "", usagef("--%s-file: %v", s.name, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		log.Warn("secret file is readable by other users: chmod 600 it", "file", s.file, "mode", fi.Mode().Perm().String())
	}
	b, err := os.ReadFile(s.file)
	if err != nil {
		return "", usagef("--%s-file: %v", s.name, err)
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", usagef("--%s-file %s is empty", s.name, s.file)
	}
	return v, nil
}

// warnArgvSecret warns when a flag that may carry a secret (a DSN with a
// password) was given one on the command line.
func warnArgvSecret(fs *flag.FlagSet, name string, secret bool, instead string, log *slog.Logger) {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	if set && secret {
		log.Warn("secret given on the command line, which every user of this machine can read (ps): "+instead,
			"flag", "--"+name)
	}
}

// dsnHasPassword reports whether a connection string (a postgres:// URL
// or libpq keyword=value pairs) carries a password.
func dsnHasPassword(dsn string) bool {
	t := strings.TrimSpace(dsn)
	if strings.HasPrefix(t, "postgres://") || strings.HasPrefix(t, "postgresql://") {
		u, err := url.Parse(t)
		if err != nil {
			// Unparsable: it might hold one; the caller's parse says why.
			return strings.Contains(t, "@")
		}
		_, pw := u.User.Password()
		return pw || u.Query().Has("password")
	}
	// A keyword, not a value's text: "password = x" or "password=x".
	return regexp.MustCompile(`(^|\s)password\s*=`).MatchString(t)
}
