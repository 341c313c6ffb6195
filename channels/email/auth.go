package email

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"github.com/lianxin/lianxin/queue"
	"golang.org/x/net/publicsuffix"
)

// Results of a sender check, as queue.AuthCheck records them.
const (
	authPass      = "pass"
	authFail      = "fail"
	authNone      = "none"
	authTempError = "temperror"
)

// maxDKIMSignatures is how many signatures of one letter are verified; a
// letter with more is judged on the first ones.
const maxDKIMSignatures = 5

// Resolver is the DNS the sender checks ask: SPF records (and the A, MX and
// PTR lookups SPF mechanisms make), DKIM keys, DMARC policies.
// *net.Resolver is one; tests give crafted records.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

var (
	_ Resolver        = (*net.Resolver)(nil)
	_ spf.DNSResolver = Resolver(nil)
)

// envelope is what the sending server told us before the letter: its
// address, its HELO name and the envelope sender (MAIL FROM).
type envelope struct {
	ip       net.IP
	helo     string
	mailFrom string
}

// dkimRun verifies a letter's DKIM signatures while it arrives: the letter's
// bytes are written to it as the parser reads them, so nothing is buffered
// beyond the header. finish must be called once.
type dkimRun struct {
	pw   *io.PipeWriter
	buf  *bufio.Writer // batches the parser's small reads into few hand-overs
	done chan dkimResult
	// idle is set once the verifier needs no more of the letter (it has no
	// signature): the rest is not handed over at all.
	idle atomic.Bool
	once sync.Once
	res  dkimResult
}

type dkimResult struct {
	verifs []*dkim.Verification
	err    error
}

// startDKIM starts verifying; its key lookups end with ctx or DNSTimeout.
func (s *Server) startDKIM(ctx context.Context) *dkimRun {
	pr, pw := io.Pipe()
	d := &dkimRun{pw: pw, done: make(chan dkimResult, 1)}
	d.buf = bufio.NewWriterSize(pw, 32<<10)
	opts := &dkim.VerifyOptions{MaxVerifications: maxDKIMSignatures,
		LookupTXT: func(name string) ([]string, error) {
			lctx, cancel := context.WithTimeout(ctx, s.o.DNSTimeout)
			defer cancel()
			return s.dns.LookupTXT(lctx, name)
		}}
	go func() {
		v, err := dkim.VerifyWithOptions(pr, opts)
		// Verify may stop reading early (no signature): the rest of the
		// letter must still flow, or the parser would block on the pipe.
		d.idle.Store(true)
		_, _ = io.Copy(io.Discard, pr)
		d.done <- dkimResult{verifs: v, err: err}
	}()
	return d
}

// Write hands the next bytes of the letter to the verifier. It never
// fails: a verifier that stopped early has all it needs.
func (d *dkimRun) Write(p []byte) (int, error) {
	if !d.idle.Load() {
		_, _ = d.buf.Write(p)
	}
	return len(p), nil
}

// finish ends the letter (err non-nil: it was not read whole) and waits for
// the verdicts; the verifier's goroutine has ended when it returns. Calls
// after the first return the first one's verdicts.
func (d *dkimRun) finish(err error) dkimResult {
	d.once.Do(func() {
		if err == nil && !d.idle.Load() {
			err = d.buf.Flush()
		}
		_ = d.pw.CloseWithError(err)
		d.res = <-d.done
	})
	return d.res
}

// checkSender judges whether the letter comes from whom its reply address
// says (fromDomain: the domain of the address an acknowledgement would go
// to): SPF for the envelope, the DKIM verdicts, and the From domain's DMARC
// policy (RFC 7489), with alignment judged by the organisational domain.
func (s *Server) checkSender(ctx context.Context, env envelope, fromDomain string, dk dkimResult) queue.SenderAuth {
	fromDomain = normDomain(fromDomain)
	var a queue.SenderAuth
	a.SPF = s.checkSPF(ctx, env)
	a.DKIM = dkimCheck(dk, fromDomain)
	rec, dmarcResult := s.lookupDMARC(ctx, fromDomain)
	var spfMode, dkimMode dmarc.AlignmentMode = dmarc.AlignmentRelaxed, dmarc.AlignmentRelaxed
	if rec != nil {
		if rec.SPFAlignment == dmarc.AlignmentStrict {
			spfMode = dmarc.AlignmentStrict
		}
		if rec.DKIMAlignment == dmarc.AlignmentStrict {
			dkimMode = dmarc.AlignmentStrict
		}
	}
	spfOK := a.SPF.Result == authPass && aligned(a.SPF.Domain, fromDomain, spfMode)
	dkimOK := a.DKIM.Result == authPass && aligned(a.DKIM.Domain, fromDomain, dkimMode)
	a.DMARC = queue.AuthCheck{Result: dmarcResult, Domain: fromDomain}
	if rec != nil {
		a.DMARC.Result = authFail
		if spfOK || dkimOK {
			a.DMARC.Result = authPass
		}
	}
	// No policy, or none to be had: an aligned pass vouches for the domain.
	a.Authenticated = fromDomain != "" && (spfOK || dkimOK)
	a.Note = authNote(a)
	return a
}

// checkSPF checks the sending server against the envelope sender's domain,
// or the HELO name's for a null sender (RFC 7208 §2.4).
func (s *Server) checkSPF(ctx context.Context, env envelope) queue.AuthCheck {
	sender, domain := env.mailFrom, domainOf(env.mailFrom)
	if domain == "" {
		domain = env.helo
		sender = "postmaster@" + env.helo
	}
	domain = normDomain(domain)
	if domain == "" || env.ip == nil {
		return queue.AuthCheck{Result: authNone, Domain: domain}
	}
	sctx, cancel := context.WithTimeout(ctx, s.o.DNSTimeout)
	defer cancel()
	res, _ := spf.CheckHostWithSender(env.ip, env.helo, sender, spf.WithResolver(s.dns), spf.WithContext(sctx))
	switch res {
	case spf.Pass:
		return queue.AuthCheck{Result: authPass, Domain: domain}
	case spf.TempError:
		return queue.AuthCheck{Result: authTempError, Domain: domain}
	case spf.None, spf.Neutral:
		return queue.AuthCheck{Result: authNone, Domain: domain}
	}
	// fail, softfail, and permerror (a broken record vouches for nothing).
	return queue.AuthCheck{Result: authFail, Domain: domain}
}

// dkimCheck sums up the signatures: pass when one verifies (preferring one
// aligned with From), temperror when a key could not be had, fail when
// every signature failed, none without a signature.
func dkimCheck(dk dkimResult, fromDomain string) queue.AuthCheck {
	if len(dk.verifs) == 0 {
		if dk.err != nil && !errors.Is(dk.err, dkim.ErrTooManySignatures) {
			// The letter itself could not be read as a header; it is
			// refused anyway, or has no signature worth the name.
			return queue.AuthCheck{Result: authFail}
		}
		return queue.AuthCheck{Result: authNone}
	}
	var pass, temp, fail *dkim.Verification
	for _, v := range dk.verifs {
		switch {
		case v.Err == nil:
			if pass == nil || aligned(v.Domain, fromDomain, dmarc.AlignmentRelaxed) &&
				!aligned(pass.Domain, fromDomain, dmarc.AlignmentRelaxed) {
				pass = v
			}
		case dkim.IsTempFail(v.Err):
			if temp == nil {
				temp = v
			}
		case fail == nil:
			fail = v
		}
	}
	switch {
	case pass != nil:
		return queue.AuthCheck{Result: authPass, Domain: normDomain(pass.Domain)}
	case temp != nil:
		return queue.AuthCheck{Result: authTempError, Domain: normDomain(temp.Domain)}
	}
	return queue.AuthCheck{Result: authFail, Domain: normDomain(fail.Domain)}
}

// lookupDMARC finds the policy of domain, or of its organisational domain
// (RFC 7489 §6.6.3). A record that does not parse is no policy.
func (s *Server) lookupDMARC(ctx context.Context, domain string) (*dmarc.Record, string) {
	if domain == "" {
		return nil, authNone
	}
	dctx, cancel := context.WithTimeout(ctx, s.o.DNSTimeout)
	defer cancel()
	opts := &dmarc.LookupOptions{LookupTXT: func(name string) ([]string, error) { return s.dns.LookupTXT(dctx, name) }}
	names := []string{domain}
	if o := orgDomain(domain); o != domain {
		names = append(names, o)
	}
	for _, d := range names {
		rec, err := dmarc.LookupWithOptions(d, opts)
		switch {
		case err == nil:
			return rec, authPass // the caller judges pass or fail
		case dmarc.IsTempFail(err) || dctx.Err() != nil:
			return nil, authTempError
		}
	}
	return nil, authNone
}

// aligned reports whether an authenticated domain vouches for the From
// domain: the same name (strict), or the same organisational domain.
func aligned(authDomain, fromDomain string, mode dmarc.AlignmentMode) bool {
	a, f := normDomain(authDomain), normDomain(fromDomain)
	if a == "" || f == "" {
		return false
	}
	if mode == dmarc.AlignmentStrict {
		return a == f
	}
	return orgDomain(a) == orgDomain(f)
}

// orgDomain is a domain's registered part: mail.example.com.cn →
// example.com.cn. A name the public-suffix list cannot place stands for
// itself.
func orgDomain(d string) string {
	o, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return o
}

// domainOf is the domain of an address, "" without one.
func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return normDomain(addr[i+1:])
}

func normDomain(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}

// authNote is the sentence the desk shows about a letter's sender.
func authNote(a queue.SenderAuth) string {
	show := func(name string, c queue.AuthCheck) string {
		s := name + " " + c.Result
		if c.Domain != "" {
			s += " (" + c.Domain + ")"
		}
		return s
	}
	if a.Authenticated {
		switch {
		case a.DMARC.Result == authPass:
			return "发件人已验证：" + show("DMARC", a.DMARC)
		case a.DKIM.Result == authPass:
			return "发件人已验证：" + show("DKIM", a.DKIM)
		}
		return "发件人已验证：" + show("SPF", a.SPF)
	}
	return "发件人未通过验证：" + show("SPF", a.SPF) + "，" + show("DKIM", a.DKIM) + "，" + show("DMARC", a.DMARC) +
		"。来信照常受理，但未发送受理回执邮件（发件地址可能被冒用）"
}
