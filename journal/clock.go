package journal

import "time"

// Clock stamps events from one wall-clock base plus the monotonic time
// elapsed since, so differences between its readings are immune to steps of
// the system clock (NTP, a Raspberry Pi without an RTC setting its time).
type Clock struct {
	base time.Time
}

// NewClock captures the wall-clock base and the monotonic reading now.
func NewClock() *Clock {
	return &Clock{base: time.Now()}
}

// Now returns the base plus the monotonic duration since the base.
func (c *Clock) Now() time.Time {
	return c.base.Add(time.Since(c.base))
}
