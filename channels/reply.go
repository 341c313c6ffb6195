package channels

import (
	"context"
	"errors"

	"github.com/lianxin/lianxin/queue"
)

// Replier sends an agent's reply back to the citizen on the channel the
// contact came in on. Each channel package implements it; the desk looks one
// up by the contact's channel.
type Replier interface {
	Reply(ctx context.Context, c *queue.Contact, text string) error
}

// Errors a Replier returns that the agent should see as they are.
var (
	// ErrReplyWindowClosed: the provider no longer lets us write to this
	// citizen (WeChat's 48 hours since the citizen's last message).
	ErrReplyWindowClosed = errors.New("channels: the reply window to this citizen has closed")
	// ErrNoReplyPath: nothing to reply to (no phone, no e-mail, no OpenID).
	ErrNoReplyPath = errors.New("channels: this contact has no address to reply to")
	// ErrReplyRejected: the provider refused the reply for good (bad
	// number, blocked content); retrying will not help.
	ErrReplyRejected = errors.New("channels: the provider refused the reply")
)
