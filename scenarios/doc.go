// Package scenarios is redswitch's chaos-script language: a scenario is a
// YAML file naming a cluster shape and a list of steps (wait, power, switch,
// fault, fork, sleep, expect). This package parses and validates scenarios
// into typed values, ships the scenario library, renders reports, and
// splits a list of files into shards for parallel CI jobs. The runner that
// drives containers from a parsed Scenario lives beside it in runner*.go.
//
// Parsing is pure and strict: unknown keys, unknown selectors, bad
// durations and steps that cannot make sense (recovering a fault that was
// never injected, @last before anything was targeted) are errors naming
// file:line:column and the field, so a typo is caught before a cluster is
// started rather than after minutes of chaos.
package scenarios
