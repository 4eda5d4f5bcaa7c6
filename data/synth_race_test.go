//go:build race

package data

// raceEnabled reports a -race build, whose timings mean nothing.
const raceEnabled = true
