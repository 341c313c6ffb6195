package sip

import (
	"context"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/stretchr/testify/require"
)

// register sends one REGISTER for user with an Authorization header (or
// none) and returns the response.
func registerOnce(t *testing.T, u *ua, e *env, user, auth string) *sip.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(e.s.Addr().Port())})
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1"}, Params: sip.NewParams()})
	req.AppendHeader(&sip.ContactHeader{Address: u.dlg.ContactHDR.Address})
	req.AppendHeader(sip.NewHeader("Expires", "300"))
	if auth != "" {
		req.AppendHeader(sip.NewHeader("Authorization", auth))
	}
	res, err := u.cli.Do(ctx, req)
	require.NoError(t, err)
	return res
}

// TestRegisterNonces: a flood of REGISTERs without credentials stores
// nothing in Redis (nonces are signed, not stored); a nonce is good once;
// a forged one is refused.
func TestRegisterNonces(t *testing.T) {
	e := newEnv(t)
	u := newUA(t, "1001")
	first := registerOnce(t, u, e, "1001", "")
	require.Equal(t, 401, first.StatusCode)
	before := stateKeys(t, e)
	for i := 0; i < 200; i++ {
		require.Equal(t, 401, registerOnce(t, u, e, "9999", "").StatusCode)
	}
	require.Equal(t, before, stateKeys(t, e), "no key written for unauthenticated REGISTERs")

	chal, err := digest.ParseChallenge(first.GetHeader("WWW-Authenticate").Value())
	require.NoError(t, err)
	gw := sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(e.s.Addr().Port())}
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: gw.String(), Username: "1001",
		Password: "demo", Count: 1})
	require.NoError(t, err)
	require.Equal(t, 200, registerOnce(t, u, e, "1001", cred.String()).StatusCode)
	replay := registerOnce(t, u, e, "1001", cred.String())
	require.Equal(t, 401, replay.StatusCode, "a spent nonce is challenged again")
	require.Contains(t, replay.GetHeader("WWW-Authenticate").Value(), "stale=true")

	forged := *chal
	forged.Nonce = "00000000000000000000000000000000.00000000000000000000000000000000"
	cred, err = digest.Digest(&forged, digest.Options{Method: "REGISTER", URI: gw.String(), Username: "1001",
		Password: "demo", Count: 1})
	require.NoError(t, err)
	require.Equal(t, 401, registerOnce(t, u, e, "1001", cred.String()).StatusCode, "a nonce we did not sign")
}
