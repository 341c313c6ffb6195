// Package email takes e-mail letters to the leader mailboxes (领导信箱): an
// SMTP listener accepts mail for the directory's mailbox addresses, reads the
// MIME (GB2312, GBK, GB18030, Big5 and UTF-8 bodies and headers, HTML
// sanitised, attachments into the blob store) and turns each letter into a
// contact in its mailbox's queue. The sender's server is answered 250 only
// after the contact is durably in Redis, 451 when Redis cannot take it, so
// it retries; Message-ID makes retries land on the same contact.
//
// The listener offers STARTTLS (the configured certificate, or a self-signed
// one made at start). Every letter's sender is checked (SPF, DKIM, DMARC,
// see checkSender) and the result kept on the contact for the agent: a
// letter is never refused for failing, but an acknowledgement with the
// tracking number goes back only to an authenticated sender, so that a
// forged From gets no mail from us (no backscatter). Acknowledgements and
// agents' replies go out through an outbound SMTP relay, DKIM-signed when a
// key is configured.
package email

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/channels/blobstore"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// Receiver is the part of the queue e-mail letters need.
type Receiver interface {
	channels.Receiver
	AddMessage(ctx context.Context, tn string, m queue.Message) error
}

// Blobs stores attachments by content hash. A letter stages its
// attachments as it is read and commits them only once a contact holds
// them: a refused letter leaves no file behind.
type Blobs interface {
	Stage(ctx context.Context, r io.Reader, limit int64) (*blobstore.Staged, error)
}

// Params wire a Server. Lookup, Queue and Blobs are required.
type Params struct {
	Options Options
	// Lookup finds a mailbox by its e-mail address (any case).
	Lookup func(addr string) (channels.Mailbox, bool)
	Queue  Receiver
	Blobs  Blobs
	// Threads remembers each contact's last Message-ID, so that replies
	// thread in the citizen's mail client. Nil: replies go out without
	// In-Reply-To.
	Threads Threads
	// Outbox keeps acknowledgements durably until sent (queue.Outbox).
	// Required when a relay is configured.
	Outbox Outbox
	// RelayTLS, if set, is the TLS configuration for STARTTLS to the relay
	// (default: the system's roots, server name from Relay.Addr).
	RelayTLS *tls.Config
	// Resolver answers the DNS questions of the sender checks (SPF, DKIM,
	// DMARC); nil means net.DefaultResolver. Its answers are kept for
	// Options.DNSCache.
	Resolver Resolver
	Logger   *zap.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is the e-mail channel: the SMTP listener (Run), the acknowledgement
// sender, and the Replier for agents' replies.
type Server struct {
	o       Options
	lookup  func(addr string) (channels.Mailbox, bool)
	q       Receiver
	blobs   Blobs
	threads Threads
	relay   *relay
	out     *outbox
	log     *zap.Logger
	now     func() time.Time
	policy  *sanitizer
	dns     Resolver
	tls     *tls.Config // STARTTLS of the listener
	signer  *signer     // nil: outbound mail is not DKIM-signed
	// receiving bounds the letters being read at once (MaxReceiving).
	receiving *channels.Slots
	// ln is the listener Listen opened, for Run to serve.
	ln net.Listener
}

// New returns the e-mail channel. Options are validated; defaults fill the
// zero fields first.
func New(p Params) (*Server, error) {
	o := p.Options.WithDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if p.Lookup == nil || p.Queue == nil || p.Blobs == nil {
		return nil, errMissingParams
	}
	log := p.Logger
	if log == nil {
		log = zap.NewNop()
	}
	now := p.Now
	if now == nil {
		now = time.Now
	}
	s := &Server{o: o, lookup: p.Lookup, q: p.Queue, blobs: p.Blobs, threads: p.Threads, log: log, now: now,
		policy: newSanitizer(), dns: p.Resolver, receiving: channels.NewSlots(o.MaxReceiving)}
	if s.dns == nil {
		s.dns = net.DefaultResolver
	}
	s.dns = newDNSCache(s.dns, o.DNSCache, o.DNSTimeout, dnsCacheNames, now)
	var err error
	if s.tls, err = listenerTLS(o.TLS, o.Domain, now(), log); err != nil {
		return nil, err
	}
	if s.signer, err = newSigner(o.DKIM); err != nil {
		return nil, err
	}
	if o.Relay.Addr != "" {
		if p.Outbox == nil {
			return nil, errors.New("email: a relay needs an outbox for the acknowledgements")
		}
		s.relay = newRelay(o.Relay, p.RelayTLS)
	}
	s.out = newOutbox(s, o.Relay, p.Outbox)
	return s, nil
}
