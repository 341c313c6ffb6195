package agentdesk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// Transfers configure the desk's transfer message.
type Transfers struct {
	// Boost raises a transferred contact's priority (sip.transfer.boost).
	Boost int
	// BackToAgent: a transfer to a named agent who misses it comes back to
	// the agent who transferred it (sip.transfer.miss_return "agent").
	BackToAgent bool
	// Lines reaches the emergency lines; nil: transfers to 110, 119, 120
	// and 122 are refused.
	Lines Lines
}

// Lines is what the desk needs of the emergency-line link
// (linkage.Pusher).
type Lines interface {
	// Transfer records that contact tn went to line to and queues the push
	// of its data to the line's webhook.
	Transfer(ctx context.Context, tn, to, target string) error
	// Configured reports whether line to has a target.
	Configured(to string) bool
}

// CommandTransfer is the command the desk sends the node holding a call to
// bridge it to an emergency line (sip.CommandTransfer).
const CommandTransfer = "transfer"

type transferredMsg struct {
	Type    string `json:"type"` // "transferred"
	Contact string `json:"contact"`
	To      string `json:"to"` // "transfer": handed to a queue or an agent
}

// lineTransferMsg is a step of a call's transfer to an emergency line,
// from the node holding the call (queue.EventLineTransfer).
type lineTransferMsg struct {
	Type    string `json:"type"` // "line_transfer"
	Contact string `json:"contact"`
	queue.LineStep
}

func isLine(to string) bool { return to == "110" || to == "119" || to == "120" || to == "122" }

// checkTransfer validates a transfer message.
func checkTransfer(m *inbound) *protocolError {
	bad := func(msg string) *protocolError { return &protocolError{"bad_message", msg} }
	if !queue.ValidTrackingNo(m.Contact) {
		return bad("contact: must be a tracking number")
	}
	switch {
	case m.To == "queue":
		if m.Queue == "" || len(m.Queue) > 64 {
			return bad("queue: required when to is queue")
		}
	case m.To == "agent":
		if m.Agent == "" || len(m.Agent) > 64 {
			return bad("agent: required when to is agent")
		}
	case isLine(m.To):
	default:
		return bad("to: must be one of queue, agent, 110, 119, 120, 122")
	}
	switch m.Mode {
	case "":
		m.Mode = "blind"
	case "blind", "warm":
	default:
		return bad("mode: must be blind or warm")
	}
	if utf8.RuneCountInString(m.Note) > maxNoteRunes {
		return bad("note: at most 2000 characters")
	}
	return nil
}

// transfer hands a contact the agent holds on: to a queue or an agent (the
// queue does it; a call's node drops the agent's leg), or to an emergency
// line — a call with its caller on the line is bridged there by the node
// holding it (command stream); any other contact is closed
// transferred_<line> and pushed to the line at once.
func (d *desk) transfer(ctx context.Context, m inbound) error {
	id := d.agent.ID
	note := strings.TrimSpace(m.Note)
	switch m.To {
	case "queue", "agent":
		to := queue.TransferTo{Note: note, Boost: d.s.xfer.Boost, BackToAgent: d.s.xfer.BackToAgent}
		if m.To == "queue" {
			to.Queue = m.Queue
		} else {
			to.Agent = m.Agent
		}
		return d.s.q.Transfer(ctx, id, m.Contact, to)
	}
	lines := d.s.xfer.Lines
	if lines == nil || !lines.Configured(m.To) {
		return fmt.Errorf("%w: line %s is not configured for transfers", queue.ErrInvalid, m.To)
	}
	c, err := d.s.q.Contact(ctx, m.Contact)
	if err != nil {
		return err
	}
	if c.Agent != id {
		return fmt.Errorf("%w: contact %s is not yours", queue.ErrNotYours, m.Contact)
	}
	if c.State != queue.StateAssigned && c.State != queue.StateWrapUp {
		return fmt.Errorf("%w: accept contact %s before transferring it", queue.ErrWrongState, m.Contact)
	}
	if c.Channel == queue.ChannelVoice && c.Node != "" && c.State == queue.StateAssigned {
		return d.s.q.SendCommand(ctx, c.Node, queue.Command{Type: CommandTransfer, TrackingNo: c.TrackingNo, Agent: id,
			Args: map[string]string{"to": m.To, "mode": m.Mode, "note": note}})
	}
	rt := queue.RequestType(m.RequestType)
	if !rt.Valid() {
		rt = c.RequestType
	}
	if !rt.Valid() {
		rt = queue.RequestHelp
	}
	if err := d.s.q.WrapUp(ctx, id, c.TrackingNo, rt, queue.Outcome("transferred_"+m.To), note); err != nil {
		return err
	}
	return lines.Transfer(ctx, c.TrackingNo, m.To, "")
}

// pushIfTransferred pushes a contact wrapped up as transferred_<line> to
// that line (once; a repeated wrap-up pushes nothing more).
func (d *desk) pushIfTransferred(ctx context.Context, tn string, o queue.Outcome) error {
	line, ok := strings.CutPrefix(string(o), "transferred_")
	if !ok || !isLine(line) {
		return nil
	}
	lines := d.s.xfer.Lines
	if lines == nil || !lines.Configured(line) {
		d.log.Warn("contact wrapped up as transferred to a line with no target: nothing pushed",
			zap.String("contact", tn), zap.String("line", line))
		return nil
	}
	err := lines.Transfer(ctx, tn, line, "")
	if errors.Is(err, queue.ErrNotFound) {
		return nil
	}
	return err
}
