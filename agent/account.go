package agent

import (
	"fmt"
	"os/user"
	"strconv"
)

type account struct {
	name     string
	uid, gid int
	home     string
}

func lookupAccount(name string) (account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return account{}, fmt.Errorf("user %q: %w", name, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return account{}, fmt.Errorf("user %q: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return account{}, fmt.Errorf("user %q: gid %q: %w", name, u.Gid, err)
	}
	return account{name: name, uid: uid, gid: gid, home: u.HomeDir}, nil
}
