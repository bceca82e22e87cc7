#!/usr/bin/env bash
# The test command for Sluice: `bash scripts/test.sh` from anywhere.
#
# On a fresh Debian machine (as root) it installs what the tests need, then
# runs, stopping at the first failure:
#   1. go vet ./...
#   2. go build ./...
#   3. go test -race ./...   (every package; the e2e tests build a -race
#                             server too; the crash test is left to step 4)
#   4. the SIGKILL crash-durability test (writes, reshards, control calls
#      and a SubscribeToShard reader on several streams), SLUICE_CRASH_ROUNDS
#      rounds (default 20, about a minute), against a server built without
#      -race.
#
# Environment:
#   SLUICE_CRASH_ROUNDS  crash rounds (default 20)
#   SLUICE_CRASH_SEED    replay a crash schedule printed by an earlier run
#   SLUICE_TEST_RACE=0   run step 3 without -race (faster, less thorough)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
start=$(date +%s)

step() { printf '\n=== %s (%ds)\n' "$*" "$(( $(date +%s) - start ))"; }

# awscli_ok reports whether Debian's AWS CLI v2 is installed and works.
awscli_ok() {
	[ -x /usr/bin/aws ] && /usr/bin/aws --version 2>/dev/null | grep -q '^aws-cli/2\.'
}

# faketime_ok reports whether Debian's faketime works: the AWS CLI auth
# test runs the CLI 20 minutes in the past with it.
faketime_ok() {
	command -v faketime >/dev/null 2>&1 && faketime -f '-20m' true 2>/dev/null
}

# ensure_deb PACKAGE CHECK WHY installs a Debian package when the function
# CHECK says it is missing or broken; WHY names the test that needs it.
ensure_deb() {
	local pkg=$1 check=$2 why=$3
	if "$check"; then
		return
	fi
	step "installing $pkg (Debian package) for $why"
	if [ "$(id -u)" -ne 0 ]; then
		echo "scripts/test.sh: $pkg is missing or broken; run as root or: sudo apt-get install -y $pkg" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "$pkg" >/dev/null
	if ! "$check"; then
		echo "scripts/test.sh: $pkg installed but its check ($check) still fails" >&2
		exit 1
	fi
}

# A fresh machine has Go in /usr/local/go; a login shell may not have put
# it on PATH.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="$PATH:/usr/local/go/bin"
fi
if ! command -v go >/dev/null 2>&1; then
	echo "scripts/test.sh: the Go toolchain is not on PATH" >&2
	exit 1
fi
ensure_deb awscli awscli_ok "the AWS CLI end-to-end tests"
ensure_deb faketime faketime_ok "the AWS CLI auth test"
go version
/usr/bin/aws --version

# The e2e tests fail, rather than skip, when a tool they need is missing,
# as they do under CI=true.
export SLUICE_TEST_SH=1

step "go vet ./..."
go vet ./...

step "go build ./..."
go build ./...

race=-race
if [ "${SLUICE_TEST_RACE:-1}" = "0" ]; then
	race=
fi
step "go test ${race} ./..."
go test ${race} -count=1 -timeout 25m -skip '^TestCrashDurability$' ./...

rounds="${SLUICE_CRASH_ROUNDS:-20}"
# Every round reads back all data so far, so time grows faster than the
# rounds: 20 take about a minute, 100 about 25 minutes on 2 cores.
crash_timeout="$(( 15 + rounds / 2 ))m"
step "crash test: ${rounds} SIGKILL rounds with resharding (timeout ${crash_timeout})"
SLUICE_CRASH_ROUNDS="$rounds" go test -count=1 -timeout "$crash_timeout" -run '^TestCrashDurability$' -v ./test/e2e/

step "all tests passed in $(( $(date +%s) - start ))s"
