package sip

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/sip/media"
	"go.uber.org/zap"
)

// Callback sets the callback that keeps a waiting caller's place
// (sip.callback).
type Callback struct {
	// After is how long a caller waits before the hold loop first offers a
	// callback ("press Key to be called back, keeping your place"); then
	// the offer is repeated every Every. Default 60s and 60s; a negative
	// After offers none.
	After time.Duration `yaml:"after"`
	Every time.Duration `yaml:"every"`
	// Key the caller presses: one of 0–9, *, #. Default "1".
	Key string `yaml:"key"`
	// Timeout is how long the caller has to confirm the number or type
	// another (each key). Default 6s; no key confirms the caller's number.
	Timeout time.Duration `yaml:"timeout"`
	// Retries is how often a callback the citizen did not answer is placed
	// again (by the next agent to take it), RetryEvery apart; then it closes
	// callback_failed and the citizen gets an SMS. Default (configs) 2 and
	// 10m; 0 retries gives up after the first unanswered callback.
	Retries    int           `yaml:"retries"`
	RetryEvery time.Duration `yaml:"retry_every"`
	// QuietHours are when no citizen is called back, by line number ("*"
	// for every line without its own): "HH:MM-HH:MM", China time (e.g.
	// "21:00-08:00"). A callback taken then waits out of the queue until
	// they end. Default: none.
	QuietHours map[string]string `yaml:"quiet_hours"`
}

// CallbackRetries is the outbox of parked callbacks waiting to go back to
// their queue.
const CallbackRetries = "callback-retries"

// chinaTime is the hotline's clock for quiet hours (UTC+8, no DST).
var chinaTime = time.FixedZone("CST", 8*3600)

// ParseQuietHours reads "HH:MM-HH:MM" into minutes after midnight.
func ParseQuietHours(s string) (from, to int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want HH:MM-HH:MM", s)
	}
	parse := func(x string) (int, error) {
		t, err := time.Parse("15:04", strings.TrimSpace(x))
		if err != nil {
			return 0, fmt.Errorf("%q: want HH:MM-HH:MM", s)
		}
		return t.Hour()*60 + t.Minute(), nil
	}
	if from, err = parse(a); err != nil {
		return 0, 0, err
	}
	if to, err = parse(b); err != nil {
		return 0, 0, err
	}
	if from == to {
		return 0, 0, fmt.Errorf("%q: empty window", s)
	}
	return from, to, nil
}

// quietUntil says whether now is within line's quiet hours, and when they
// end.
func (s *Server) quietUntil(line string, now time.Time) (time.Time, bool) {
	spec, ok := s.cfg.Callback.QuietHours[line]
	if !ok {
		spec, ok = s.cfg.Callback.QuietHours["*"]
	}
	if !ok || spec == "" {
		return time.Time{}, false
	}
	from, to, err := ParseQuietHours(spec)
	if err != nil {
		return time.Time{}, false
	}
	local := now.In(chinaTime)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, chinaTime)
	m := local.Hour()*60 + local.Minute()
	in := (from < to && m >= from && m < to) || (from > to && (m >= from || m < to))
	if !in {
		return time.Time{}, false
	}
	end := midnight.Add(time.Duration(to) * time.Minute)
	if !end.After(now) {
		end = end.Add(24 * time.Hour)
	}
	return end, true
}

type retryJob struct {
	TrackingNo string `json:"tracking_no"`
	DueMs      int64  `json:"due_ms"`
}

// parkFor frees the agent of callback tn and has it come back to its queue
// at due (an outbox job, so it survives this node). attempt counts a
// callback the citizen did not answer; it reports whether the callback is
// to be tried again (false: given up, closed callback_failed).
func (c *call) parkFor(agent string, ct *queue.Contact, note string, due time.Time, attempt bool) bool {
	s := c.s
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 5*time.Second)
	defer cancel()
	if attempt && ct.CallbackTries >= s.cfg.Callback.Retries {
		if err := s.q.FailCallback(ctx, agent, ct.TrackingNo, note); err != nil {
			c.log.Warn("failed callback not closed", zap.Error(err))
		}
		c.log.Info("callback given up", zap.Int("tries", ct.CallbackTries+1))
		c.notifyFailed(ctx, ct)
		return false
	}
	b, _ := json.Marshal(retryJob{TrackingNo: ct.TrackingNo, DueMs: due.UnixMilli()})
	if _, err := s.q.Outbox(CallbackRetries).Put(ctx, b); err != nil {
		c.log.Error("callback retry not scheduled; giving it back to the queue now", zap.Error(err))
		_ = s.q.Transfer(ctx, agent, ct.TrackingNo, queue.TransferTo{Queue: ct.Queue, Note: note})
		return true
	}
	if _, err := s.q.ParkCallback(ctx, agent, ct.TrackingNo, note, attempt); err != nil {
		c.log.Warn("callback not parked", zap.Error(err))
	}
	c.log.Info("callback parked", zap.Time("until", due), zap.Bool("attempt", attempt))
	return true
}

// notifyFailed tells the citizen by SMS that the callbacks did not reach them.
func (c *call) notifyFailed(ctx context.Context, ct *queue.Contact) {
	if c.s.p.SMS == nil {
		return
	}
	to := *ct
	if ct.CallbackPhone != "" {
		to.Citizen.Phone = ct.CallbackPhone
	}
	text := "您好，12345热线多次回拨您的电话未能接通（受理编号 " + ct.TrackingNo + "）。如仍需帮助，请再次拨打12345。【12345】"
	if err := c.s.p.SMS.Reply(ctx, &to, text); err != nil {
		c.log.Info("no SMS about the failed callback", zap.Error(err))
	}
}

// serveCallbackRetries puts parked callbacks back in their queues when due.
func (s *Server) serveCallbackRetries(ctx context.Context) error {
	box := s.q.Outbox(CallbackRetries)
	box.Serve(ctx, 30*time.Second, time.Second, nil, func(ctx context.Context, j queue.Job) {
		var rj retryJob
		if err := json.Unmarshal(j.Payload, &rj); err != nil {
			_ = box.Done(ctx, j.ID)
			return
		}
		if wait := time.Until(time.UnixMilli(rj.DueMs)); wait > 0 {
			_ = box.Retry(ctx, j.ID, wait)
			return
		}
		if err := s.q.UnparkCallback(ctx, rj.TrackingNo); err != nil && queue.Temporary(err) {
			_ = box.Retry(ctx, j.ID, time.Second)
			return
		}
		_ = box.Done(ctx, j.ID)
	})
	return nil
}

// byCallback: the caller asked for a callback and the gateway hung up.
const byCallback = "callback"

func setCallbackDefaults(c *Config) {
	if c.Callback.RetryEvery <= 0 {
		c.Callback.RetryEvery = 10 * time.Minute
	}
	if c.Callback.After == 0 {
		c.Callback.After = 60 * time.Second
	}
	if c.Callback.Every <= 0 {
		c.Callback.Every = 60 * time.Second
	}
	if c.Callback.Key == "" {
		c.Callback.Key = "1"
	}
	if c.Callback.Timeout <= 0 {
		c.Callback.Timeout = 6 * time.Second
	}
}

// cbOffer is the callback offer of one waiting caller's hold loop.
type cbOffer struct {
	t       *time.Timer
	every   time.Duration
	key     rune
	offered bool
}

// callbackOffer starts the hold loop's callback offers (none when
// sip.callback.after is negative).
func (c *call) callbackOffer() *cbOffer {
	cfg := c.s.cfg.Callback
	o := &cbOffer{every: cfg.Every}
	if cfg.After < 0 || cfg.Key == "" {
		return o
	}
	o.key = rune(cfg.Key[0])
	o.t = time.NewTimer(cfg.After)
	return o
}

// C fires when the offer is due; nil when there is none.
func (o *cbOffer) C() <-chan time.Time {
	if o.t == nil {
		return nil
	}
	return o.t.C
}

func (o *cbOffer) stop() {
	if o.t != nil {
		o.t.Stop()
	}
}

// announce is the offer's prompt when the caller still waits.
func (o *cbOffer) announce(c *call) []*media.Clip {
	o.t.Reset(o.every)
	if c.State() != stWaiting {
		return nil
	}
	o.offered = true
	c.log.Info("callback offered")
	return nonNil([]*media.Clip{c.s.prompts.get("callback-offer")})
}

// wants reports whether key d, pressed in the hold loop, takes the offer.
func (o *cbOffer) wants(c *call, d rune) bool {
	st := c.State()
	return o.offered && d == o.key && (st == stWaiting || st == stOffered)
}

// takeCallback turns the waiting caller into a callback at its place: at
// once on the caller's own number (so a caller who hangs up now is called
// back), then the caller confirms it or types another and #. It returns
// false when the caller could not be made a callback (a withheld number
// and none typed) and goes on waiting.
func (c *call) takeCallback() bool {
	s := c.s
	p := s.prompts
	c.leg.Hold(nil)
	tn := c.trackingNo()
	phone := c.caller
	if phone != "" && !c.requestCallback(tn, phone) {
		c.leg.Hold(p.hold)
		return false
	}
	prompt := "callback-confirm"
	if phone == "" {
		prompt = "callback-enter"
	}
	for try := 0; try < 2 && c.ctx.Err() == nil; try++ {
		typed, ok := c.collect(p.get(prompt))
		if !ok {
			return phone != "" // hung up: the callback stands if it was made
		}
		if typed == "" || (typed == "1" && phone != "") {
			break // confirmed (or no key: the caller's number)
		}
		if e164, valid := channels.NormalizePhone(typed); valid {
			if !c.requestCallback(tn, e164) {
				break
			}
			phone = e164
			break
		}
		c.play(false, p.get("invalid"))
		prompt = "callback-enter"
	}
	if phone == "" {
		c.leg.Hold(p.hold)
		return false
	}
	c.log.Info("caller asked for a callback", zap.String("phone", channels.MaskPhone(phone)))
	c.play(false, p.get("callback-done"))
	return true
}

// requestCallback records the callback, retrying while Redis is away.
func (c *call) requestCallback(tn, phone string) bool {
	for try := 0; try < 5; try++ {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 3*time.Second)
		err := c.s.q.RequestCallback(ctx, tn, phone)
		cancel()
		if err == nil {
			return true
		}
		if !queue.Temporary(err) {
			c.log.Warn("callback not recorded", zap.Error(err))
			return false
		}
		time.Sleep(time.Duration(try+1) * 200 * time.Millisecond)
	}
	return false
}

// collect plays prompt and reads keys until #, a pause of Timeout, or the
// caller hanging up (false). A key during the prompt cuts it short.
func (c *call) collect(prompt *media.Clip) (string, bool) {
	first, ok := c.play(true, prompt)
	if !ok {
		return "", false
	}
	var b strings.Builder
	d := first
	for {
		if d == '#' {
			return b.String(), true
		}
		if d >= '0' && d <= '9' {
			b.WriteRune(d)
			if b.Len() > 16 {
				return b.String(), true
			}
		}
		t := time.NewTimer(c.s.cfg.Callback.Timeout)
		select {
		case d = <-c.digits:
			t.Stop()
		case <-t.C:
			return b.String(), true
		case <-c.ctx.Done():
			t.Stop()
			return "", false
		}
	}
}

// onAssigned places a callback when an agent whose desk is on this node
// accepted a callback contact.
func (s *Server) onAssigned(ev queue.Event) {
	if ev.Contact == nil || !ev.Contact.Callback || ev.Node != s.q.NodeID() || s.draining.Load() {
		return
	}
	go s.placeCallback(ev.Agent, ev.Contact)
}

// placeCallback connects agent to the citizen of callback contact ct: the
// agent's phone is rung first; once it answers (the agent hears hold
// audio), the citizen is called through the outbound trunk, and the two are
// bridged when the citizen answers. When either hangs up the other is hung
// up and the contact waits for the agent's wrap-up. If the agent's phone
// does not answer, the contact goes back to its place in its queue; if the
// citizen does not answer, the agent's phone is hung up and the contact
// ends (the agent wraps it up).
func (s *Server) placeCallback(agent string, ct *queue.Contact) {
	phone := ct.CallbackPhone
	if phone == "" {
		phone = ct.Citizen.Phone
	}
	c := newCall(s, "callback-"+uuid.NewString(), Line{Number: ct.Line, Name: ct.LineName, Queue: ct.Queue}, phone)
	c.tn, c.state = ct.TrackingNo, stOffered
	c.log = c.log.With(zap.String("contact", ct.TrackingNo), zap.String("agent", agent))
	s.mu.Lock()
	s.byCall[c.id] = c
	s.byTN[c.tn] = c
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	defer s.forget(c)
	defer c.cancel(errors.New(byAgent))
	bg := context.WithoutCancel(c.ctx)
	giveBack := func(why string) {
		ctx, cancel := context.WithTimeout(bg, 5*time.Second)
		defer cancel()
		err := s.q.Transfer(ctx, agent, c.tn, queue.TransferTo{Queue: ct.Queue, Note: why})
		if err != nil {
			c.log.Warn("callback not given back to the queue", zap.Error(err))
		}
	}
	end := func() {
		ctx, cancel := context.WithTimeout(bg, 5*time.Second)
		defer cancel()
		if err := s.q.End(ctx, agent, c.tn); err != nil && !errors.Is(err, queue.ErrWrongState) {
			c.log.Warn("callback's end not recorded", zap.Error(err))
		}
	}

	if until, quiet := s.quietUntil(ct.Line, time.Now()); quiet {
		c.parkFor(agent, ct, "免打扰时段，稍后回拨", until, false)
		return
	}
	ctx, cancel := context.WithTimeout(bg, 5*time.Second)
	contact, err := s.reg.lookup(ctx, agent)
	cancel()
	if err != nil {
		c.log.Warn("callback accepted by an agent with no phone", zap.Error(err))
		giveBack("回拨：坐席话机未登记")
		return
	}
	c.log.Info("callback: ringing the agent")
	a, err := c.dial(contact, []media.Codec{media.PCMU, media.PCMA}, "agent", s.cfg.RingTimeout, false)
	if err != nil {
		c.log.Info("callback: the agent's phone did not answer", zap.Error(err))
		giveBack("回拨：坐席未接听")
		return
	}
	a.agent = agent
	c.mu.Lock()
	c.ring = a
	c.mu.Unlock()
	// The agent hears hold audio while the citizen's phone rings (the
	// pacer sends it, as it does to callers).
	s.pacer.Add(a.media())
	defer s.pacer.Remove(a.media())
	a.media().Hold(s.prompts.hold)
	defer a.hangup()

	uri, err := s.trunkURI(phone)
	if err != nil {
		c.log.Error("callback: cannot call the citizen", zap.Error(err))
		end()
		return
	}
	c.log.Info("callback: calling the citizen", zap.String("phone", channels.MaskPhone(phone)))
	cit, err := c.dial(uri, []media.Codec{a.media().Codec(), other(a.media().Codec())}, "citizen",
		s.cfg.Trunk.AnswerTimeout, true)
	if err != nil {
		c.log.Info("callback: the citizen did not answer", zap.Error(err))
		c.play2(a, s.prompts.get("goodbye"))
		c.parkFor(agent, ct, fmt.Sprintf("回拨未接通（第%d次）", ct.CallbackTries+1),
			time.Now().Add(s.cfg.Callback.RetryEvery), true)
		return
	}
	defer cit.hangup()
	a.unbridge = media.Bridge(a.media(), cit.media())
	c.setState(stTalking)
	s.metrics.bridged.Inc()
	c.log.Info("callback: bridged")
wait:
	for {
		select {
		case id := <-c.agentGone:
			if id == cit.id {
				cit.gone.Store(true)
			}
			break wait
		case ev := <-c.events:
			// The desk ended it, or handed it on: this talk is over.
			if ev.Type == queue.EventEnded || ev.Type == queue.EventClosed || ev.Type == queue.EventTransferred {
				break wait
			}
		case <-c.ctx.Done():
			break wait
		}
	}
	a.unbridge()
	end()
	c.log.Info("callback: ended")
}

// play2 plays a clip to a leg that is not the call's caller leg.
func (c *call) play2(a *agentLeg, clip *media.Clip) {
	l := a.media()
	if l == nil || clip == nil {
		return
	}
	p := media.NewPlayer(clip)
	l.Play(p)
	select {
	case <-p.Done():
	case <-c.ctx.Done():
	case <-time.After(10 * time.Second):
	}
}

// trunkURI is the request-URI of a call to phone (E.164) through the
// outbound trunk: the number, at the trunk's host.
func (s *Server) trunkURI(phone string) (sip.Uri, error) {
	if s.cfg.Trunk.Proxy == "" {
		return sip.Uri{}, errors.New("sip.trunk.proxy is not set: citizens cannot be called")
	}
	host, port, err := net.SplitHostPort(s.cfg.Trunk.Proxy)
	if err != nil {
		return sip.Uri{}, err
	}
	n, _ := strconv.Atoi(port)
	return sip.Uri{Scheme: "sip", User: phone, Host: host, Port: n}, nil
}
