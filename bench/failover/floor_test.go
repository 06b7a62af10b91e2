package failover

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestFloorModel(t *testing.T) {
	for _, tt := range []struct {
		name          string
		ttl, loopWait int
		down          time.Duration
		rise          int
		cut           string
		want          Floor
	}{
		// The floor DESIGN.md measured: 4.75 + 2.1 + 0.2 ≈ 7.0 s.
		{"aggressive, silent", 5, 1, 100 * time.Millisecond, 1, CutSilent,
			Floor{LeaseS: 4.75, RaceS: 2.1, PromotionS: 0.2, RoutingS: 0.05, P50S: 7.05, MinS: 6.3, MaxS: 7.8}},
		// A soft cut's old primary refuses at once: no 2 s wait.
		{"aggressive, soft", 5, 1, 100 * time.Millisecond, 1, CutSoft,
			Floor{LeaseS: 4.75, RaceS: 0.1, PromotionS: 0.2, RoutingS: 0.05, P50S: 5.05, MinS: 4.3, MaxS: 5.8}},
		// Patroni's defaults: HAProxy's two checks a second apart outlast
		// the promotion, so routing sets the last step.
		{"default, silent", 30, 10, time.Second, 2, CutSilent,
			Floor{LeaseS: 25.25, RaceS: 2.1, PromotionS: 0.2, RoutingS: 1.5, P50S: 28.85, MinS: 23.1, MaxS: 34.6}},
		// Routing U(0, 0.3 s) around the 0.2 s promotion: the mean of the
		// later of the two, (0.2·0.2 + (0.09 − 0.04)/2) / 0.3.
		{"checks around the promotion", 5, 1, 300 * time.Millisecond, 1, CutSilent,
			Floor{LeaseS: 4.75, RaceS: 2.1, PromotionS: 0.2, RoutingS: 0.15, P50S: 4.75 + 2.1 + 0.065/0.3, MinS: 6.3, MaxS: 7.9}},
		{"HAProxy's checks unknown", 5, 1, 0, 0, CutSilent,
			Floor{LeaseS: 4.75, RaceS: 2.1, PromotionS: 0.2, P50S: 7.05, MinS: 6.3, MaxS: 7.8}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := FloorModel(tt.ttl, tt.loopWait, tt.down, tt.rise, tt.cut)
			for _, c := range []struct {
				name      string
				got, want float64
			}{
				{"lease", got.LeaseS, tt.want.LeaseS}, {"race", got.RaceS, tt.want.RaceS},
				{"promotion", got.PromotionS, tt.want.PromotionS}, {"routing", got.RoutingS, tt.want.RoutingS},
				{"p50", got.P50S, tt.want.P50S}, {"min", got.MinS, tt.want.MinS}, {"max", got.MaxS, tt.want.MaxS},
			} {
				if math.Abs(c.got-c.want) > 1e-9 {
					t.Errorf("%s = %.4f, want %.4f (model %+v)", c.name, c.got, c.want, got)
				}
			}
			if !(got.MinS <= got.P50S && got.P50S <= got.MaxS) {
				t.Errorf("p50 %.3f outside the model's range %.3f–%.3f", got.P50S, got.MinS, got.MaxS)
			}
		})
	}
}

func TestChecksOf(t *testing.T) {
	for _, tt := range []struct {
		line string
		down time.Duration
		rise int
	}{
		{"default-server inter 1000ms fastinter 100ms downinter 100ms fall 1 rise 1 on-marked-down shutdown-sessions", 100 * time.Millisecond, 1},
		{"default-server inter 3000ms fastinter 1000ms downinter 1000ms fall 3 rise 2", time.Second, 2},
		{"default-server downinter 2s rise 3", 0, 3}, // the renderer writes milliseconds; anything else is unknown
		{"", 0, 0},
	} {
		t.Run(tt.line, func(t *testing.T) {
			down, rise := checksOf(Settings{HAProxyServer: tt.line})
			if down != tt.down || rise != tt.rise {
				t.Errorf("checksOf = %v, %d; want %v, %d", down, rise, tt.down, tt.rise)
			}
		})
	}
}

// TestFloorWithoutSettings: a profile whose settings were not recorded
// shows its measurement and unknown model terms, not a made-up model.
func TestFloorWithoutSettings(t *testing.T) {
	r := goodResults()
	r.Settings = nil
	var b strings.Builder
	writeFloor(&b, r)
	want := "| aggressive | silent | 2 | ? | ? | 7.90 | – | ? / 4.80 | ? / 2.20 | ? / 0.88 | ? / 0.20 | 0.020 (n 2, within 0.030) |"
	if !strings.Contains(b.String(), want) {
		t.Errorf("floor table lacks %q:\n%s", want, b.String())
	}
}

func TestCutFor(t *testing.T) {
	for _, tt := range []struct {
		paired bool
		n      int
		want   string
	}{
		{false, 0, CutSilent}, {false, 2, CutSilent},
		{true, 0, CutSilent}, {true, 1, CutSilent}, {true, 2, CutSoft}, {true, 3, CutSilent}, {true, 4, CutSoft},
	} {
		if got := cutFor(tt.paired, tt.n); got != tt.want {
			t.Errorf("cutFor(paired %v, trial %d) = %s, want %s", tt.paired, tt.n, got, tt.want)
		}
	}
}
