package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// relay delivers our mail (acknowledgements, replies) to the outbound SMTP
// relay, one connection per message.
type relay struct {
	o   Relay
	tls *tls.Config
}

func newRelay(o Relay, cfg *tls.Config) *relay {
	if cfg == nil {
		host, _, _ := net.SplitHostPort(o.Addr)
		cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	return &relay{o: o, tls: cfg}
}

// permanent reports whether the relay refused for good (5xx): trying again
// will not help.
func permanent(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se) && se.Code >= 500
}

// send delivers msg to one recipient within Relay.Timeout. A refusal is
// an *smtp.SMTPError (see permanent).
func (r *relay) send(ctx context.Context, to string, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", r.o.Addr)
	if err != nil {
		return fmt.Errorf("%w %s: %v", ErrRelay, r.o.Addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	var c *smtp.Client
	if r.o.StartTLS {
		// go-smtp greets as "localhost" on this path: it has no way to
		// name us before STARTTLS.
		c, err = smtp.NewClientStartTLS(conn, r.tls)
		if err != nil {
			_ = conn.Close()
			return fmt.Errorf("%w %s: STARTTLS: %v", ErrRelay, r.o.Addr, err)
		}
	} else {
		c = smtp.NewClient(conn)
		if err := c.Hello(r.o.Helo); err != nil {
			_ = c.Close()
			return fmt.Errorf("%w %s: EHLO: %w", ErrRelay, r.o.Addr, err)
		}
	}
	defer c.Close()
	c.CommandTimeout, c.SubmissionTimeout = r.o.Timeout, r.o.Timeout
	if r.o.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", r.o.Username, r.o.Password)); err != nil {
			// Our credentials, not the recipient: never a permanent refusal.
			return fmt.Errorf("%w %s: AUTH: %v", ErrRelay, r.o.Addr, err)
		}
	}
	if err := c.SendMail(r.o.From, []string{to}, bytes.NewReader(msg)); err != nil {
		return fmt.Errorf("%w %s: %w", ErrRelay, r.o.Addr, err)
	}
	_ = c.Quit() // the relay has the message: a failed QUIT changes nothing
	return nil
}
