#!/usr/bin/env bash
# bench/peers.sh: Sluice against kinesalite and kinesis-mock on this
# machine, with the same `sluice bench` scenarios, plus the disk's own
# limits. Run from anywhere; nothing here runs in CI.
#
#   bash bench/peers.sh [RESULTS_DIR]      (default bench/results/<UTC time>)
#
# Needs Go, Node.js and npm. Installs kinesalite 3.3.3 and kinesis-local
# 0.6.2 (kinesis-mock's Node build) into bench/.peers. Every scenario runs
# REPS times, the three servers in turn within each repetition; the tables
# show medians. Each run's JSON report is kept in RESULTS_DIR.
#
# Settings (environment):
#   REPS=3                repetitions of every scenario
#   PUT_SECONDS=10        put and e2e duration against Sluice and kinesalite
#   MOCK_SECONDS=5        put duration against kinesis-mock (about 1,000 records/s)
#   E2E_SECONDS=10        e2e duration (all servers), measured
#   E2E_WARMUP=2s         e2e warm-up before it, at the same rate, unmeasured
#   SLUICE_FILL=1000000   records written before the get drain, per server
#   KINESALITE_FILL=100000
#   MOCK_FILL=5000
#   DISK_SIZE=1GiB        sequential write of `sluice bench disk`
#   PORT_BASE=24570       Sluice, kinesalite, kinesis-mock (+TLS), Sluice with --fsync off
#                         listen on PORT_BASE+1..+5 (below the ephemeral range, which
#                         outgoing connections take)
#   SLUICE_BIN=path       run this sluice binary instead of building ./cmd/sluice
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

REPS=${REPS:-3}
PUT_SECONDS=${PUT_SECONDS:-10}
MOCK_SECONDS=${MOCK_SECONDS:-5}
E2E_SECONDS=${E2E_SECONDS:-10}
E2E_WARMUP=${E2E_WARMUP:-2s}
SLUICE_FILL=${SLUICE_FILL:-1000000}
KINESALITE_FILL=${KINESALITE_FILL:-100000}
MOCK_FILL=${MOCK_FILL:-5000}
DISK_SIZE=${DISK_SIZE:-1GiB}
PORT_BASE=${PORT_BASE:-24570}

peers=bench/.peers
results=${1:-bench/results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$peers" "$results"
results=$(cd "$results" && pwd)
bin=${SLUICE_BIN:+$(cd "$(dirname "$SLUICE_BIN")" && pwd)/$(basename "$SLUICE_BIN")}
bin=${bin:-$root/$peers/sluice}

targets=(sluice kinesalite kinesis-mock)
declare -A port=([sluice]=$((PORT_BASE + 1)) [kinesalite]=$((PORT_BASE + 2)) [kinesis-mock]=$((PORT_BASE + 3)) [sluice-nosync]=$((PORT_BASE + 5)))
declare -A pid
declare -A fill=([sluice]=$SLUICE_FILL [kinesalite]=$KINESALITE_FILL [kinesis-mock]=$MOCK_FILL)
declare -A putSeconds=([sluice]=$PUT_SECONDS [kinesalite]=$PUT_SECONDS [kinesis-mock]=$MOCK_SECONDS)

log() { printf '%s peers: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# --- build and install -------------------------------------------------------

if [[ -z ${SLUICE_BIN:-} ]]; then
	log "building sluice into $peers"
	go build -o "$bin" ./cmd/sluice
fi
echo "sluice: $bin ($("$bin" version))" >&2

installed() { # name version
	local pkg=$peers/node_modules/$1/package.json
	[[ -f $pkg ]] && [[ $(node -p "require(process.argv[1]).version" "$root/$pkg") == "$2" ]]
}
if ! installed kinesalite 3.3.3 || ! installed kinesis-local 0.6.2; then
	log "installing kinesalite 3.3.3 and kinesis-local 0.6.2 into $peers"
	npm install --prefix "$peers" --no-audit --no-fund --loglevel=error kinesalite@3.3.3 kinesis-local@0.6.2
fi

# --- start the servers ---------------------------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-peers.XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for t in "${targets[@]}" sluice-nosync; do
	if port_open "${port[$t]}"; then
		echo "peers: port ${port[$t]} (for $t) is in use; set PORT_BASE" >&2
		exit 1
	fi
done

# Sluice as shipped (fsync on), without AWS's per-shard limits.
"$bin" serve --listen "127.0.0.1:${port[sluice]}" --shard-limits off --data-dir "$tmp/sluice" --log-level warn \
	>"$results/sluice.log" 2>&1 &
pids+=($!) pid[sluice]=$!
# Sluice with --fsync off, for the put-to-subscribe latency without disk syncs.
"$bin" serve --listen "127.0.0.1:${port[sluice-nosync]}" --shard-limits off --fsync off --data-dir "$tmp/sluice-nosync" \
	--log-level error >"$results/sluice-nosync.log" 2>&1 &
pids+=($!) pid[sluice-nosync]=$!
# kinesalite in memory (its default), bound to loopback, without its state delays.
node -e '
	const k = require(process.argv[1]);
	k({createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 1000}).listen(+process.argv[2], "127.0.0.1");
' "$root/$peers/node_modules/kinesalite" "${port[kinesalite]}" >"$results/kinesalite.log" 2>&1 &
pids+=($!) pid[kinesalite]=$!
# kinesis-mock in memory, without its state delays. It reads server.json
# (its TLS certificate) from the working directory and binds every address.
(
	cd "$peers/node_modules/kinesis-local"
	export KINESIS_MOCK_PLAIN_PORT=${port[kinesis-mock]} KINESIS_MOCK_TLS_PORT=$((PORT_BASE + 4)) SHARD_LIMIT=1000 LOG_LEVEL=WARN
	for op in CREATE_STREAM DELETE_STREAM REGISTER_STREAM_CONSUMER DEREGISTER_STREAM_CONSUMER START_STREAM_ENCRYPTION \
		STOP_STREAM_ENCRYPTION MERGE_SHARDS SPLIT_SHARD UPDATE_SHARD_COUNT UPDATE_STREAM_MODE; do
		export "${op}_DURATION=0ms"
	done
	exec node main.js
) >"$results/kinesis-mock.log" 2>&1 &
pids+=($!) pid[kinesis-mock]=$! # the subshell execs node: this is node's pid

for t in "${targets[@]}" sluice-nosync; do
	for _ in $(seq 300); do
		port_open "${port[$t]}" && break
		sleep 0.1
	done
	port_open "${port[$t]}" || { echo "peers: $t did not listen on ${port[$t]}; see $results/$t.log" >&2; exit 1; }
done
log "servers up: sluice :${port[sluice]}, kinesalite :${port[kinesalite]}, kinesis-mock :${port[kinesis-mock]}"

# --- the machine ---------------------------------------------------------------

{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "cores: $(nproc)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "memory: $(free -h | awk '/^Mem:/ {print $2}')"
	echo "disk under $tmp: $(df -h --output=source,fstype,size "$tmp" | tail -1)"
	echo "kernel: $(uname -r)"
	echo "go: $(go version)"
	echo "node: $(node --version)"
	echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$results/machine.txt"

# --- the runs ------------------------------------------------------------------

# run NAME TARGET REP ARGS...: one `sluice bench` run, its report kept as
# NAME.TARGET.REP.json; a failed run leaves {"error": ...} and the rest go on.
run() {
	local name=$1 target=$2 rep=$3
	shift 3
	local out=$results/$name.$target.$rep.json
	if "$bin" bench "$@" --json >"$out" 2>"$results/$name.$target.$rep.err"; then
		log "$name $target #$rep (load $(cut -d' ' -f1 /proc/loadavg)): $(node -p 'const r = JSON.parse(require("fs").readFileSync(process.argv[1])); `${Math.round(r.records_per_sec)} records/s, ${r.mib_per_sec.toFixed(1)} MiB/s, errors ${r.errors}`' "$out")"
	else
		log "$name $target #$rep: failed: $(tail -1 "$results/$name.$target.$rep.err")"
		node -e 'console.log(JSON.stringify({error: process.argv[1]}))' "$(tail -1 "$results/$name.$target.$rep.err")" >"$out"
	fi
}

common=(--shards 4 --producers 4 --batch 500)
for rep in $(seq "$REPS"); do
	for t in "${targets[@]}"; do
		ep=(--endpoint "http://127.0.0.1:${port[$t]}" --server-pid "${pid[$t]}")
		run put-100B "$t" "$rep" put "${ep[@]}" "${common[@]}" --record-size 100 --duration "${putSeconds[$t]}s"
		run put-100B-8p "$t" "$rep" put "${ep[@]}" "${common[@]}" --producers 8 --record-size 100 --duration "${putSeconds[$t]}s"
		run put-1KiB "$t" "$rep" put "${ep[@]}" "${common[@]}" --record-size 1024 --duration "${putSeconds[$t]}s"
		run put-1KiB-8p "$t" "$rep" put "${ep[@]}" "${common[@]}" --producers 8 --record-size 1024 --duration "${putSeconds[$t]}s"
		run get-100B "$t" "$rep" get "${ep[@]}" "${common[@]}" --record-size 100 --fill "${fill[$t]}" --readers 4 --limit 10000
	done
	# Sluice in CBOR, the AWS SDK for Java's (and the KCL's) protocol.
	run put-100B-cbor sluice "$rep" put --endpoint "http://127.0.0.1:${port[sluice]}" --server-pid "${pid[sluice]}" \
		"${common[@]}" --record-size 100 --duration "${PUT_SECONDS}s" --protocol cbor
	run put-1KiB-cbor sluice "$rep" put --endpoint "http://127.0.0.1:${port[sluice]}" --server-pid "${pid[sluice]}" \
		"${common[@]}" --record-size 1024 --duration "${PUT_SECONDS}s" --protocol cbor
	run disk local "$rep" disk --dir "$tmp" --size "$DISK_SIZE"
done

# e2e at half of each server's median put-100B rate (put-100B-cbor's for
# Sluice in CBOR).
half_rate() { # SCENARIO TARGET
	node -e '
		const fs = require("fs"), [dir, name, t, reps] = process.argv.slice(1);
		const v = [];
		for (let i = 1; i <= +reps; i++) {
			const r = JSON.parse(fs.readFileSync(`${dir}/${name}.${t}.${i}.json`));
			if (r.records_per_sec) v.push(r.records_per_sec);
		}
		v.sort((a, b) => a - b);
		console.log(v.length ? Math.max(1, Math.floor(v[(v.length - 1) >> 1] / 2)) : 0);
	' "$results" "$1" "$2" "$REPS"
}
declare -A rate
for t in "${targets[@]}"; do
	rate[$t]=$(half_rate put-100B "$t")
done
cborRate=$(half_rate put-100B-cbor sluice)
log "e2e rates (half the median put-100B rate): sluice ${rate[sluice]} (CBOR ${cborRate}), kinesalite ${rate[kinesalite]}, kinesis-mock ${rate[kinesis-mock]} records/s"
for rep in $(seq "$REPS"); do
	for t in "${targets[@]}"; do
		[[ ${rate[$t]} -gt 0 ]] || continue
		ep=(--endpoint "http://127.0.0.1:${port[$t]}" --server-pid "${pid[$t]}")
		run e2e-poll "$t" "$rep" e2e "${ep[@]}" "${common[@]}" --record-size 100 --rate "${rate[$t]}" --duration "${E2E_SECONDS}s" --warmup "$E2E_WARMUP" --consume poll
		if [[ $t != kinesalite ]]; then # kinesalite has no enhanced fan-out
			run e2e-subscribe "$t" "$rep" e2e "${ep[@]}" "${common[@]}" --record-size 100 --rate "${rate[$t]}" --duration "${E2E_SECONDS}s" --warmup "$E2E_WARMUP" --consume subscribe
		fi
	done
	# Sluice without fsync, at Sluice's rate: the subscribe latency target
	# with fsync off.
	run e2e-subscribe sluice-nosync "$rep" e2e --endpoint "http://127.0.0.1:${port[sluice-nosync]}" --server-pid "${pid[sluice-nosync]}" \
		"${common[@]}" --record-size 100 --rate "${rate[sluice]}" --duration "${E2E_SECONDS}s" --warmup "$E2E_WARMUP" --consume subscribe
	# Sluice with fsync, its subscribers accepting 1 MiB HTTP/2 frames
	# rather than the 16 KiB the AWS SDKs accept.
	run e2e-subscribe-1MiB sluice "$rep" e2e --endpoint "http://127.0.0.1:${port[sluice]}" --server-pid "${pid[sluice]}" \
		"${common[@]}" --record-size 100 --rate "${rate[sluice]}" --duration "${E2E_SECONDS}s" --warmup "$E2E_WARMUP" --consume subscribe --frame-size 1MiB
	# Sluice with fsync in CBOR, at half its CBOR put rate.
	if [[ $cborRate -gt 0 ]]; then
		run e2e-subscribe-cbor sluice "$rep" e2e --endpoint "http://127.0.0.1:${port[sluice]}" --server-pid "${pid[sluice]}" \
			"${common[@]}" --record-size 100 --rate "$cborRate" --duration "${E2E_SECONDS}s" --warmup "$E2E_WARMUP" --consume subscribe --protocol cbor
	fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$results/machine.txt"

# --- the tables ----------------------------------------------------------------

node - "$results" "$REPS" <<'EOF' | tee "$results/table.md"
const fs = require("fs");
const [dir, reps] = process.argv.slice(2);
const load = (name, target) => {
	const out = [];
	for (let i = 1; i <= +reps; i++) {
		try {
			const r = JSON.parse(fs.readFileSync(`${dir}/${name}.${target}.${i}.json`));
			if (!r.error) out.push(r);
		} catch (e) {}
	}
	return out;
};
const median = (v) => {
	v = v.filter((x) => x !== undefined && x !== null && !Number.isNaN(x)).sort((a, b) => a - b);
	return v.length ? v[(v.length - 1) >> 1] : undefined;
};
const get = (name, target, f) => median(load(name, target).map(f));
const fmt = (x) => x === undefined ? "n/a" : x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toFixed(x >= 10 ? 1 : 2);
const ratio = (a, b) => {
	if (a === undefined || b === undefined || b === 0) return "n/a";
	const q = a / b;
	return (q >= 10 ? q.toFixed(0) : q >= 1 ? q.toFixed(1) : q.toPrecision(2)) + "x";
};

const rows = [
	["put 500 x 100 B, 4 shards, 4 producers", "records/s", "put-100B", (r) => r.records_per_sec],
	["", "call p99 ms", "put-100B", (r) => r.latency_ms.calls && r.latency_ms.calls.p99],
	["", "server CPU-s per million records", "put-100B", (r) => r.server_cpu_s_per_million_records],
	["", "load generator CPU-s per million records", "put-100B", (r) => r.client_cpu_s_per_million_records],
	["put 500 x 100 B, 4 shards, 8 producers", "records/s", "put-100B-8p", (r) => r.records_per_sec],
	["", "call p99 ms", "put-100B-8p", (r) => r.latency_ms.calls && r.latency_ms.calls.p99],
	["", "server CPU-s per million records", "put-100B-8p", (r) => r.server_cpu_s_per_million_records],
	["put 500 x 1 KiB, 4 shards, 4 producers", "MiB/s", "put-1KiB", (r) => r.mib_per_sec],
	["", "call p99 ms", "put-1KiB", (r) => r.latency_ms.calls && r.latency_ms.calls.p99],
	["put 500 x 1 KiB, 4 shards, 8 producers", "MiB/s", "put-1KiB-8p", (r) => r.mib_per_sec],
	["", "call p99 ms", "put-1KiB-8p", (r) => r.latency_ms.calls && r.latency_ms.calls.p99],
	["get: drain 100 B records, 4 readers", "records/s", "get-100B", (r) => r.records_per_sec],
	["e2e poll (200 ms) at half max put rate", "put call p99 ms", "e2e-poll", (r) => r.latency_ms.calls && r.latency_ms.calls.p99],
	["", "put-to-read p50 ms", "e2e-poll", (r) => r.latency_ms.e2e && r.latency_ms.e2e.p50],
	["", "put-to-read p99 ms", "e2e-poll", (r) => r.latency_ms.e2e && r.latency_ms.e2e.p99],
	["e2e subscribe at half max put rate", "put call p99 ms", "e2e-subscribe", (r) => r.latency_ms.calls && r.latency_ms.calls.p99],
	["", "put-to-read p50 ms", "e2e-subscribe", (r) => r.latency_ms.e2e && r.latency_ms.e2e.p50],
	["", "put-to-read p99 ms", "e2e-subscribe", (r) => r.latency_ms.e2e && r.latency_ms.e2e.p99],
	["", "server CPU-s per million records", "e2e-subscribe", (r) => r.server_cpu_s_per_million_records],
	["", "load generator CPU-s per million records", "e2e-subscribe", (r) => r.client_cpu_s_per_million_records],
];
const nosync = (f) => median(load("e2e-subscribe", "sluice-nosync").map(f));
const ts = ["sluice", "kinesalite", "kinesis-mock"];
console.log(`Medians of ${reps} runs; ratios are Sluice's value divided by the peer's.\n`);
console.log("| scenario | metric | sluice | kinesalite | kinesis-mock | sluice/kinesalite | sluice/kinesis-mock |");
console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
const summary = {};
for (const [label, metric, name, f] of rows) {
	const v = ts.map((t) => get(name, t, f));
	summary[`${name} ${metric}`] = Object.fromEntries(ts.map((t, i) => [t, v[i]]));
	console.log(`| ${label} | ${metric} | ${v.map(fmt).join(" | ")} | ${ratio(v[0], v[1])} | ${ratio(v[0], v[2])} |`);
}
const rate = (t) => { const r = load("e2e-poll", t)[0]; return r ? r.settings.rate : undefined; };
console.log(`\ne2e rates (records/s): ${ts.map((t) => `${t} ${fmt(rate(t))}`).join(", ")}.`);
const ns = {
	callP99: nosync((r) => r.latency_ms.calls && r.latency_ms.calls.p99),
	e2eP50: nosync((r) => r.latency_ms.e2e && r.latency_ms.e2e.p50),
	e2eP99: nosync((r) => r.latency_ms.e2e && r.latency_ms.e2e.p99),
};
summary["e2e-subscribe sluice --fsync off"] = ns;
console.log(`Sluice with --fsync off, e2e subscribe at Sluice's rate: put call p99 ${fmt(ns.callP99)} ms, put-to-read p50 ${fmt(ns.e2eP50)} ms, p99 ${fmt(ns.e2eP99)} ms.`);
const mib = (f) => get("e2e-subscribe-1MiB", "sluice", f);
const fr = {
	callP99: mib((r) => r.latency_ms.calls && r.latency_ms.calls.p99),
	e2eP50: mib((r) => r.latency_ms.e2e && r.latency_ms.e2e.p50),
	e2eP99: mib((r) => r.latency_ms.e2e && r.latency_ms.e2e.p99),
	serverCPU: mib((r) => r.server_cpu_s_per_million_records),
	clientCPU: mib((r) => r.client_cpu_s_per_million_records),
};
summary["e2e-subscribe sluice --frame-size 1MiB"] = fr;
console.log(`Sluice, e2e subscribe with subscribers accepting 1 MiB HTTP/2 frames (the SDKs accept 16 KiB): put call p99 ${fmt(fr.callP99)} ms, put-to-read p50 ${fmt(fr.e2eP50)} ms, p99 ${fmt(fr.e2eP99)} ms; server ${fmt(fr.serverCPU)} and load generator ${fmt(fr.clientCPU)} CPU-s per million records.`);
const cb = (name, f) => get(name, "sluice", f);
const cbor = {
	putRate: cb("put-100B-cbor", (r) => r.records_per_sec),
	putServerCPU: cb("put-100B-cbor", (r) => r.server_cpu_s_per_million_records),
	put1KiB: cb("put-1KiB-cbor", (r) => r.mib_per_sec),
	rate: (load("e2e-subscribe-cbor", "sluice")[0] || { settings: {} }).settings.rate,
	callP99: cb("e2e-subscribe-cbor", (r) => r.latency_ms.calls && r.latency_ms.calls.p99),
	e2eP50: cb("e2e-subscribe-cbor", (r) => r.latency_ms.e2e && r.latency_ms.e2e.p50),
	e2eP99: cb("e2e-subscribe-cbor", (r) => r.latency_ms.e2e && r.latency_ms.e2e.p99),
	serverCPU: cb("e2e-subscribe-cbor", (r) => r.server_cpu_s_per_million_records),
	clientCPU: cb("e2e-subscribe-cbor", (r) => r.client_cpu_s_per_million_records),
};
summary["sluice cbor"] = cbor;
console.log(`Sluice in CBOR (the AWS SDK for Java's protocol): put ${fmt(cbor.putRate)} records/s at ${fmt(cbor.putServerCPU)} server CPU-s per million, 1 KiB ${fmt(cbor.put1KiB)} MiB/s; e2e subscribe at ${fmt(cbor.rate)} records/s: put call p99 ${fmt(cbor.callP99)} ms, put-to-read p50 ${fmt(cbor.e2eP50)} ms, p99 ${fmt(cbor.e2eP99)} ms; server ${fmt(cbor.serverCPU)} and load generator ${fmt(cbor.clientCPU)} CPU-s per million records.`);

const disk = (f) => get("disk", "local", f);
const d = {
	mibps: disk((r) => r.mib_per_sec),
	blockP99: disk((r) => r.latency_ms.block_fsync.p99),
	fsyncP50: disk((r) => r.latency_ms.fsync.p50),
	fsyncP99: disk((r) => r.latency_ms.fsync.p99),
};
summary.disk = d;
console.log("\n| machine limit | value |");
console.log("| --- | ---: |");
console.log(`| sequential write, fdatasync every 1 MiB | ${fmt(d.mibps)} MiB/s |`);
console.log(`| fdatasync after a 1 MiB write, p99 | ${fmt(d.blockP99)} ms |`);
console.log(`| fdatasync after a 4 KiB write, p50 | ${fmt(d.fsyncP50)} ms |`);
console.log(`| fdatasync after a 4 KiB write, p99 | ${fmt(d.fsyncP99)} ms |`);

const s = (k) => summary[k] && summary[k].sluice;
const check = (ok) => ok === undefined ? "n/a" : ok ? "met" : "not met";
const putP99 = s("e2e-poll put call p99 ms"), subP99 = s("e2e-subscribe put-to-read p99 ms");
const cpuM = s("put-100B server CPU-s per million records"), cpuM8 = s("put-100B-8p server CPU-s per million records");
const t = [
	["PutRecords 500 x 100 B, 4 producers", ">= 500,000 records/s", `${fmt(s("put-100B records/s"))} records/s`, s("put-100B records/s") >= 500000],
	["PutRecords 500 x 100 B, 8 producers", ">= 500,000 records/s", `${fmt(s("put-100B-8p records/s"))} records/s`, s("put-100B-8p records/s") >= 500000],
	["PutRecords 500 x 1 KiB, 4 producers", `>= 200 MiB/s and >= half the disk's ${fmt(d.mibps)} MiB/s`, `${fmt(s("put-1KiB MiB/s"))} MiB/s`, s("put-1KiB MiB/s") >= Math.max(200, d.mibps / 2)],
	["PutRecords 500 x 1 KiB, 8 producers", `>= 200 MiB/s and >= half the disk's ${fmt(d.mibps)} MiB/s`, `${fmt(s("put-1KiB-8p MiB/s"))} MiB/s`, s("put-1KiB-8p MiB/s") >= Math.max(200, d.mibps / 2)],
	["PutRecords 500 x 1 KiB, 4 producers, CBOR", `>= 200 MiB/s and >= half the disk's ${fmt(d.mibps)} MiB/s`, `${fmt(cbor.put1KiB)} MiB/s`, cbor.put1KiB === undefined ? undefined : cbor.put1KiB >= Math.max(200, d.mibps / 2)],
	["GetRecords drain", ">= 1,000,000 records/s", `${fmt(s("get-100B records/s"))} records/s`, s("get-100B records/s") >= 1000000],
	["put p99 at half rate", `<= 2 x fsync p99 = ${fmt(2 * d.fsyncP99)} ms`, `${fmt(putP99)} ms`, putP99 === undefined ? undefined : putP99 <= 2 * d.fsyncP99],
	["put-to-subscribe p99, fsync on", `< fsync p99 + 5 ms = ${fmt(d.fsyncP99 + 5)} ms`, `${fmt(subP99)} ms`, subP99 === undefined ? undefined : subP99 < d.fsyncP99 + 5],
	["put-to-subscribe p99, fsync on, CBOR", `< fsync p99 + 5 ms = ${fmt(d.fsyncP99 + 5)} ms`, `${fmt(cbor.e2eP99)} ms`, cbor.e2eP99 === undefined ? undefined : cbor.e2eP99 < d.fsyncP99 + 5],
	["put-to-subscribe p99, fsync off", "< 10 ms", `${fmt(ns.e2eP99)} ms`, ns.e2eP99 === undefined ? undefined : ns.e2eP99 < 10],
	["server CPU per million 100 B records put, 4 producers", "< 2 CPU-s", `${fmt(cpuM)} CPU-s`, cpuM === undefined ? undefined : cpuM < 2],
	["server CPU per million 100 B records put, 8 producers", "< 2 CPU-s", `${fmt(cpuM8)} CPU-s`, cpuM8 === undefined ? undefined : cpuM8 < 2],
];
console.log("\n| Sluice target | target | measured | |");
console.log("| --- | --- | ---: | --- |");
for (const [what, target, got, ok] of t) console.log(`| ${what} | ${target} | ${got} | ${check(ok)} |`);
fs.writeFileSync(`${dir}/summary.json`, JSON.stringify(summary, null, 2) + "\n");
EOF
log "results in $results"
