package sip

import "errors"

// Errors of the voice front end. Each maps to one SIP status in status().
var (
	// ErrNoCodec: the offer has no PCMU or PCMA audio (488).
	ErrNoCodec = errors.New("sip: no common codec: PCMU or PCMA audio is required")
	// ErrBadSDP: the body is not a usable SDP offer (400).
	ErrBadSDP = errors.New("sip: bad SDP")
	// ErrNotRegistered: the agent has no registered phone.
	ErrNotRegistered = errors.New("sip: agent phone not registered")
)
