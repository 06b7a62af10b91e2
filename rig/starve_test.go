package rig

import "testing"

func TestCPUCap(t *testing.T) {
	for _, tc := range []struct {
		percent int
		quota   int64 // µs per 100 ms period; 0: refused
	}{
		{1, 1000}, // Docker's least quota, 1 ms
		{5, 5000},
		{50, 50_000},
		{100, 100_000},
		{0, 0},
		{-3, 0},
		{101, 0},
	} {
		res, err := cpuCap(tc.percent)
		if tc.quota == 0 {
			if err == nil {
				t.Errorf("cpuCap(%d) = %+v, want an error", tc.percent, res)
			}
			continue
		}
		if err != nil || res.CPUQuota != tc.quota || res.CPUPeriod != 100_000 {
			t.Errorf("cpuCap(%d) = period %d quota %d, %v; want period 100000 quota %d",
				tc.percent, res.CPUPeriod, res.CPUQuota, err, tc.quota)
		}
		if res.NanoCPUs != 0 {
			t.Errorf("cpuCap(%d) sets NanoCPUs, which Docker will not update alongside a quota", tc.percent)
		}
	}
	if q := noCPUCap().CPUQuota; q != -1 {
		t.Errorf("noCPUCap quota %d, want -1 (unlimited; 0 would leave the cap)", q)
	}
}
