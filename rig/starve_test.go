package rig

import (
	"math"
	"testing"
)

func TestCPUCap(t *testing.T) {
	for _, tc := range []struct {
		percent float64
		period  int64 // µs
		quota   int64 // µs; 0: refused
	}{
		{1, 100_000, 1000}, // Docker's least quota, 1 ms
		{5, 100_000, 5000},
		{50, 100_000, 50_000},
		{100, 100_000, 100_000},
		{0.5, 1_000_000, 5000}, // under 1%: the longest period
		{0.1, 1_000_000, 1000},
		{0.05, 0, 0},
		{0, 0, 0},
		{-3, 0, 0},
		{101, 0, 0},
		{math.NaN(), 0, 0},
	} {
		res, err := cpuCap(tc.percent)
		if tc.quota == 0 {
			if err == nil {
				t.Errorf("cpuCap(%g) = %+v, want an error", tc.percent, res)
			}
			continue
		}
		if err != nil || res.CPUQuota != tc.quota || res.CPUPeriod != tc.period {
			t.Errorf("cpuCap(%g) = period %d quota %d, %v; want period %d quota %d",
				tc.percent, res.CPUPeriod, res.CPUQuota, err, tc.period, tc.quota)
		}
		if res.NanoCPUs != 0 {
			t.Errorf("cpuCap(%g) sets NanoCPUs, which Docker will not update alongside a quota", tc.percent)
		}
	}
	if q := noCPUCap().CPUQuota; q != -1 {
		t.Errorf("noCPUCap quota %d, want -1 (unlimited; 0 would leave the cap)", q)
	}
}
