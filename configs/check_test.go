package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func checkLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"valid.yaml", nil},
		{"bad_skill.yaml", []string{`bad_skill.yaml:14: agents[1].skills: unknown queue "housng"`}},
		{"unknown_field.yaml", []string{`unknown_field.yaml:4: queue: unknown field "offer_timout"`}},
		{"syntax.yaml", []string{`syntax.yaml:4: could not find flow mapping end token '}'`}},
		{"type_error.yaml", []string{`type_error.yaml:4: queue.max_misses: "three" is not a whole number`}},
		{"two_docs.yaml", []string{`two_docs.yaml:4: more than one YAML document`}},
		{"bad_values.yaml", []string{
			`bad_values.yaml:3: redis.url: redis: invalid URL scheme: mysql`,
			`bad_values.yaml:5: queue.offer_timeout: must be > 0`,
			`bad_values.yaml:6: queue.max_misses: must be >= 1`,
			`bad_values.yaml:9: queues[1].name: duplicate queue name "general" (also queues[0])`,
			`bad_values.yaml:9: queues[1].priority: 12: must be 0–9`,
			`bad_values.yaml:24: agents[0].id: "12": must be 3–12 digits`,
			`bad_values.yaml:26: agents[0].password_hash: must be a bcrypt hash ($2a$10$…), never a plain password`,
			`bad_values.yaml:27: agents[0].skills: general: proficiency 7 must be 1–5`,
			`bad_values.yaml:28: agents[0].capacity: unknown channel "fax" (want one of voice sms wechat mailbox web 110-transfer)`,
			`bad_values.yaml:28: agents[0].capacity: web: 99 must be 0–50`,
			`bad_values.yaml:29: agents[1].id: "12": must be 3–12 digits`,
			`bad_values.yaml:29: agents[1].id: duplicate agent id "12" (also agents[0])`,
			`bad_values.yaml:30: agents[1].name: must be set`,
		}},
		{"bad_sip.yaml", []string{
			`bad_sip.yaml:25: agents[0].phone.ha1_md5: must be 32 hex digits (lianxin hash-password -phone USER), never a password`,
			`bad_sip.yaml:30: agents[1].phone.user: duplicate phone user "2001" (also agents[0])`,
			`bad_sip.yaml:30: agents[1].phone.ha1_sha256: must be 64 hex digits (lianxin hash-password -phone USER), never a password`,
			`bad_sip.yaml:3: sip.advertise_ip: "0.0.0.0": must be an IP address that peers can reach (not 0.0.0.0 or ::)`,
			`bad_sip.yaml:4: sip.rtp_ports: 20000–21000 gives 501 legs; sip.max_calls 2000 needs 4000 (caller and agent leg each): widen the range or lower max_calls`,
			`bad_sip.yaml:7: sip.trusted[1]: "192.168.1.7" is not a network in CIDR form (e.g. 10.1.2.0/24, 10.1.2.3/32)`,
			`bad_sip.yaml:8: sip.retry_after: 0s: must be whole seconds, at least 1s (it is sent in Retry-After)`,
			`bad_sip.yaml:9: sip.hold: no prompt "muzak": no muzak.wav among the embedded prompts`,
			`bad_sip.yaml:17: sip.menus.02800000000.prompt: no prompt "menu-02800000000": no menu-02800000000.wav among the embedded prompts`,
			`bad_sip.yaml:19: sip.menus.02800000000.options: 1: give exactly one of queue and answer`,
			`bad_sip.yaml:16: sip.menus.12345.options: "*": a key is one of 0–9 or # (* repeats the menu)`,
			`bad_sip.yaml:14: sip.menus.12345.options.5.queue: unknown queue "parking"`,
			`bad_sip.yaml:15: sip.menus.12345.options.9.answer: no prompt "answer-parking": no answer-parking.wav among the embedded prompts`,
			`bad_sip.yaml:17: sip.menus: "02800000000" is not a line of configs/hotlines.csv`,
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var want []string
			for _, w := range tc.want {
				want = append(want, testdata+w)
			}
			require.Equal(t, want, checkLines(Check(testdata+tc.file)))
		})
	}
}

// A queue list replaces the defaults; the queues the default agents still
// use are reported at their first use, and those the embedded directory
// still routes to in one error at the queues list, naming them all — never
// by paths into embedded files that are not on disk (issue 7, item 11).
func TestCheckDroppedQueues(t *testing.T) {
	lines := checkLines(Check(testdata + "dropped_queues.yaml"))
	require.Contains(t, lines, testdata+`dropped_queues.yaml:1: agents[1].skills: unknown queue "consumer" (not in this file: from the defaults)`)
	require.Contains(t, lines, testdata+`dropped_queues.yaml:3: queues: the list replaces the default queues as a whole, `+
		`but the built-in directory (hotlines and mailboxes embedded in the binary) still routes lines to agriculture, `+
		`consumer, education, environment, health, housing, labour, public_security, social, transport, urban, `+
		`water_power: add them to the list, or give directory.hotlines and directory.mailboxes files of your own`)
	for _, l := range lines {
		require.NotContains(t, l, "configs/", "no path into the embedded files")
	}
}

// Every wrong type is reported, each at its own line, not only the first;
// a quoted number is not a number, and a bad duration is placed on its line.
func TestCheckEveryTypeError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "types.yaml")
	require.NoError(t, os.WriteFile(path, []byte("http:\n  drain_timeout: 10\nqueue:\n  heartbeat: 1s\n"+
		"  offer_timeout: 20x\n  max_misses: \"3\"\n  sweep: 250ms\nmailbox:\n  max_attachments: many\n"), 0o600))
	require.Equal(t, []string{
		path + `:2: http.drain_timeout: "10" is not a duration such as 20s, 250ms or 12h`,
		path + `:5: queue.offer_timeout: "20x" is not a duration such as 20s, 250ms or 12h`,
		path + `:6: queue.max_misses: "3" is not a whole number`,
		path + `:9: mailbox.max_attachments: "many" is not a whole number`,
	}, checkLines(Check(path)))
	_, err := Load(path, nil)
	require.ErrorIs(t, err, ErrSyntax)
}

func TestCheckDirectoryFiles(t *testing.T) {
	dir := t.TempDir()
	abs := func(name string) string {
		p, err := filepath.Abs(testdata + name)
		require.NoError(t, err)
		return p
	}
	for _, tc := range []struct {
		name, hotlines string
		want           []string
	}{
		{"missing", filepath.Join(dir, "none.csv"), []string{
			"c.yaml:3: directory.hotlines: open " + filepath.Join(dir, "none.csv") + ": no such file or directory"}},
		{"duplicate", abs("hotlines_dup.csv"), []string{
			abs("hotlines_dup.csv") + `:4:1: number: duplicate "12315" (first on line 3)`}},
		{"header", abs("hotlines_bad_header.csv"), []string{
			abs("hotlines_bad_header.csv") + `:1:1: header is "number,name,queue,topic,priority", want "number,name,topic,queue,priority"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "c.yaml")
			require.NoError(t, os.WriteFile(path, []byte("# directory files\ndirectory:\n  hotlines: "+tc.hotlines+"\n"), 0o644))
			var want []string
			for _, w := range tc.want {
				want = append(want, strings.Replace(w, "c.yaml", path, 1))
			}
			require.Equal(t, want, checkLines(Check(path)))
		})
	}
}

func TestCheckMissingFile(t *testing.T) {
	require.ErrorIs(t, Check(testdata+"nope.yaml"), os.ErrNotExist)
}

// The SMS senders' fields are named with their lines, all at once.
func TestCheckSMSSenders(t *testing.T) {
	lines := checkLines(Check(testdata + "bad_sms.yaml"))
	for _, want := range []string{
		`bad_sms.yaml:14: sms.smpp.dedupe_window: must not be negative`,
		`bad_sms.yaml:7: sms.aliyun.send.endpoint: "ftp://dysmsapi.aliyuncs.com" is not an http(s) URL`,
		`bad_sms.yaml:11: sms.aliyun.send.ack.params[0].name: Aliyun templates fill variables by name: the name is required`,
		`bad_sms.yaml:12: sms.aliyun.send.reply.params[0].value: "txt" is not one of tracking_no, text`,
	} {
		require.Contains(t, lines, testdata+want)
	}
}
