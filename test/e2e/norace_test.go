//go:build !race

package e2e

// raceEnabled is true when the tests are built with -race.
const raceEnabled = false
