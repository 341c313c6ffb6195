package email

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestOptionsDefaults(t *testing.T) {
	o := Options{}.WithDefaults()
	require.NoError(t, o.Validate())
	require.Equal(t, ":2525", o.Addr)
	require.Equal(t, 5*time.Minute, o.ReadTimeout)
	require.Equal(t, int64(32<<20), o.MaxMessageBytes)
	require.Equal(t, 10, o.MaxRecipients)
	require.Equal(t, 2000, o.MaxLineLength)
	require.Empty(t, o.Relay.Addr, "no relay unless configured")
	require.Equal(t, 10*time.Second, o.DNSTimeout)
	require.Equal(t, 5*time.Minute, o.DNSCache)
	require.Empty(t, o.TLS.CertFile, "a self-signed pair unless configured")
	require.Empty(t, o.DKIM.Domain, "no signing unless a key is configured")
	o = Options{DKIM: DKIMSigning{Selector: "s", KeyFile: "k.pem"}}.WithDefaults()
	require.Equal(t, "mail.12345.chengdu.gov.cn", o.DKIM.Domain, "signs as relay.from's domain")
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Options)
		want string
	}{
		{func(o *Options) { o.Addr = "2525" }, "smtp.addr: not host:port"},
		{func(o *Options) { o.ReadTimeout = -time.Second }, "smtp.read_timeout: must be positive"},
		{func(o *Options) { o.MaxMessageBytes = -1 }, "smtp.max_message_bytes: must be positive"},
		{func(o *Options) { o.MaxLineLength = 100 }, "smtp.max_line_length: must be at least 1000"},
		{func(o *Options) { o.MaxAttachmentBytes = 64 << 20 }, "smtp.max_attachment_bytes: larger than max_message_bytes"},
		{func(o *Options) { o.Relay.Addr = "relay" }, "smtp.relay.addr: not host:port"},
		{func(o *Options) { o.Relay.From = "12345 <a@b.cn>" }, "smtp.relay.from: not a bare e-mail address"},
		{func(o *Options) { o.Relay.Username = "u" }, "smtp.relay.username: AUTH without starttls"},
		{func(o *Options) { o.Relay.Password = "p" }, "smtp.relay.password: set without relay.username"},
		{func(o *Options) { o.TLS.CertFile = "cert.pem" }, "smtp.tls: set both cert_file and key_file"},
		{func(o *Options) { o.DNSTimeout = -1 }, "smtp.dns_timeout: must be positive"},
		{func(o *Options) { o.DNSCache = -1 }, "smtp.dns_cache: must be positive"},
		{func(o *Options) { o.DKIM.KeyFile = "dkim.pem" }, "smtp.dkim.selector: required with a key"},
		{func(o *Options) { o.DKIM = DKIMSigning{KeyFile: "k", Selector: "s", Domain: "a b"} }, "smtp.dkim.domain: not a domain"},
	} {
		o := Options{}.WithDefaults()
		tc.edit(&o)
		require.ErrorContains(t, o.Validate(), tc.want)
	}
	_, err := New(Params{})
	require.ErrorIs(t, err, errMissingParams)
}
