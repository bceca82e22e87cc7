package engine

import (
	"errors"
	"fmt"

	"github.com/sluicedata/sluice/internal/keyring"
	"github.com/sluicedata/sluice/internal/storage"
)

// Error is a failure the caller can report to a Kinesis client as is: Code
// is the AWS exception name (ResourceNotFoundException, ...) and Message
// AWS's text for it. The engine speaks Kinesis semantics but no wire format;
// the protocol layer maps Code onto its exception catalogue.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Exception names the engine returns.
const (
	CodeResourceNotFound   = "ResourceNotFoundException"
	CodeResourceInUse      = "ResourceInUseException"
	CodeInvalidArgument    = "InvalidArgumentException"
	CodeLimitExceeded      = "LimitExceededException"
	CodeExpiredIterator    = "ExpiredIteratorException"
	CodeExpiredNextToken   = "ExpiredNextTokenException"
	CodeInternalFailure    = "InternalFailureException"
	CodeThroughputExceeded = "ProvisionedThroughputExceededException"
	CodeValidation         = "ValidationException"
	CodeKMSNotFound        = "KMSNotFoundException"
	CodeKMSInvalidState    = "KMSInvalidStateException"
)

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Engine) streamNotFound(name string) *Error {
	return errorf(CodeResourceNotFound, "Stream %s under account %s not found.", name, e.cfg.AccountID)
}

func (e *Engine) shardNotFound(stream, shardID string) *Error {
	return errorf(CodeResourceNotFound, "Shard %s in stream %s under account %s does not exist", shardID, stream, e.cfg.AccountID)
}

func (e *Engine) internalFailure(err error) *Error {
	e.log.Error("internal failure", "err", err)
	return errorf(CodeInternalFailure, "Internal service failure.")
}

// noEncryption is the answer when the server has no key ring.
func noEncryption() *Error {
	return errorf(CodeKMSInvalidState,
		"Encryption at rest is not enabled on this server: start sluice serve with --master-key-file or SLUICE_MASTER_KEY.")
}

// storageFailure maps an error from a shard log: a key the ring does not
// have (or no ring at all) is a KMS error the client can act on; anything
// else is an internal failure.
func (e *Engine) storageFailure(err error) *Error {
	if kerr := kmsError(err); kerr != nil {
		e.log.Warn("data key unavailable", "err", err)
		return kerr
	}
	return e.internalFailure(err)
}

// kmsError is the KMS exception for a key ring error, or nil.
func kmsError(err error) *Error {
	var kerr *keyring.Error
	switch {
	case errors.As(err, &kerr) && errors.Is(kerr.Kind, keyring.ErrNotFound):
		return errorf(CodeKMSNotFound, "%s", kerr.Message)
	case errors.Is(err, storage.ErrNoDataKeys):
		return noEncryption()
	}
	return nil
}
