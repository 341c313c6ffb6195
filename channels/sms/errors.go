package sms

import "errors"

// Errors of the SMS channel.
var (
	// ErrBadMessage: a provider sent something we can never take (malformed,
	// missing the sender); retrying will not help.
	ErrBadMessage = errors.New("sms: bad message")
	// ErrNotBound: no SMPP transceiver bind is up to send through; it may be
	// up again soon.
	ErrNotBound = errors.New("sms: no SMPP transceiver bind is up")
	// ErrConfig: the configuration is not usable.
	ErrConfig = errors.New("sms: bad configuration")
)
