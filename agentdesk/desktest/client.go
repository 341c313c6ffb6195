// Package desktest is a desk client for tests and load tools: it logs in
// over HTTP and speaks the desk protocol (PROTOCOL.md) over a real websocket.
package desktest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Login returns a token for agent from the server at base (http://host:port).
// A node busy hashing other logins (503 login_busy) is asked again after its
// Retry-After, until ctx ends.
func Login(ctx context.Context, base, agent, password string) (string, error) {
	for {
		tok, retry, err := login(ctx, base, agent, password)
		if retry == 0 {
			return tok, err
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(retry):
		}
	}
}

func login(ctx context.Context, base, agent, password string) (string, time.Duration, error) {
	body, _ := json.Marshal(map[string]string{"agent": agent, "password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/login", bytes.NewReader(body))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusServiceUnavailable {
		retry := time.Second
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
			retry = time.Duration(n) * time.Second
		}
		return "", retry, fmt.Errorf("login %s: status 503", agent)
	}
	tok, err := loginAnswer(resp, agent)
	return tok, 0, err
}

func loginAnswer(resp *http.Response, agent string) (string, error) {
	var out struct {
		Token   string `json:"token"`
		Message string `json:"message"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("login %s: status %d: %w", agent, resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("login %s: status %d: %s", agent, resp.StatusCode, out.Message)
	}
	return out.Token, nil
}

// Message is any message from the server, decoded loosely.
type Message struct {
	Type string `json:"type"`
	Ref  string `json:"ref"`
	For  string `json:"for"`
	Code string `json:"code"`
	// Message is an error's message; for a "message" push the message
	// object is in Body.
	Message   string          `json:"-"`
	Body      json.RawMessage `json:"message"`
	State     string          `json:"state"`
	Presence  string          `json:"presence"`
	Reason    string          `json:"reason"`
	ExpiresAt time.Time       `json:"expires_at"`
	Node      string          `json:"node"`
	Outcome   string          `json:"outcome"`
	Raw       json.RawMessage `json:"-"`
	// Contact is the tracking number for rescinded and closed, and the
	// contact object for offer and assigned.
	Contact json.RawMessage `json:"contact"`
	// Received is when the client read the message.
	Received time.Time `json:"-"`
}

// ContactObject is the contact of an offer or assigned message.
type ContactObject struct {
	TrackingNo string `json:"tracking_no"`
	Channel    string `json:"channel"`
	Line       string `json:"line"`
	Subject    string `json:"subject"`
	Text       string `json:"text"`
	State      string `json:"state"`
	Agent      string `json:"agent"`
	Offers     int    `json:"offers"`
	Citizen    struct {
		Address string `json:"address"`
		Phone   string `json:"phone"`
	} `json:"citizen"`
	// Node holds a call's audio; Callback marks a call to return.
	Node     string `json:"node"`
	Callback bool   `json:"callback"`
	History  []struct {
		TrackingNo string `json:"tracking_no"`
	} `json:"history"`
	// SenderAuth is an e-mail letter's sender check, nil for others.
	SenderAuth *struct {
		SPF           struct{ Result, Domain string } `json:"spf"`
		DKIM          struct{ Result, Domain string } `json:"dkim"`
		DMARC         struct{ Result, Domain string } `json:"dmarc"`
		Authenticated bool                            `json:"authenticated"`
		Note          string                          `json:"note"`
	} `json:"sender_auth"`
	Queue      string `json:"queue"`
	QueueTitle string `json:"queue_title"`
	Priority   int    `json:"priority"`
	// Via is "email" or "web" for letters.
	Via string `json:"via"`
	// Emergency is triage's kind; EmergencyAdvice what the citizen was told,
	// SuggestedOutcome the outcome the desk suggests.
	Emergency        string `json:"emergency"`
	EmergencyAdvice  string `json:"emergency_advice"`
	SuggestedOutcome string `json:"suggested_outcome"`
	// CanReply shows the reply box; ReplyNote says why not.
	CanReply  bool   `json:"can_reply"`
	ReplyNote string `json:"reply_note"`
}

// TrackingNo is the contact a message is about.
func (m Message) TrackingNo() string {
	var s string
	if json.Unmarshal(m.Contact, &s) == nil {
		return s
	}
	var c struct {
		TrackingNo string `json:"tracking_no"`
	}
	_ = json.Unmarshal(m.Contact, &c) // the one field: the rest is skipped, not decoded
	return c.TrackingNo
}

// Object decodes the contact object of an offer or assigned message.
func (m Message) Object() ContactObject {
	var c ContactObject
	_ = json.Unmarshal(m.Contact, &c)
	return c
}

// Client is one desk.
type Client struct {
	conn *websocket.Conn
	// in holds pointers: a buffer of 1,024 whole messages per desk is what
	// the garbage collector scanned most in a load of a thousand desks.
	in chan *Message
	// Closed receives the close error once the socket ends.
	closed chan error
	wmu    sync.Mutex
	ref    int
	// backlog holds messages Next skipped, for a later Next that wants them.
	backlog []Message
	pings   atomic.Int64
}

// Pings is how many websocket pings the server has sent so far.
func (c *Client) Pings() int64 { return c.pings.Load() }

// Dial opens the desk websocket at base with token, sent in the
// Authorization header.
func Dial(ctx context.Context, base, token string) (*Client, *http.Response, error) {
	return DialHeader(ctx, base, http.Header{"Authorization": {"Bearer " + token}})
}

// DialHeader opens the desk websocket at base with the request headers h
// (the token, an Origin, a Sec-WebSocket-Protocol as a browser sends).
func DialHeader(ctx context.Context, base string, h http.Header) (*Client, *http.Response, error) {
	return dialPath(ctx, base, "/desk/ws", h)
}

// DialWallboard opens a supervisor's wallboard websocket (/wallboard/ws)
// at base with token in the Authorization header.
func DialWallboard(ctx context.Context, base, token string) (*Client, *http.Response, error) {
	return dialPath(ctx, base, "/wallboard/ws", http.Header{"Authorization": {"Bearer " + token}})
}

func dialPath(ctx context.Context, base, path string, h http.Header) (*Client, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(base, "http") + path
	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, u, h)
	if err != nil {
		return nil, resp, err
	}
	c := &Client{conn: conn, in: make(chan *Message, 1024), closed: make(chan error, 1)}
	conn.SetPingHandler(func(data string) error {
		c.pings.Add(1)
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(10*time.Second))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	go c.read()
	return c, resp, nil
}

func (c *Client) read() {
	defer close(c.in)
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			c.closed <- err
			return
		}
		var m Message
		if err := json.Unmarshal(data, &m); err != nil {
			c.closed <- err
			return
		}
		if len(m.Body) > 0 {
			_ = json.Unmarshal(m.Body, &m.Message) // a string for errors, an object for pushes
		}
		m.Raw, m.Received = data, time.Now()
		c.in <- &m
	}
}

// Send sends a message of type typ with fields; it returns the ref used.
func (c *Client) Send(typ string, fields map[string]any) (string, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ref++
	ref := fmt.Sprintf("r%d", c.ref)
	m := map[string]any{"type": typ, "ref": ref}
	for k, v := range fields {
		m[k] = v
	}
	return ref, c.conn.WriteJSON(m)
}

// SendRaw writes bytes as one text message.
func (c *Client) SendRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.conn.WriteMessage(websocket.TextMessage, b)
}

// ErrClosed is returned by Next when the socket closed; CloseCode tells why.
var ErrClosed = errors.New("desk closed")

// Next returns the oldest message of one of types (any type when none) and
// keeps the others it reads for later calls, or fails when ctx ends or the
// socket closes. Next is not safe for concurrent use.
func (c *Client) Next(ctx context.Context, types ...string) (Message, error) {
	match := func(m Message) bool {
		if len(types) == 0 {
			return true
		}
		for _, t := range types {
			if m.Type == t {
				return true
			}
		}
		return false
	}
	for i, m := range c.backlog {
		if match(m) {
			c.backlog = append(c.backlog[:i], c.backlog[i+1:]...)
			return m, nil
		}
	}
	for {
		select {
		case <-ctx.Done():
			return Message{}, ctx.Err()
		case p, ok := <-c.in:
			if !ok {
				return Message{}, fmt.Errorf("%w: %v", ErrClosed, c.closeErr())
			}
			if m := *p; match(m) {
				return m, nil
			}
			c.backlog = append(c.backlog, *p)
		}
	}
}

// Drop forgets the messages kept by Next.
func (c *Client) Drop() {
	clear(c.backlog)
	c.backlog = c.backlog[:0]
}

func (c *Client) closeErr() error {
	select {
	case err := <-c.closed:
		c.closed <- err
		return err
	default:
		return nil
	}
}

// CloseCode is the websocket close code the server sent, once closed (0 if none).
func (c *Client) CloseCode() int {
	var ce *websocket.CloseError
	if errors.As(c.closeErr(), &ce) {
		return ce.Code
	}
	return 0
}

// Close closes the socket.
func (c *Client) Close() error { return c.conn.Close() }
