package smpp

import (
	"errors"
	"fmt"
)

// Errors the codec returns, wrapped with the field and rule at fault.
var (
	// ErrFrame: the command_length is outside what a PDU may be; the stream
	// cannot be resynchronised and the connection must be closed.
	ErrFrame = errors.New("smpp: bad PDU frame")
	// ErrBody: a PDU body does not follow SMPP 3.4.
	ErrBody = errors.New("smpp: bad PDU body")
	// ErrText: short-message bytes are not valid in their data_coding.
	ErrText = errors.New("smpp: bad short message text")
	// ErrUDH: a user data header or SAR TLV set is malformed.
	ErrUDH = errors.New("smpp: bad concatenation header")
	// ErrEncode: a value does not fit the field it is written to.
	ErrEncode = errors.New("smpp: value does not fit its field")
)

func bodyErr(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrBody, field, fmt.Sprintf(format, args...))
}
