package media

import "errors"

var (
	// ErrMediaTimeout is returned by Leg.Run when no RTP arrived for LegConfig.MediaTimeout.
	ErrMediaTimeout = errors.New("media: no RTP received within the media timeout")
	// ErrPortsExhausted is returned by PortPool.Listen when every port of the range is in use.
	ErrPortsExhausted = errors.New("media: RTP port range exhausted")
	// ErrBadWAV is wrapped by every ReadWAV error.
	ErrBadWAV = errors.New("media: bad WAV")
	// ErrBadEvent is wrapped by every ParseEvent and ParseInfoDTMF error.
	ErrBadEvent = errors.New("media: bad telephone-event")
	// ErrNoEvents is returned by Leg.SendDigit when the peer negotiated no telephone-event payload type.
	ErrNoEvents = errors.New("media: the peer takes no telephone-events")
	// ErrClosed is returned by Leg.SendDigit on a closed leg.
	ErrClosed = errors.New("media: leg closed")
)
