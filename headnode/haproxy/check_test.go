package haproxy

import (
	"os/exec"
)

func lookHAProxy() (string, error) { return exec.LookPath("haproxy") }

func runCheck(bin, path string) ([]byte, error) {
	return exec.Command(bin, "-c", "-f", path).CombinedOutput()
}
