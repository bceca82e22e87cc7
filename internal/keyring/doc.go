// Package keyring keeps Sluice's encryption keys for encryption at rest: a
// KMS-like key ring stored in the data directory, whose key material is
// wrapped under a master key that is never stored there.
//
// Encryption at rest is envelope encryption. Storage asks the ring for a
// fresh data key per segment (GenerateDataKey), encrypts the segment with
// the plaintext, keeps only the wrapped form, and later asks the ring to
// unwrap it (Decrypt). The ring holds KMS-like keys, each a list of 256-bit
// key material versions: Rotate adds a version, new data keys are wrapped
// under the newest one, and the old ones stay so that data keys they wrapped
// remain readable. A default key with alias alias/aws/kinesis always exists.
//
// Files: keyring.go (Ring, Open, Resolve, List, Reload), keyring_mutate.go
// (Create, SetAlias, Rotate; locking and atomic writes), resolve.go (key
// references and the KMS NotFoundException texts), file.go (the file
// format), blob.go (wrapped data keys), masterkey.go (the master key).
//
// # Master key
//
// 32 bytes given to Open, read by the caller from --master-key-file or
// SLUICE_MASTER_KEY (LoadMasterKey). Two subkeys are derived from it with
// HKDF-SHA256 (no salt): the key-encryption key, info "sluice keyring v1
// kek", an AES-256-GCM key that seals the check value and every key material
// version; and the file MAC key, info "sluice keyring v1 mac", an
// HMAC-SHA256 key that authenticates the whole file.
//
// # File format: <data dir>/keyring.json
//
// JSON, written atomically (keyring.json.tmp, fsync, rename, fsync of the
// directory) with mode 0600:
//
//	{
//	  "version": 1,
//	  "check": "<base64>",
//	  "keys": [
//	    {
//	      "id": "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b",
//	      "description": "…",
//	      "created": "2025-01-02T03:04:05.123456789Z",
//	      "rotated": "2025-02-03T04:05:06Z",
//	      "material": ["<base64>", "<base64>"]
//	    }
//	  ],
//	  "aliases": {"alias/aws/kinesis": "1b4e28ba-…"},
//	  "mac": "<base64>"
//	}
//
// The fields:
//
//   - version: the format version; a reader refuses any other.
//   - check: nonce (12 bytes) || AES-256-GCM(kek, nonce, "sluice keyring
//     master key check", aad "sluice-keyring/1 check"). It is opened first, so
//     a wrong master key is reported as ErrWrongMasterKey before anything
//     else is looked at.
//   - keys: id is a lowercase UUID v4; created and rotated are RFC 3339 UTC
//     with nanoseconds (rotated is absent if the key was never rotated);
//     material lists the key material versions, oldest first: version n
//     (from 1) is element n-1, nonce (12) || AES-256-GCM(kek, nonce, 32-byte
//     material, aad "sluice-keyring/1 material <id> <n>"), so a version
//     cannot be moved to another key or position.
//   - aliases: alias name -> key id. alias/aws/kinesis is always present.
//   - mac: HMAC-SHA256(mac key, compact JSON of this object with mac ""), as
//     encoding/json writes it; a file changed outside Sluice is refused as
//     corrupt. Editing the file by hand is therefore not supported: use
//     `sluice keys`.
//
// # Wrapped data key (the blob GenerateDataKey returns)
//
// Integers little-endian, as in docs/format:
//
//	offset  size  field
//	0       4     magic "SLDK"
//	4       1     format version, 1
//	5       1     key id length L (36 for the UUIDs the ring makes)
//	6       L     key id, ASCII
//	6+L     4     material version, uint32, from 1
//	10+L    12    nonce
//	22+L    48    AES-256-GCM ciphertext (32) and tag (16) of the data key
//
// Everything before the nonce is the GCM additional data, so the header
// cannot be changed without failing authentication. With L = 36 a blob is
// 106 bytes; the format allows at most 255 (maxBlobBytes).
//
// Nonces are random. NIST SP 800-38D bounds random 96-bit nonces to 2^32
// seals per key; a material version wraps one data key per segment, far
// below that, and Rotate starts a new version.
//
// # Sharing and concurrency
//
// A running server has the ring open while an operator runs `sluice keys`
// on the same directory. Every mutation takes an exclusive flock on
// keyring.lock (created on first use, never deleted), re-reads the file,
// changes it and writes it atomically. Readers never lock: rename is
// atomic, so they see the old file or the new one. Resolve, List and
// GenerateDataKey re-read the file on every call and decode it again only
// when its bytes changed; Decrypt re-reads only when the blob names a key or
// version the ring has not loaded. A Ring is safe for concurrent use.
// Plaintext key material lives only in memory.
package keyring
