package fiu

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// Step is one scripted level change of a fake pin, At after the fake's
// start.
type Step struct {
	At   time.Duration
	High bool
}

// Write is one recorded write to a fake output.
type Write struct {
	At   time.Duration
	Pin  int
	High bool
}

// Fake is a test backend: every input pin follows a script of timed level
// changes, read against a clock, and output writes are recorded.
type Fake struct {
	start time.Time
	now   func() time.Time

	mu      sync.Mutex
	scripts map[int][]Step
	errs    map[int]error
	outs    map[int]bool
	writes  []Write
}

// NewFake returns a fake whose scripts start at start and are read against
// now (time.Now for real-time tests, a stepped clock for exact ones).
func NewFake(start time.Time, now func() time.Time) *Fake {
	return &Fake{start: start, now: now, scripts: map[int][]Step{}, errs: map[int]error{}, outs: map[int]bool{}}
}

// Script sets the level changes of an input pin; steps may come in any
// order. Before its first step a pin reads that step's opposite level.
func (f *Fake) Script(pin int, steps ...Step) {
	s := append([]Step(nil), steps...)
	sort.SliceStable(s, func(i, j int) bool { return s[i].At < s[j].At })
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scripts[pin] = s
}

// Fail makes reads of pin return err (nil to heal it).
func (f *Fake) Fail(pin int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.errs, pin)
		return
	}
	f.errs[pin] = err
}

// Read returns the scripted level of pin now. Reading a pin without a
// script is an error, so a test cannot read the wrong pin unnoticed.
func (f *Fake) Read(pin int) (bool, error) {
	elapsed := f.now().Sub(f.start)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs[pin]; err != nil {
		return false, err
	}
	s, ok := f.scripts[pin]
	if !ok || len(s) == 0 {
		return false, fmt.Errorf("fake: pin %d has no script", pin)
	}
	i := sort.Search(len(s), func(i int) bool { return s[i].At > elapsed })
	if i == 0 {
		return !s[0].High, nil
	}
	return s[i-1].High, nil
}

// Write records an output write.
func (f *Fake) Write(pin int, high bool) error {
	elapsed := f.now().Sub(f.start)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs[pin]; err != nil {
		return err
	}
	f.outs[pin] = high
	f.writes = append(f.writes, Write{At: elapsed, Pin: pin, High: high})
	return nil
}

// Writes returns the recorded output writes in order.
func (f *Fake) Writes() []Write {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Write(nil), f.writes...)
}

// Close does nothing; it makes Fake a Backend.
func (f *Fake) Close() error { return nil }

// Bounce scripts a bouncing contact that settles at level to: it starts at
// start, toggles 2*bounces times gap apart, and ends at to, which it then
// keeps. The contact has settled at start + 2*bounces*gap.
func Bounce(start time.Duration, to bool, bounces int, gap time.Duration) []Step {
	steps := make([]Step, 0, 2*bounces+1)
	// An even number of toggles after the first edge lands on to again.
	level := to
	for k := 0; k <= 2*bounces; k++ {
		steps = append(steps, Step{At: start + time.Duration(k)*gap, High: level})
		level = !level
	}
	return steps
}
