package engine

import "fmt"

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
