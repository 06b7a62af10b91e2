package fiu

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestVirtualSwitchesDriveUnit(t *testing.T) {
	sw := []SwitchConfig{{ID: 1, Node: "n1", Pin: 17}, {ID: 2, Node: "n2", Pin: 27, ActiveHigh: true}}
	v, err := NewVirtual(sw, map[int]bool{5: true})
	if err != nil {
		t.Fatal(err)
	}
	clk := &manualClock{t: t0}
	u, err := NewUnit(Options{Pins: v, Switches: sw, Now: clk.Now, Window: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stepUntil(u, clk, 0, 50*time.Millisecond, time.Millisecond)
	pos, err := u.Positions()
	if err != nil || !pos[0].On || !pos[1].On {
		t.Fatalf("virtual switches start %+v (%v), want all On", pos, err)
	}
	if err := v.Set(2, false); err != nil {
		t.Fatal(err)
	}
	if high, _ := v.Read(27); high {
		t.Errorf("active-high switch 2 Off reads high")
	}
	got := stepUntil(u, clk, 51*time.Millisecond, 100*time.Millisecond, time.Millisecond)
	if len(got) != 1 || got[0].ID != 2 || got[0].On {
		t.Fatalf("after Set(2, false): %+v, want switch 2 Off", got)
	}
	if err := v.Write(5, false); err != nil {
		t.Fatal(err)
	}
	if high, ok := v.Output(5); !ok || high {
		t.Errorf("output 5 = %v %v after writing low", high, ok)
	}
}

func TestVirtualErrors(t *testing.T) {
	sw := []SwitchConfig{{ID: 1, Node: "n1", Pin: 17}}
	v, err := NewVirtual(sw, map[int]bool{5: false})
	if err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"set unknown switch":   v.Set(9, true),
		"write input pin":      v.Write(17, true),
		"read output pin":      func() error { _, err := v.Read(5); return err }(),
		"duplicate switch id":  func() error { _, err := NewVirtual(append(sw, sw[0]), nil); return err }(),
		"switch pin as output": func() error { _, err := NewVirtual(sw, map[int]bool{17: true}); return err }(),
	} {
		if err == nil || !strings.Contains(err.Error(), "virtual gpio") {
			t.Errorf("%s: err %v, want a virtual gpio error", name, err)
		}
	}
}

func TestOpenBackends(t *testing.T) {
	sw := []SwitchConfig{{ID: 1, Node: "n1", Pin: 17}}
	b, err := Open(BackendOptions{Kind: "virtual", Switches: sw, Lines: Lines{Inputs: []int{17}}})
	if err != nil {
		t.Fatalf("virtual: %v", err)
	}
	if high, err := b.Read(17); err != nil || high {
		t.Errorf("virtual active-low switch On reads high=%v err=%v", high, err)
	}
	if _, err := Open(BackendOptions{Kind: "sysfs"}); err == nil || !strings.Contains(err.Error(), "rpio, cdev or virtual") {
		t.Errorf("unknown backend: %v", err)
	}
}

// TestHardwareBackendsAbsent checks that without GPIO hardware the
// hardware backends say so instead of failing obscurely.
func TestHardwareBackendsAbsent(t *testing.T) {
	lines := Lines{Inputs: []int{17}, Outputs: map[int]bool{5: true}}
	if _, err := statDevice(gpioMemPath); err != nil {
		_, err := OpenRPIO(lines)
		if err == nil || !strings.Contains(err.Error(), "not a Raspberry Pi 1-4") {
			t.Errorf("rpio without %s: %v", gpioMemPath, err)
		}
	} else {
		t.Logf("%s present: not checking the rpio error", gpioMemPath)
	}
	if _, err := statDevice("/dev/gpiochip0"); err != nil {
		_, err := OpenCdev("gpiochip0", lines, DefaultWindow)
		if err == nil || !strings.Contains(err.Error(), "no GPIO character device") {
			t.Errorf("cdev without /dev/gpiochip0: %v", err)
		}
	} else {
		t.Logf("/dev/gpiochip0 present: not checking the cdev error")
	}
	// Line checks come before any device access.
	if _, err := OpenRPIO(Lines{Inputs: []int{40}}); err == nil || !strings.Contains(err.Error(), "up to 27") {
		t.Errorf("rpio pin 40: %v", err)
	}
	if _, err := OpenCdev("", Lines{Inputs: []int{3}, Outputs: map[int]bool{3: true}}, 0); err == nil || !strings.Contains(err.Error(), "both an input and an output") {
		t.Errorf("cdev pin both ways: %v", err)
	}
}

func statDevice(path string) (any, error) { return os.Stat(path) }
