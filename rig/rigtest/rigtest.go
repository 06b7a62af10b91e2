// Package rigtest is what tests that start node containers share: the
// check that this machine can run them at all.
package rigtest

import (
	"context"
	"testing"
	"time"

	"github.com/redswitch/redswitch/prereq"
	"github.com/redswitch/redswitch/rig"
)

// Patience is how long Require waits for the Docker daemon to answer its
// ping. A daemon that is absent fails at once (no socket, connection
// refused); one that is there but slow on a loaded machine must not be
// reported as missing, which a 5 s ping did.
const Patience = time.Minute

// Require stops the test unless node containers can run here. Under
// -short it skips. A Docker daemon that does not answer, or a missing
// image, is a missing prerequisite (prereq.Missing): a failure under
// CI=true, where scripts/install-deps.sh checks Docker and `make image`
// builds the image, a skip elsewhere. It sets
// TESTCONTAINERS_RYUK_DISABLED=true for the test, as the rig needs.
func Require(t testing.TB, image string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs docker and the node image; skipped with -short")
	}
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	require(t, image, probeDocker)
}

// probe reports what is missing for image: the daemon (noDaemon), or,
// with a daemon, the image (noImage).
type probe func(ctx context.Context, image string) (noDaemon, noImage error)

func probeDocker(ctx context.Context, image string) (noDaemon, noImage error) {
	cli, err := rig.DockerWithin(ctx, Patience)
	if err != nil {
		return err, nil
	}
	defer cli.Close()
	_, err = cli.ImageInspect(ctx, image)
	return nil, err
}

// require is Require after -short, with the probe apart so that a test
// can stand in for a machine without Docker (testcontainers falls back to
// /var/run/docker.sock whatever DOCKER_HOST says).
func require(t testing.TB, image string, p probe) {
	t.Helper()
	noDaemon, noImage := p(context.Background(), image)
	if noDaemon != nil {
		prereq.Missing(t, "needs docker: %v", noDaemon)
		return
	}
	if noImage != nil {
		prereq.Missing(t, "needs docker image %s (make image): %v", image, noImage)
	}
}
