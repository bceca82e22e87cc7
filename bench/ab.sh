#!/usr/bin/env bash
# bench/ab.sh: two builds of Sluice measured in turn, to tell a change's
# effect from the machine's swings. Every pair runs both builds, each on a
# new data directory, the first pair A then B, the next B then A, and so
# on; before each run the disk is synced and left to settle, so that no
# build always runs while the other's data is still being deleted and
# written back. Nothing here runs in CI.
#
#   bash bench/ab.sh BIN_A BIN_B [sluice bench ARGS...]
#
# ARGS default to the put of the issue's scenario: put --shards 4
# --producers 4 --batch 500 --record-size 100 --duration 8s. --endpoint,
# --server-pid and --json are added. Each binary serves and also runs its
# own load generator, unless GEN names one for both.
#
# Needs Node.js for the summary (as peers.sh does).
#
# Settings (environment):
#   PAIRS=6              pairs of runs
#   SETTLE=2             seconds to wait after the sync before each run
#   GEN=path             run every load generator from this binary
#   SERVE_A, SERVE_B     extra `sluice serve` flags for A's or B's server
#   ENV_A, ENV_B         extra environment for A's or B's server (GOMAXPROCS=3)
#   PORT=24580           the server's loopback port
#   RESULTS=dir          where the JSON reports go (default bench/results/ab-<UTC time>)
set -euo pipefail

if [[ $# -lt 2 ]]; then
	sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit 2
fi
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
declare -A bin=([A]=$(abs "$1") [B]=$(abs "$2"))
shift 2
args=("$@")
if [[ ${#args[@]} -eq 0 ]]; then
	args=(put --shards 4 --producers 4 --batch 500 --record-size 100 --duration 8s)
fi
PAIRS=${PAIRS:-6}
SETTLE=${SETTLE:-2}
PORT=${PORT:-24580}
declare -A serve=([A]=${SERVE_A:-} [B]=${SERVE_B:-})
declare -A env_=([A]=${ENV_A:-} [B]=${ENV_B:-})
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
results=${RESULTS:-$root/bench/results/ab-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$results"
results=$(cd "$results" && pwd)
for v in A B; do
	[[ -x ${bin[$v]} ]] || { echo "ab: ${bin[$v]} is not an executable" >&2; exit 2; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-ab.XXXXXX")
pid=
stop_server() {
	if [[ -n $pid ]]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		pid=
	fi
}
trap 'stop_server; rm -rf "$tmp"' EXIT

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if port_open "$PORT"; then
	echo "ab: port $PORT is in use; set PORT" >&2
	exit 1
fi

gen_desc=${GEN:-}
[[ -n $gen_desc ]] || gen_desc="each build's own"
{
	echo "A: ${bin[A]} ($("${bin[A]}" version)) ${SERVE_A:-} ${ENV_A:-}"
	echo "B: ${bin[B]} ($("${bin[B]}" version)) ${SERVE_B:-} ${ENV_B:-}"
	echo "load generator: ${gen_desc}; sluice bench ${args[*]}"
} | tee "$results/settings.txt" >&2

run() { # pair build
	local pair=$1 v=$2 data=$tmp/data
	rm -rf "$data"
	mkdir -p "$data"
	sync
	sleep "$SETTLE"
	# shellcheck disable=SC2086 # SERVE_x and ENV_x are lists of words
	env ${env_[$v]} "${bin[$v]}" serve --listen "127.0.0.1:$PORT" --shard-limits off --data-dir "$data" \
		--log-level warn ${serve[$v]} >"$results/server.$pair.$v.log" 2>&1 &
	pid=$!
	for _ in $(seq 300); do
		port_open "$PORT" && break
		sleep 0.1
	done
	port_open "$PORT" || { echo "ab: $v's server did not listen; see $results/server.$pair.$v.log" >&2; exit 1; }
	"${GEN:-${bin[$v]}}" bench "${args[@]}" --endpoint "http://127.0.0.1:$PORT" --server-pid "$pid" --json \
		>"$results/run.$pair.$v.json" 2>"$results/run.$pair.$v.err"
	stop_server
	node -e '
		const r = require(process.argv[1]), l = r.latency_ms || {}, c = l.calls || {}, e = l.e2e || {};
		const f = (x, d) => x == null ? "-" : Number(x).toFixed(d);
		console.log(`pair ${process.argv[2]} ${process.argv[3]}: ${Math.round(r.records_per_sec).toLocaleString("en-US")} records/s, ` +
			`call p50 ${f(c.p50, 2)} p99 ${f(c.p99, 2)} ms, put-to-read p99 ${f(e.p99, 2)} ms, ` +
			`server ${f(r.server_cpu_s_per_million_records, 2)} and load generator ${f(r.client_cpu_s_per_million_records, 2)} CPU-s per million records, ` +
			`errors ${r.errors}`);
	' "$results/run.$pair.$v.json" "$pair" "$v"
}

for pair in $(seq "$PAIRS"); do
	if ((pair % 2)); then order=(A B); else order=(B A); fi
	for v in "${order[@]}"; do
		run "$pair" "$v"
	done
done

node -e '
	const [dir, pairs] = [process.argv[1], +process.argv[2]];
	const get = (p, v) => require(`${dir}/run.${p}.${v}.json`);
	const metrics = [
		["records/s", (r) => r.records_per_sec, 0, 1],
		["call p99 ms", (r) => (r.latency_ms.calls || {}).p99, 2, -1],
		["put-to-read p99 ms", (r) => (r.latency_ms.e2e || {}).p99, 2, -1],
		["server CPU-s per million records", (r) => r.server_cpu_s_per_million_records, 2, -1],
		["load generator CPU-s per million records", (r) => r.client_cpu_s_per_million_records, 2, -1],
	];
	const median = (xs) => { const s = [...xs].sort((a, b) => a - b), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
	const lines = ["| metric | A median | B median | B better in |", "| --- | ---: | ---: | ---: |"];
	for (const [name, pick, digits, better] of metrics) {
		const a = [], b = [];
		for (let p = 1; p <= pairs; p++) { a.push(pick(get(p, "A"))); b.push(pick(get(p, "B"))); }
		if (a.some((x) => x == null) || b.some((x) => x == null)) continue;
		const wins = a.filter((x, i) => (b[i] - x) * better > 0).length;
		const fmt = (x) => x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
		lines.push(`| ${name} | ${fmt(median(a))} | ${fmt(median(b))} | ${wins} of ${pairs} pairs |`);
	}
	console.log(lines.join("\n"));
' "$results" "$PAIRS" | tee "$results/table.md"
echo "ab: reports in $results" >&2
