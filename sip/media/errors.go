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
)
