package demo

import (
	"strings"
	"testing"
)

func TestOptionsPower(t *testing.T) {
	for _, tt := range []struct {
		power, want, err string
	}{
		{"", PowerContainer, ""},
		{PowerAgent, PowerAgent, ""},
		{PowerPaired, PowerPaired, ""},
		{"relay", "", "want container, agent or paired"},
	} {
		t.Run(tt.power, func(t *testing.T) {
			// VolumeSize < 0: no probing of the machine for volumes.
			o := Options{DataDir: t.TempDir(), Power: tt.power, VolumeSize: -1}
			err := o.defaults()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("power %q: err %v, want %q", tt.power, err, tt.err)
				}
				return
			}
			if err != nil || o.Power != tt.want {
				t.Fatalf("power %q: %q, %v; want %q", tt.power, o.Power, err, tt.want)
			}
		})
	}
}
