package follower

import (
	"errors"

	cerrdefs "github.com/containerd/errdefs"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
)

// endReason says why a stream ended; Run decides by it what comes next.
// Its string is a value of the reason attribute in metadata.yaml.
type endReason string

const (
	endRotation       endReason = "rotation"        // its interval was up
	endEOF            endReason = "eof"             // the daemon ended it
	endIdle           endReason = "idle"            // idle_timeout or first_byte_timeout
	endTailMiss       endReason = "tail_miss"       // the tail window missed the position
	endMultilineFlush endReason = "multiline_flush" // ended to emit a due group
	endError          endReason = "error"
	endShutdown       endReason = "shutdown"
)

// endReasons lists every endReason (a test holds it to metadata.yaml).
var endReasons = []endReason{endRotation, endEOF, endIdle, endTailMiss, endMultilineFlush, endError, endShutdown}

func (r endReason) attr() metric.MeasurementOption { return attrSet("reason", string(r)) }

// ErrorType classifies a failure that ended or disturbed a stream; its
// string is a value of the error.type attribute in metadata.yaml.
type ErrorType string

const (
	ErrorConnect     ErrorType = "connect" // the daemon could not be reached
	errorNotFound    ErrorType = "not_found"
	errorUnsupported ErrorType = "unsupported_driver"
	errorFrame       ErrorType = "frame"
	errorRead        ErrorType = "read"
	errorStall       ErrorType = "stall"
	errorDaemon      ErrorType = "daemon"
	errorConsumer    ErrorType = "consumer"
)

// errorTypes lists every ErrorType (a test holds it to metadata.yaml).
var errorTypes = []ErrorType{ErrorConnect, errorNotFound, errorUnsupported, errorFrame, errorRead, errorStall, errorDaemon, errorConsumer}

// Attr is the error.type attribute of t.
func (t ErrorType) Attr() metric.MeasurementOption { return attrSet("error.type", string(t)) }

// errorType maps an error to the bounded error.type attribute.
func errorType(err error) ErrorType {
	var de *decode.DaemonError
	switch {
	case cerrdefs.IsNotFound(err):
		return errorNotFound
	case cerrdefs.IsNotImplemented(err):
		return errorUnsupported
	case errors.As(err, &de):
		return errorDaemon
	case errors.Is(err, decode.ErrFrameTooLarge), errors.Is(err, decode.ErrBadHeader):
		return errorFrame
	}
	return errorRead
}

func attrSet(key, value string) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String(key, value)))
}
