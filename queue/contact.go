package queue

import (
	"time"
)

// Channel is the way a citizen reached the hotline.
type Channel string

// The channels Lianxin takes contacts from.
const (
	ChannelVoice    Channel = "voice"
	ChannelSMS      Channel = "sms"
	ChannelWeChat   Channel = "wechat"
	ChannelMailbox  Channel = "mailbox"
	ChannelWeb      Channel = "web"
	ChannelTransfer Channel = "110-transfer"
)

// Channels lists every channel, in the order the desk shows them.
var Channels = []Channel{ChannelVoice, ChannelSMS, ChannelWeChat, ChannelMailbox, ChannelWeb, ChannelTransfer}

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool {
	for _, k := range Channels {
		if c == k {
			return true
		}
	}
	return false
}

// RequestType is the kind of request, set by a first guess at intake and
// confirmed by the agent at wrap-up.
type RequestType string

// Request types in national practice (GB/T 33358) plus praise and other.
const (
	RequestConsultation RequestType = "consultation" // 咨询
	RequestHelp         RequestType = "help"         // 求助
	RequestComplaint    RequestType = "complaint"    // 投诉
	RequestReport       RequestType = "report"       // 举报
	RequestSuggestion   RequestType = "suggestion"   // 建议
	RequestPraise       RequestType = "praise"       // 表扬
	RequestOther        RequestType = "other"        // 其他
)

// RequestTypes maps each request type to the Chinese word agents use.
var RequestTypes = map[RequestType]string{
	RequestConsultation: "咨询",
	RequestHelp:         "求助",
	RequestComplaint:    "投诉",
	RequestReport:       "举报",
	RequestSuggestion:   "建议",
	RequestPraise:       "表扬",
	RequestOther:        "其他",
}

// Valid reports whether t is a known request type.
func (t RequestType) Valid() bool { _, ok := RequestTypes[t]; return ok }

// Outcome is how a contact ended, recorded at wrap-up.
type Outcome string

// Outcomes of a contact.
const (
	OutcomeResolved      Outcome = "resolved"        // 当场解答
	OutcomeDispatched    Outcome = "dispatched"      // 转办
	OutcomeTransfer110   Outcome = "transferred_110" // 转110
	OutcomeTransfer119   Outcome = "transferred_119"
	OutcomeTransfer120   Outcome = "transferred_120"
	OutcomeTransfer122   Outcome = "transferred_122"
	OutcomeInvalid       Outcome = "invalid"   // 无效
	OutcomeDuplicate     Outcome = "duplicate" // 重复
	OutcomeAbandoned     Outcome = "abandoned" // the citizen left before an answer (voice)
	OutcomeCallbackLater Outcome = "callback"  // to be called back
	// OutcomeCallbackFailed: the gateway called the citizen back and got no
	// answer, as often as sip.callback.retries allows.
	OutcomeCallbackFailed Outcome = "callback_failed"
)

// Outcomes maps each outcome an agent may choose to its Chinese label.
var Outcomes = map[Outcome]string{
	OutcomeResolved:    "当场解答",
	OutcomeDispatched:  "转办",
	OutcomeTransfer110: "转110",
	OutcomeTransfer119: "转119",
	OutcomeTransfer120: "转120",
	OutcomeTransfer122: "转122",
	OutcomeInvalid:     "无效",
	OutcomeDuplicate:   "重复",
}

// Valid reports whether o is an outcome an agent may record at wrap-up.
func (o Outcome) Valid() bool { _, ok := Outcomes[o]; return ok }

// ContactState is where a contact stands.
type ContactState string

// Contact states, in order. A contact goes waiting → offered → assigned →
// (wrapup →) closed; a rejected or expired offer sends it back to waiting.
// A call starts in ivr (AnswerCall: answered, hearing the welcome and the
// menu, in no queue) and goes on to waiting (EnqueueCall).
const (
	StateIVR      ContactState = "ivr"
	StateWaiting  ContactState = "waiting"
	StateOffered  ContactState = "offered"
	StateAssigned ContactState = "assigned"
	StateWrapUp   ContactState = "wrapup"
	StateClosed   ContactState = "closed"
)

// Citizen is who reached us. Address is the channel's address: a phone
// number in E.164 for voice and SMS, an OpenID for WeChat, an e-mail address
// for mail.
type Citizen struct {
	Address string `json:"address"`
	Name    string `json:"name,omitempty"`
	Phone   string `json:"phone,omitempty"`
	Email   string `json:"email,omitempty"`
}

// Attachment is a file a citizen sent, kept in the blob store by content hash.
type Attachment struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Location is where the citizen says the matter is.
type Location struct {
	Address string  `json:"address,omitempty"`
	Lat     float64 `json:"lat,omitempty"`
	Lng     float64 `json:"lng,omitempty"`
}

// SenderAuth is what checking an e-mail's sender found: SPF for the
// envelope sender, DKIM signatures, and the From domain's DMARC policy.
// Only a letter whose sender is authenticated gets an acknowledgement by
// e-mail; Note tells the agent why, in Chinese, when it did not.
type SenderAuth struct {
	SPF   AuthCheck `json:"spf"`
	DKIM  AuthCheck `json:"dkim"`
	DMARC AuthCheck `json:"dmarc"`
	// Authenticated: the From domain is vouched for (DMARC pass, or an SPF
	// or DKIM pass aligned with From where the domain has no DMARC record).
	Authenticated bool `json:"authenticated"`
	// Note is the sentence the desk shows, e.g. "发件人未通过验证：SPF fail".
	Note string `json:"note,omitempty"`
}

// AuthCheck is one check's result, "pass", "fail", "none" or "temperror",
// and the domain it was made for.
type AuthCheck struct {
	Result string `json:"result"`
	Domain string `json:"domain,omitempty"`
}

// Intake is what a channel knows about a new contact. Enqueue turns it into
// a Contact.
type Intake struct {
	Channel     Channel      `json:"channel"`
	Line        string       `json:"line"`
	LineName    string       `json:"line_name,omitempty"`
	Citizen     Citizen      `json:"citizen"`
	Subject     string       `json:"subject,omitempty"`
	Text        string       `json:"text,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	Location    *Location    `json:"location,omitempty"`
	RequestType RequestType  `json:"request_type,omitempty"`
	Queue       string       `json:"queue"`
	Priority    int          `json:"priority"`
	ReceivedAt  time.Time    `json:"received_at"`
	// SenderAuth is set for e-mail letters: how their sender checked out.
	SenderAuth *SenderAuth `json:"sender_auth,omitempty"`
	// Emergency is the kind of emergency triage read in the citizen's words
	// at intake (fire, gas, medical, police, traffic), or "". The citizen was
	// told at once what to do (channels.EmergencyAdvice).
	Emergency string `json:"emergency,omitempty"`
	// Alert, when set, is raised for supervisors (an alert event) by the
	// same script that stores the intake: once with a new contact or a
	// message joining one, never for a duplicate, never without the
	// contact.
	Alert *Alert `json:"-"`
	// OperatorNote is the note of the operator of the line that referred the
	// matter (a 110 push on channel 110-transfer).
	OperatorNote string `json:"operator_note,omitempty"`
}

// Alert is an emergency in an intake: its kind (fire, medical, police,
// gas, …) and a line of its text.
type Alert struct {
	Kind string
	Text string
}

// alertArgs are an intake's alert as script arguments ("" for none).
func alertArgs(in Intake) (string, string) {
	if in.Alert == nil || in.Alert.Kind == "" {
		return "", ""
	}
	return in.Alert.Kind, in.Alert.Text
}

// Contact is one citizen's request on any channel.
type Contact struct {
	TrackingNo string `json:"tracking_no"`
	Intake
	State   ContactState `json:"state"`
	Agent   string       `json:"agent,omitempty"`
	Offers  int          `json:"offers"`
	Outcome Outcome      `json:"outcome,omitempty"`
	Note    string       `json:"note,omitempty"`
	// MessageCount counts the conversation's messages after the first.
	MessageCount int        `json:"message_count,omitempty"`
	QueuedAt     time.Time  `json:"queued_at"`
	OfferedAt    *time.Time `json:"offered_at,omitempty"`
	AssignedAt   *time.Time `json:"assigned_at,omitempty"`
	EndedAt      *time.Time `json:"ended_at,omitempty"`
	ClosedAt     *time.Time `json:"closed_at,omitempty"`

	// Calls only (channel voice).

	// Node holds the call's media while the caller is on the line; empty
	// once the call is over or was lost with its node.
	Node string `json:"node,omitempty"`
	// CallID is the caller's SIP Call-ID.
	CallID string `json:"call_id,omitempty"`
	// Callback is set when the caller was lost (the node holding the call
	// died) before an answer: the agent calls the citizen back. No phone is
	// rung for it.
	Callback bool `json:"callback,omitempty"`
	// CallbackPhone is the number to call back (E.164): the one the caller
	// confirmed or typed when asking for a callback; empty: Citizen.Phone.
	CallbackPhone string `json:"callback_phone,omitempty"`
	// CallbackTries counts the callbacks placed that the citizen did not
	// answer.
	CallbackTries int `json:"callback_tries,omitempty"`
	// OnHold is set while the agent holds an answered call.
	OnHold bool `json:"on_hold,omitempty"`
	// WaitSeconds is how long the caller waited: until the answer, or until
	// hanging up (abandoned).
	WaitSeconds float64 `json:"wait_seconds,omitempty"`
	// TalkSeconds is from the answer to the hang-up, HoldSeconds the part of
	// it on hold.
	TalkSeconds float64 `json:"talk_seconds,omitempty"`
	HoldSeconds float64 `json:"hold_seconds,omitempty"`
	// HangupBy says which leg hung up: caller, agent, media_timeout, node_lost, …
	HangupBy string `json:"hangup_by,omitempty"`

	// TransferNote is the note of the agent who last transferred the contact
	// to a queue or another agent (TransferredBy).
	TransferNote  string `json:"transfer_note,omitempty"`
	TransferredBy string `json:"transferred_by,omitempty"`
	// Transfer is set once the contact went to an emergency line (110, 119,
	// 120, 122): where, and how the push of its data went.
	Transfer *TransferInfo `json:"transfer,omitempty"`
	// Around the talk (ivr.go).

	// Rating is the citizen's rating (回访评价), once given.
	Rating *Rating `json:"rating,omitempty"`
	// RatingAsked is set once the citizen was asked for a rating.
	RatingAsked bool `json:"rating_asked,omitempty"`
	// ResolvedBy is "ivr" for a caller the hot-topic answer settled (当场解答
	// by the IVR, counted apart from agents' answers).
	ResolvedBy string `json:"resolved_by,omitempty"`
	// Recording is the call's recording, where the line records.
	Recording *Recording `json:"recording,omitempty"`
}
