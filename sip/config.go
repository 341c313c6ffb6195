package sip

import "time"

// Config is the voice front end's configuration, the `sip:` section of the
// YAML. Defaults are written in each field's comment (and in
// configs/default.yaml); configs validates it.
type Config struct {
	// Addr is where SIP is taken, on UDP and TCP. Default ":5060".
	// Env: LIANXIN_SIP_ADDR.
	Addr string `yaml:"addr"`
	// AdvertiseIP is the address written into SDP and Contact headers, where
	// trunks and phones send media and requests. Default "": the IP of Addr
	// when it names one, else the first non-loopback address of the host.
	AdvertiseIP string `yaml:"advertise_ip"`
	// RTPPorts is the UDP port range for media, one even port per leg.
	// Default 20000–29999.
	RTPPorts PortRange `yaml:"rtp_ports"`
	// Trusted lists the networks (CIDR) allowed to send calls: the SIP
	// trunks and front proxies. Others get 403 and leave no state.
	// Default: loopback only (127.0.0.0/8, ::1/128).
	Trusted []string `yaml:"trusted"`
	// MaxCalls is how many calls this node holds at once; beyond it new
	// calls get 503 with Retry-After, so a front proxy tries another node.
	// Default 2000.
	MaxCalls int `yaml:"max_calls"`
	// TCP bounds the connections the TCP listener holds (tcplimit.go).
	TCP TCP `yaml:"tcp"`
	// RetryAfter is the Retry-After of a 503. Default 30s.
	RetryAfter time.Duration `yaml:"retry_after"`
	// Ring is how long a caller hears ringing before the gateway answers
	// (a caller may still hang up then: CANCEL). Default 1s.
	Ring time.Duration `yaml:"ring"`
	// RingTimeout is how long an agent's phone rings before the call goes
	// back to its place in the queue (a missed offer). Default 20s.
	RingTimeout time.Duration `yaml:"ring_timeout"`
	// RingTimeoutBrowser is how long an agent's browser phone rings instead
	// (the offer's deadline is moved to it: queue.SetOfferDeadline). The
	// agent is at the page already, so it may well be shorter. 0: ring_timeout.
	RingTimeoutBrowser time.Duration `yaml:"ring_timeout_browser"`
	// MediaTimeout ends a call whose caller sends no RTP for this long.
	// Default 15s.
	MediaTimeout time.Duration `yaml:"media_timeout"`
	// Realm of the digest challenge to agents' phones. Default "lianxin".
	// Phones' HA1 hashes (agents[].phone) are computed with it.
	Realm string `yaml:"realm"`
	// Register bounds the expiry agents' phones ask for. Default 60s–3600s.
	Register RegisterLimits `yaml:"register"`
	// Prompts is a folder of WAV files (8 kHz mono: 16-bit PCM, µ-law or
	// A-law) that replace the embedded prompts of the same name
	// (configs/prompts). Default "": the embedded prompts only.
	Prompts string `yaml:"prompts"`
	// Hold is the prompt looped to callers while they wait. Default "hold".
	Hold string `yaml:"hold"`
	// Announce sets the position and expected-wait announcements.
	Announce Announce `yaml:"announce"`
	// Menus are the DTMF menus of the lines that have one, by the line's
	// number (configs/hotlines.csv). A line without a menu goes straight to
	// its queue after its welcome prompt.
	Menus map[string]Menu `yaml:"menus"`
	// WebRTC sets up the browser softphone (agents who choose the browser as their phone).
	WebRTC WebRTC `yaml:"webrtc"`
	// BrowserReconnect is how long a call on the browser phone waits for a desk that went (or a new media session
	// the desk brought back) before the call goes back to its queue at its old place. Default 10s.
	BrowserReconnect time.Duration `yaml:"browser_reconnect"`
	// BrowserMediaGrace is how long a call on the browser phone waits, once its media session is disconnected or
	// failed, for the desk's ICE restart to bring it back before the call goes back to its queue at its old place
	// (reason media_lost). Default 5s.
	BrowserMediaGrace time.Duration `yaml:"browser_media_grace"`
	// Trunk is the outbound trunk (transfers to emergency lines, callbacks).
	Trunk Trunk `yaml:"trunk"`
	// Transfer sets transfers from the desk and the emergency lines' targets.
	Transfer Transfer `yaml:"transfer"`
	// Callback sets the callback offered to waiting callers.
	Callback Callback `yaml:"callback"`
	// Rating asks the caller to rate the call (回访评价) after the agent
	// hangs up (ivrconfig.go).
	Rating Rating `yaml:"rating"`
	// Recording sets which lines record their calls (ivrconfig.go).
	Recording Recording `yaml:"recording"`
	// HotTopics sets the supervisors' hot-topic answers (ivrconfig.go).
	HotTopics HotTopics `yaml:"hot_topics"`
}

// WebRTC is the browser softphone's media: G.711 over WebRTC (sip/rtc).
type WebRTC struct {
	// Disabled turns the browser phone off: desks can only use SIP phones. Default false (on).
	Disabled bool `yaml:"disabled"`
	// Codec is "pcmu" (default) or "pcma": the one codec of every browser session.
	Codec string `yaml:"codec"`
	// Loopback offers 127.0.0.1 candidates too (a desk on the gateway's own host; tests). Default false.
	Loopback bool `yaml:"loopback"`
	// PublicIPs replace the host candidates' addresses (a gateway behind 1:1 NAT). Default none.
	PublicIPs []string `yaml:"public_ips"`
	// Ports bound the UDP ports of ICE. Default 0–0: any.
	Ports PortRange `yaml:"ports"`
}

// PortRange is an inclusive range of UDP ports.
type PortRange struct {
	Min int `yaml:"min"`
	Max int `yaml:"max"`
}

// RegisterLimits bound a phone's registration expiry (seconds asked for in
// Expires); outside them the phone is given the nearest bound (or 423 below
// the minimum, as RFC 3261 says).
type RegisterLimits struct {
	MinExpires time.Duration `yaml:"min_expires"`
	MaxExpires time.Duration `yaml:"max_expires"`
}

// Announce sets the announcements to waiting callers.
type Announce struct {
	// First is how long a caller waits before the first announcement of
	// position and expected wait. Default 15s.
	First time.Duration `yaml:"first"`
	// Every is the interval between announcements. Default 30s.
	Every time.Duration `yaml:"every"`
	// MaxPosition: beyond it the caller hears "more than N" instead of the
	// exact position. Default 99.
	MaxPosition int `yaml:"max_position"`
}

// Menu is a line's DTMF menu: its prompt lists the options; a digit picks
// a queue or plays a recorded answer to a hot topic and comes back to the
// menu; * repeats the menu; no input within Timeout (Retries times) goes
// to the line's own queue.
type Menu struct {
	// Prompt names the menu prompt. Default "menu-<number>".
	Prompt string `yaml:"prompt"`
	// Timeout is how long to wait for a key after the prompt. Default 5s.
	Timeout time.Duration `yaml:"timeout"`
	// Retries is how often the menu is repeated when no key is pressed
	// before the caller goes to the line's queue. Default 1.
	Retries int `yaml:"retries"`
	// Options by digit ("0"–"9", "#").
	Options map[string]MenuOption `yaml:"options"`
}

// MenuOption is what one key of a menu does: exactly one of Queue and
// Answer.
type MenuOption struct {
	// Queue the caller waits in.
	Queue string `yaml:"queue"`
	// Answer names a prompt with the recorded answer to a hot topic; after
	// it the menu plays again.
	Answer string `yaml:"answer"`
}

// Phone is an agent's SIP phone account. The registrar checks digest
// credentials against the HA1 hashes, never a plain password.
type Phone struct {
	// User is the SIP user name the phone registers as.
	User string
	// Agent is the agent the phone belongs to.
	Agent string
	// HA1MD5 is hex MD5(user:realm:password); HA1SHA256 the same with
	// SHA-256 (RFC 7616). Either may be empty if the phone does not use it.
	HA1MD5, HA1SHA256 string
}
