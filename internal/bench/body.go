package bench

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/sluicedata/sluice/internal/awsproto"
)

const (
	// maxKeySearch bounds the partition-key search: a shard holding 1/N of
	// the hash space needs about N candidates per key.
	maxKeySearch = 50_000_000
	// maxPutRequestBytes is PutRecords' request limit on data plus keys.
	maxPutRequestBytes = 5 << 20
	bodiesPerProducer  = 4
)

// partitionKeys returns perShard partition keys for each shard whose MD5
// hash falls in the shard's range, so that writes spread evenly.
func partitionKeys(shards []shardInfo, perShard int) ([][]string, error) {
	keys := make([][]string, len(shards))
	missing := len(shards) * perShard
	for i := 0; missing > 0; i++ {
		if i == maxKeySearch {
			return nil, fmt.Errorf("no partition keys found for some shards in %d tries", maxKeySearch)
		}
		pk := "pk-" + strconv.Itoa(i)
		h := md5.Sum([]byte(pk))
		for s := range shards {
			if len(keys[s]) < perShard && bytes.Compare(h[:], shards[s].lo[:]) >= 0 && bytes.Compare(h[:], shards[s].hi[:]) <= 0 {
				keys[s] = append(keys[s], pk)
				missing--
				break
			}
		}
	}
	return keys, nil
}

// Request shapes of the data plane, encoded once per body with awsproto.
type (
	putRecordsEntry struct {
		Data         []byte `json:"Data"`
		PartitionKey string `json:"PartitionKey"`
	}
	putRecordsInput struct {
		StreamName string            `json:"StreamName"`
		Records    []putRecordsEntry `json:"Records"`
	}
	putRecordInput struct {
		StreamName   string `json:"StreamName"`
		Data         []byte `json:"Data"`
		PartitionKey string `json:"PartitionKey"`
	}
)

// putBody is one pre-built request body and where each record's stamp
// sits in it, so that sending it again costs a few copies, not an encoding.
type putBody struct {
	body   []byte
	stamps []int // offset of each record's stamp: 12 base64 characters in JSON, 9 bytes in CBOR
}

// putBodies are one producer's bodies, used in turn.
type putBodies struct {
	proto     awsproto.Protocol
	op        string // PutRecords or PutRecord
	bodies    []putBody
	records   int   // records per body
	dataBytes int64 // data bytes per body
	next      int
}

// buildPutBodies encodes a producer's bodies. Record g of the producer's
// bodies goes to shard (g+producer) mod shards, with the shard's keys in
// turn, so every body spreads evenly over the shards.
func buildPutBodies(p awsproto.Protocol, api, stream string, keys [][]string, recordSize, batch, producer int) (*putBodies, error) {
	pb := &putBodies{proto: p, op: "PutRecords", records: batch, dataBytes: int64(batch * recordSize)}
	if api == "putrecord" {
		pb.op, pb.records, pb.dataBytes, batch = "PutRecord", 1, int64(recordSize), 1
	}
	count := max(bodiesPerProducer, (2*len(keys)+batch-1)/batch)
	for b := range count {
		datas := make([][]byte, batch)
		pks := make([]string, batch)
		for j := range batch {
			g := b*batch + j
			shard := (g + producer) % len(keys)
			pks[j] = keys[shard][(g/len(keys))%len(keys[shard])]
			datas[j] = recordData(recordSize, producer, b, j)
		}
		body, err := encodePut(p, pb.op, stream, datas, pks)
		if err != nil {
			return nil, err
		}
		stamps, err := findStamps(p, body, datas)
		if err != nil {
			return nil, err
		}
		pb.bodies = append(pb.bodies, putBody{body: body, stamps: stamps})
	}
	return pb, nil
}

func encodePut(p awsproto.Protocol, op, stream string, datas [][]byte, pks []string) ([]byte, error) {
	if op == "PutRecord" {
		return awsproto.Marshal(p, putRecordInput{StreamName: stream, Data: datas[0], PartitionKey: pks[0]})
	}
	in := putRecordsInput{StreamName: stream, Records: make([]putRecordsEntry, len(datas))}
	for j := range datas {
		in.Records[j] = putRecordsEntry{Data: datas[j], PartitionKey: pks[j]}
	}
	return awsproto.Marshal(p, in)
}

// recordData is a record's data: where there is room, a stamp whose time
// bytes hold a marker unique in its body until the first send (so that
// findStamps can find it), then filler.
func recordData(size, producer, body, j int) []byte {
	d := make([]byte, size)
	for i := range d {
		d[i] = 'a' + byte(i%26)
	}
	if size >= stampBytes {
		copy(d, []byte{0xfe, 0xed, byte(producer), byte(body), byte(j >> 16), byte(j >> 8), byte(j), 0x5a})
		d[8] = stampMagic
	}
	return d
}

// findStamps finds each record's stamp in an encoded body, in order.
func findStamps(p awsproto.Protocol, body []byte, datas [][]byte) ([]int, error) {
	if len(datas[0]) < stampBytes {
		return nil, nil
	}
	stamps := make([]int, len(datas))
	from := 0
	for j, d := range datas {
		marker := d[:stampBytes]
		if p == awsproto.JSON {
			marker = []byte(base64.StdEncoding.EncodeToString(marker))
		}
		at := bytes.Index(body[from:], marker)
		if at < 0 {
			return nil, fmt.Errorf("record %d's stamp not found in its encoded body", j)
		}
		stamps[j] = from + at
		from += at + len(marker)
	}
	return stamps, nil
}

// take returns the next body with every record stamped with now (Unix
// nanoseconds). The body is the caller's until its call has returned.
func (pb *putBodies) take(now int64) *putBody {
	b := &pb.bodies[pb.next]
	pb.next = (pb.next + 1) % len(pb.bodies)
	if len(b.stamps) == 0 {
		return b
	}
	var raw [stampBytes]byte
	binary.BigEndian.PutUint64(raw[:], uint64(now))
	raw[8] = stampMagic
	stamp := raw[:]
	if pb.proto == awsproto.JSON {
		var text [12]byte
		base64.StdEncoding.Encode(text[:], raw[:])
		stamp = text[:]
	}
	for _, off := range b.stamps {
		copy(b.body[off:], stamp)
	}
	return b
}
