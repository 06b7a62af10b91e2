package rigtest

import (
	"context"
	"sort"
	"testing"

	"github.com/moby/moby/client"

	"github.com/redswitch/redswitch/rig"
)

// Containers lists the IDs, sorted, of every container (running or not)
// labelled key=value: a test's way to see which node containers exist,
// e.g. across a restart of the head node.
func Containers(t testing.TB, key, value string) []string {
	t.Helper()
	ctx := context.Background()
	cli, err := rig.Docker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	f := client.Filters{}
	f.Add("label", key+"="+value)
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, len(res.Items))
	for _, c := range res.Items {
		ids = append(ids, c.ID)
	}
	sort.Strings(ids)
	return ids
}

// Running says whether the named container runs now.
func Running(t testing.TB, name string) bool {
	t.Helper()
	ctx := context.Background()
	cli, err := rig.Docker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	res, err := cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Container.State != nil && res.Container.State.Running
}
