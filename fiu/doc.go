// Package fiu is the failure injection unit: the red toggle switches of the
// booth, read from GPIO pins. It polls the pins (never edge interrupts),
// debounces every switch in software with a pure state machine, and reports
// debounced changes as Switch events that the head node turns into power
// cuts.
//
// Backends: RPIO (Raspberry Pi up to 4, /dev/gpiomem), Cdev (the GPIO
// character device, Raspberry Pi 5 and others), Virtual (switches flipped
// through an API) and Fake (scripted levels for tests).
package fiu
