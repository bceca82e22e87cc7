package engine

// How the engine answers storage faults. Storage does the recovering: a
// shard log failed by a write or fsync error (a full disk, most often)
// re-arms itself on a later Append once the disk lets it (storage
// shard_rearm.go, docs/format/segment.md "Write failures and re-arming"),
// and reads of durable records go on meanwhile. Until then every append
// fails at once, and an append that waited too long for a slow disk fails
// with storage.ErrBusy having written nothing. The engine's part is to
// turn those into errors clients retry (InternalFailure per PutRecords
// entry, InternalFailureException with HTTP 500 for PutRecord) and never
// to report a damaged shard's unreadable end as its tip.

// putRecordError is PutRecord's error for its one failed entry. PutRecords
// reports a server fault per entry with the code "InternalFailure"; as a
// whole-call error the Kinesis model names it InternalFailureException
// (HTTP 500), which the SDKs retry. Throttling keeps its exception name.
func putRecordError(r PutResult) *Error {
	if r.ErrorCode == entryInternalFailure {
		return errorf(CodeInternalFailure, "%s", r.ErrorMessage)
	}
	return errorf(r.ErrorCode, "%s", r.ErrorMessage)
}

// entryInternalFailure is the ErrorCode of a PutRecords entry that failed
// on the server's side.
const entryInternalFailure = "InternalFailure"

// damageError returns InternalFailureException for a read from at or past
// the readable end of a damaged shard log: the records from there on lie
// behind corruption and are never served, and an empty page would look
// like the tip of the shard, so the reader would wait forever without
// anyone noticing. Records before the damage are served as usual. The
// corruption, with its file and byte offset, goes to the log. A healthy
// log costs one atomic load.
func (e *Engine) damageError(st *stream, sh *shard, from uint64) *Error {
	d := sh.log.Damage()
	if d == nil || from < sh.log.End() {
		return nil
	}
	e.log.Error("read reached the damaged end of a shard log", "stream", st.meta.Name, "shard", sh.id,
		"file", d.File, "offset", d.Offset, "reason", d.Reason)
	return errorf(CodeInternalFailure, "Internal service failure.")
}
