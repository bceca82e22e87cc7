#!/usr/bin/env bash
# bench/catchup.sh: write latency while consumers catch up on a backlog.
# Fills one stream, then puts at a fixed rate into a second stream while
# GetRecords readers drain the first from TRIM_HORIZON, again and again;
# prints the put's call latency and each drain's rate. Against a running
# server, which keeps the backlog stream (catchup-backlog-<pid>) afterwards;
# nothing here runs in CI.
#
#   bash bench/catchup.sh [ENDPOINT]    (default http://127.0.0.1:4567)
#
# Settings (environment):
#   SLUICE=path       the sluice binary whose bench runs (default: built from ./cmd/sluice)
#   BACKLOG=3000000   records in the stream the readers drain (100 B each)
#   READERS=4         GetRecords readers, one per shard of that stream
#   DRAINS=3          drains, one after another, while the put runs
#   RATE=100000       records/s the put writes (PutRecords of 500 x 100 B)
#   PRODUCERS=2       its concurrent writers
#   PUT_SECONDS=8     how long it writes
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
endpoint=${1:-http://127.0.0.1:4567}
BACKLOG=${BACKLOG:-3000000}
READERS=${READERS:-4}
DRAINS=${DRAINS:-3}
RATE=${RATE:-100000}
PRODUCERS=${PRODUCERS:-2}
PUT_SECONDS=${PUT_SECONDS:-8}

sluice=${SLUICE:-}
if [[ -z $sluice ]]; then
	sluice=$(mktemp -d)/sluice
	(cd "$root" && go build -o "$sluice" ./cmd/sluice)
fi
backlog=catchup-backlog-$$
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "catchup: filling $backlog with $BACKLOG records" >&2
"$sluice" bench get --endpoint "$endpoint" --shards "$READERS" --fill "$BACKLOG" --readers "$READERS" \
	--keep --stream "$backlog" >/dev/null

echo "catchup: put at $RATE records/s for ${PUT_SECONDS}s while $READERS readers drain it $DRAINS times" >&2
"$sluice" bench put --endpoint "$endpoint" --shards 4 --producers "$PRODUCERS" --batch 500 --record-size 100 \
	--rate "$RATE" --duration "${PUT_SECONDS}s" >"$out/put" 2>&1 &
put=$!
sleep 1 # the put's stream is created and writing before the first drain
for i in $(seq "$DRAINS"); do
	"$sluice" bench get --endpoint "$endpoint" --create=false --fill 0 --stream "$backlog" --readers "$READERS" \
		--keep >"$out/drain.$i" 2>&1
	echo "drain $i: $(grep '^get:' "$out/drain.$i")"
done
wait "$put"
echo "put beside the drains:"
cat "$out/put"
