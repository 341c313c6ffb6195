package sip

import (
	"errors"

	"fmt"
	"github.com/emiago/sipgo/sip"
	"net/netip"
	"strconv"
	"strings"

	"github.com/lianxin/lianxin/sip/media"
	"github.com/pion/sdp/v3"
)

// session is what we take from one side's SDP: where its audio goes, the
// codec both sides use, its telephone-event payload type, and its direction.
type session struct {
	remote  netip.AddrPort
	codecs  []media.Codec // the G.711 codecs it offers, in its order of preference
	eventPT uint8         // 0: none
	dir     string        // sendrecv, sendonly, recvonly, inactive
}

// held says whether the peer put us on hold (RFC 3264 §8.4: sendonly or
// inactive, or the RFC 2543 way, c=0.0.0.0).
func (s session) held() bool {
	return s.dir == "sendonly" || s.dir == "inactive" || (s.remote.Addr().IsUnspecified())
}

// parseSDP reads an offer or answer: the first audio stream with an RTP/AVP
// profile. An SDP without PCMU or PCMA is ErrNoCodec; anything unreadable
// is ErrBadSDP.
func parseSDP(body []byte) (session, error) {
	var d sdp.SessionDescription
	if len(body) == 0 {
		return session{}, fmt.Errorf("%w: no body", ErrBadSDP)
	}
	if err := d.Unmarshal(body); err != nil {
		return session{}, fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		if m.MediaName.Port.Value == 0 {
			continue // a rejected stream
		}
		conn := d.ConnectionInformation
		if m.ConnectionInformation != nil {
			conn = m.ConnectionInformation
		}
		if conn == nil || conn.Address == nil {
			return session{}, fmt.Errorf("%w: audio has no c= address", ErrBadSDP)
		}
		ip, err := netip.ParseAddr(strings.TrimSpace(strings.SplitN(conn.Address.Address, "/", 2)[0]))
		if err != nil {
			return session{}, fmt.Errorf("%w: c= address %q is not an IP", ErrBadSDP, conn.Address.Address)
		}
		port := m.MediaName.Port.Value
		if port < 0 || port > 65535 {
			return session{}, fmt.Errorf("%w: port %d", ErrBadSDP, port)
		}
		s := session{remote: netip.AddrPortFrom(ip.Unmap(), uint16(port)), dir: "sendrecv"}
		for _, a := range d.Attributes {
			if isDirection(a.Key) {
				s.dir = a.Key
			}
		}
		names := map[string]string{}
		for _, a := range m.Attributes {
			switch {
			case isDirection(a.Key):
				s.dir = a.Key
			case a.Key == "rtpmap":
				pt, enc, _ := strings.Cut(a.Value, " ")
				names[pt] = strings.ToLower(enc)
			}
		}
		for _, f := range m.MediaName.Formats {
			enc := names[f]
			switch {
			case f == "0" && (enc == "" || strings.HasPrefix(enc, "pcmu/8000")):
				s.codecs = append(s.codecs, media.PCMU)
			case f == "8" && (enc == "" || strings.HasPrefix(enc, "pcma/8000")):
				s.codecs = append(s.codecs, media.PCMA)
			case strings.HasPrefix(enc, "telephone-event/8000") && s.eventPT == 0:
				if pt, err := strconv.Atoi(f); err == nil && pt >= 96 && pt <= 127 {
					s.eventPT = uint8(pt)
				}
			}
		}
		if len(s.codecs) == 0 {
			return s, ErrNoCodec
		}
		return s, nil
	}
	return session{}, ErrNoCodec
}

func isDirection(k string) bool {
	return k == "sendrecv" || k == "sendonly" || k == "recvonly" || k == "inactive"
}

// ourEventPT is the telephone-event payload type we offer.
const ourEventPT = 101

// localSDP is our side of a session: an answer (one codec) or an offer (the
// codecs in order of preference). version goes up with every change
// (re-INVITE answers keep it when nothing changed).
type localSDP struct {
	id, version uint64
	ip          netip.Addr
	port        int
	codecs      []media.Codec
	eventPT     uint8
	dir         string
}

func (l localSDP) marshal() []byte {
	ipv := "IP4"
	if l.ip.Is6() && !l.ip.Is4In6() {
		ipv = "IP6"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=lianxin %d %d IN %s %s\r\ns=lianxin\r\nc=IN %s %s\r\nt=0 0\r\n",
		l.id, l.version, ipv, l.ip, ipv, l.ip)
	fmt.Fprintf(&b, "m=audio %d RTP/AVP", l.port)
	for _, c := range l.codecs {
		fmt.Fprintf(&b, " %d", uint8(c))
	}
	if l.eventPT != 0 {
		fmt.Fprintf(&b, " %d", l.eventPT)
	}
	b.WriteString("\r\n")
	for _, c := range l.codecs {
		fmt.Fprintf(&b, "a=rtpmap:%d %s/8000\r\n", uint8(c), c)
	}
	if l.eventPT != 0 {
		fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-16\r\n", l.eventPT, l.eventPT)
	}
	b.WriteString("a=ptime:20\r\n")
	dir := l.dir
	if dir == "" {
		dir = "sendrecv"
	}
	b.WriteString("a=" + dir + "\r\n")
	return []byte(b.String())
}

// answerDir is the direction that answers a peer's direction (RFC 3264 §6.1).
func answerDir(peer string) string {
	switch peer {
	case "sendonly":
		return "recvonly"
	case "recvonly":
		return "sendonly"
	case "inactive":
		return "inactive"
	}
	return "sendrecv"
}

// refuseSDP answers a re-INVITE or UPDATE whose SDP could not be taken:
// 400 when it is not SDP at all, 488 when it offers nothing we can use.
func refuseSDP(tx sip.ServerTransaction, req *sip.Request, err error) {
	code, reason := 488, "Not Acceptable Here"
	if errors.Is(err, ErrBadSDP) {
		code, reason = 400, "Bad Request"
	}
	respond(tx, req, code, reason)
}
