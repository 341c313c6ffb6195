package agentdesk

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/agentdesk/desktest"
	"github.com/lianxin/lianxin/queue"
	"github.com/stretchr/testify/require"
)

// attSHA is the hash of the attachment of the letter in
// TestLoginRunsOutAfterTheWork.
var attSHA = strings.Repeat("5e", 32)

// apiStatus is the status fetching the attachment of contact tn answers
// for token tok.
func apiStatus(t *testing.T, e *deskEnv, tok, tn string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.base+"/api/attachments/"+attSHA+"?contact="+tn, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// logout posts /api/logout with tok and requires its 204.
func logout(t *testing.T, e *deskEnv, tok string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.base+"/api/logout", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
}

// closedWith waits for the desk to be closed and returns its close code.
func closedWith(t *testing.T, c *desktest.Client) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.Next(ctx, "never")
	require.ErrorIs(t, err, desktest.ErrClosed)
	return c.CloseCode()
}

// A login that runs out while the agent holds a contact lasts until the
// agent is done with it: the agent takes no new work meanwhile (not ready,
// login_expired, whatever reason it had; ready and not_ready refused), the
// token keeps working past its time, and the agent is logged out (4002)
// once the contact is wrapped up. An idle agent is logged out when its
// login runs out.
func TestLoginRunsOutAfterTheWork(t *testing.T) {
	// The login starts running out 200 ms before its end (two 100-ms
	// checks): the agent must hold the letter by then, on a busy machine
	// under the race detector too.
	const ttl = 6 * time.Second
	e := startDesk(t, func(p *Params) { p.TokenTTL = ttl; p.PingEvery = 100 * time.Millisecond })
	start := time.Now()
	tok := e.login(t, "1001")
	c := e.dial(t, tok)
	require.Equal(t, "ack", reply(t, c, "ready", nil).Type)
	tn := e.letter(t, "12345", "热线", queue.Attachment{Name: "a.jpg", Type: "image/jpeg", Size: 64, SHA256: attSHA})
	require.Equal(t, tn, next(t, c, "offer").TrackingNo())
	require.Equal(t, "ack", reply(t, c, "accept", map[string]any{"contact": tn}).Type)
	// A meal break asked for: the login's end says why instead.
	require.Equal(t, "ack", reply(t, c, "not_ready", map[string]any{"reason": "meal"}).Type)

	idleTok := e.login(t, "1002")
	idle := e.dial(t, idleTok)
	require.Equal(t, "ack", reply(t, idle, "ready", nil).Type)

	// Near its end, the busy agent's login takes no new work.
	for st := next(t, c, "state"); st.Reason != ReasonLoginExpired; st = next(t, c, "state") {
	}
	require.Equal(t, queue.AgentBusy, status(t, e, "1001").State)
	requireError(t, reply(t, c, "ready", nil), "login_expired", "log in again")
	requireError(t, reply(t, c, "not_ready", map[string]any{"reason": "meal"}), "login_expired", "log in again")
	require.Equal(t, ReasonLoginExpired, status(t, e, "1001").Reason)
	require.Equal(t, CloseLoggedOut, closedWith(t, idle))
	require.Equal(t, http.StatusUnauthorized, apiStatus(t, e, idleTok, tn))
	require.Equal(t, queue.AgentLoggedOut, status(t, e, "1002").State)

	// Well past the token's time, the desk and the token still work.
	time.Sleep(time.Until(start.Add(ttl + time.Second)))
	until(t, c)
	require.Equal(t, http.StatusOK, apiStatus(t, e, tok, tn))
	require.Equal(t, queue.AgentBusy, status(t, e, "1001").State)

	// The contact wrapped up, the login ends.
	require.Equal(t, "ack", reply(t, c, "wrapup", map[string]any{"contact": tn, "request_type": "report",
		"outcome": "resolved"}).Type)
	require.Equal(t, CloseLoggedOut, closedWith(t, c))
	require.Equal(t, http.StatusUnauthorized, apiStatus(t, e, tok, tn))
	require.Equal(t, queue.AgentLoggedOut, status(t, e, "1001").State)
	ct, err := e.q.Contact(context.Background(), tn)
	require.NoError(t, err)
	require.Equal(t, queue.StateClosed, ct.State)
}

// A supervisor's wallboard lasts as long as the login: logged out (here,
// from the desk's page, which revokes the token), it is closed with 4002,
// and a supervisor's action sent before the next look is refused by the
// close, not done. So is the action of a supervisor's desk whose login
// ended on another node (its token revoked there).
func TestSupervisorPowersEndWithTheLogin(t *testing.T) {
	for _, c := range []struct {
		name      string
		ping      time.Duration
		act, desk bool
	}{
		{"wallboard looked at", 100 * time.Millisecond, false, false},
		{"wallboard acting", time.Hour, true, false}, // no look before the action
		{"desk acting", time.Hour, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := startDesk(t, func(p *Params) { p.PingEvery = c.ping })
			agent := e.seat(t, "1001")
			tok := e.login(t, "1005")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var sup *desktest.Client
			if c.desk {
				sup = e.dial(t, tok)
				require.NoError(t, e.s.tokens.revoke(ctx, tok)) // a logout on another node
			} else {
				w, _, err := desktest.DialWallboard(ctx, e.base, tok)
				require.NoError(t, err)
				t.Cleanup(func() { _ = w.Close() })
				next(t, w, "hello")
				sup = w
				logout(t, e, tok)
			}
			if c.act {
				_, err := sup.Send("force_logout", map[string]any{"agent": "1001"})
				require.NoError(t, err)
			}
			require.Equal(t, CloseLoggedOut, closedWith(t, sup))
			require.Equal(t, queue.AgentReady, status(t, e, "1001").State, "the agent was logged out")
			until(t, agent) // the agent's desk is still open
		})
	}
}

// renew sends renew with tok and returns the renewed or error answering it.
func renew(t *testing.T, c *desktest.Client, tok string) desktest.Message {
	t.Helper()
	ref, err := c.Send("renew", map[string]any{"token": tok})
	require.NoError(t, err)
	for {
		if m := next(t, c, "renewed", "error"); m.Ref == ref {
			return m
		}
	}
}

// A login renewed as it runs out (the page logged in again with the
// agent's password and handed the desk the new token) goes on without
// leaving the desk: the agent gets back the presence the wind-down took,
// may change it again, and keeps its desk and its work past the old
// token's time, with the new token working for the API; the desk now
// watches the new login, which in its turn runs out. A token that is not a
// login of the agent renews nothing.
func TestRenewedLoginGoesOn(t *testing.T) {
	const ttl = 6 * time.Second
	e := startDesk(t, func(p *Params) { p.TokenTTL = ttl; p.PingEvery = 100 * time.Millisecond })
	start := time.Now()
	tok := e.login(t, "1001")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := desktest.Dial(ctx, e.base, tok)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	var hello helloMsg
	require.NoError(t, json.Unmarshal(next(t, c, "hello").Raw, &hello))
	require.NotNil(t, hello.LoginExpiresAt, "hello says when the login runs out")
	left := hello.LoginExpiresAt.Sub(hello.ServerTime)
	require.True(t, left > 0 && left <= ttl, "the login runs out in %s", left)
	require.Equal(t, 900, hello.RenewWarning, "the page offers to renew 15 minutes before (the default)")

	require.Equal(t, "ack", reply(t, c, "ready", nil).Type)
	tn := e.letter(t, "12345", "热线", queue.Attachment{Name: "a.jpg", Type: "image/jpeg", Size: 64, SHA256: attSHA})
	require.Equal(t, tn, next(t, c, "offer").TrackingNo())
	require.Equal(t, "ack", reply(t, c, "accept", map[string]any{"contact": tn}).Type)
	for st := next(t, c, "state"); st.Reason != ReasonLoginExpired; st = next(t, c, "state") {
	}

	requireError(t, renew(t, c, e.login(t, "1002")), "bad_token", "another agent's")
	requireError(t, renew(t, c, "not-a-token"), "bad_token", "unknown")
	requireError(t, renew(t, c, ""), "bad_message", "token")
	require.Equal(t, ReasonLoginExpired, status(t, e, "1001").Reason)

	newTok := e.login(t, "1001")
	m := renew(t, c, newTok)
	renewedAt := time.Now()
	require.Equal(t, "renewed", m.Type, string(m.Raw))
	var renewed renewedMsg
	require.NoError(t, json.Unmarshal(m.Raw, &renewed))
	require.True(t, renewed.LoginExpiresAt.After(*hello.LoginExpiresAt), "renewed until %s", renewed.LoginExpiresAt)
	st := status(t, e, "1001")
	require.Equal(t, queue.PresenceReady, st.Presence, "the presence before the wind-down is back")
	require.Equal(t, queue.AgentBusy, st.State)
	require.Equal(t, "ack", reply(t, c, "not_ready", map[string]any{"reason": "meal"}).Type)
	require.Equal(t, "ack", reply(t, c, "ready", nil).Type)

	// Past the old token's time (kept alive three checks at a time while
	// the desk watched it, not after), the desk, its work and the new
	// token go on.
	time.Sleep(time.Until(start.Add(ttl + 500*time.Millisecond)))
	time.Sleep(time.Until(renewedAt.Add(800 * time.Millisecond)))
	until(t, c)
	require.Equal(t, http.StatusUnauthorized, apiStatus(t, e, tok, tn))
	require.Equal(t, http.StatusOK, apiStatus(t, e, newTok, tn))
	require.Equal(t, "ack", reply(t, c, "wrapup", map[string]any{"contact": tn, "request_type": "report",
		"outcome": "resolved"}).Type)
	require.Equal(t, queue.AgentReady, status(t, e, "1001").State)

	// The renewed login runs out in its turn: the idle agent is logged out.
	require.Equal(t, CloseLoggedOut, closedWith(t, c))
	require.Equal(t, http.StatusUnauthorized, apiStatus(t, e, newTok, tn))
	require.Equal(t, queue.AgentLoggedOut, status(t, e, "1001").State)
}

// A logout with the token a renewed desk has left ends that login only
// (the page still on it), not the desk, as a logout on another node would;
// a logout with the desk's new token logs the agent out.
func TestLogoutOfTheOldLoginLeavesTheRenewedDesk(t *testing.T) {
	e := startDesk(t, func(p *Params) { p.PingEvery = 100 * time.Millisecond })
	old := e.login(t, "1001")
	c := e.dial(t, old)
	require.Equal(t, "ack", reply(t, c, "ready", nil).Type)
	newTok := e.login(t, "1001")
	require.Equal(t, "renewed", renew(t, c, newTok).Type)
	logout(t, e, old)
	tn := e.letter(t, "12345", "热线", queue.Attachment{Name: "a.jpg", Type: "image/jpeg", Size: 64, SHA256: attSHA})
	require.Equal(t, tn, next(t, c, "offer").TrackingNo(), "the desk still works")
	require.Equal(t, "ack", reply(t, c, "accept", map[string]any{"contact": tn}).Type)
	require.Equal(t, queue.AgentBusy, status(t, e, "1001").State)
	require.Equal(t, http.StatusUnauthorized, apiStatus(t, e, old, tn), "the old login is ended")
	require.Equal(t, http.StatusOK, apiStatus(t, e, newTok, tn))

	logout(t, e, newTok)
	require.Equal(t, CloseLoggedOut, closedWith(t, c))
	require.Equal(t, http.StatusUnauthorized, apiStatus(t, e, newTok, tn))
	require.Equal(t, queue.AgentLoggedOut, status(t, e, "1001").State)
}

// The supervisor's wallboard goes on with a renewed login (the desk's page
// hands it the new token): with the old token gone, its supervisor's
// actions are still done; it then lasts as long as the new login. A token
// that is not a login of the supervisor changes nothing.
func TestWallboardTakesTheRenewedLogin(t *testing.T) {
	e := startDesk(t, func(p *Params) { p.PingEvery = time.Hour }) // looks before actions only
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old := e.login(t, "1005")
	w, _, err := desktest.DialWallboard(ctx, e.base, old)
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	next(t, w, "hello")
	requireError(t, renew(t, w, e.login(t, "1001")), "bad_token", "another agent's")

	newTok := e.login(t, "1005")
	m := renew(t, w, newTok)
	require.Equal(t, "renewed", m.Type, string(m.Raw))
	require.NoError(t, e.s.tokens.revoke(ctx, old)) // the old login runs out
	// An action looks at the login first: done (here refused for what it
	// names), not closed for want of a login.
	requireError(t, reply(t, w, "alert_ack", map[string]any{"id": "1764547200000-0"}), "not_found", "alert")

	require.NoError(t, e.s.tokens.revoke(ctx, newTok))
	_, err = w.Send("alert_ack", map[string]any{"id": "1764547200000-0"})
	require.NoError(t, err)
	require.Equal(t, CloseLoggedOut, closedWith(t, w))
}
