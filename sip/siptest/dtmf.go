package siptest

import (
	"encoding/binary"

	"github.com/lianxin/lianxin/sip/media"
)

// digit is the keypad character of RFC 4733 event code, '?' for a code that
// is not a DTMF key.
func digit(code uint8) byte {
	if r, ok := media.DigitOf(code); ok {
		return byte(r)
	}
	return '?'
}

// DTMF pcaps: what sipp's play_pcap_audio replays. sipp takes the pcap's
// packet times for pacing and rewrites addresses and ports; it sends the RTP
// header as recorded. Each pcap holds one key press of event code ev at
// payload type 101: 8 packets 20 ms apart with durations 160, 320, … 1280 (the
// first one non-zero, unlike sipp's stock dtmf_2833_*.pcap whose first packet
// says 0), then the end packet (duration 1440, 180 ms) sent three times, as RFC
// 4733 §2.5.1.4 asks. Marker bit on the first packet; one timestamp for all.
const (
	dtmfSteps     = 8
	dtmfSSRC      = 0x4c584454 // "LXDT"
	dtmfFirstSeq  = 1000
	dtmfTimestamp = 160000
	dtmfVolume    = 10
)

// DTMFPcap returns a pcap file (Ethernet, IPv4, UDP, RTP) holding one key press
// of RFC 4733 event ev as described above, for sipp's play_pcap_audio.
func DTMFPcap(ev byte) []byte {
	var out []byte
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1) // LINKTYPE_ETHERNET
	out = append(out, hdr...)
	const base = 1_700_000_000
	seq := uint16(dtmfFirstSeq)
	for i := 1; i <= dtmfSteps+1; i++ {
		end := i == dtmfSteps+1
		copies := 1
		if end {
			copies = 3
		}
		for range copies {
			usec := (i - 1) * 20000
			rtp := dtmfRTP(seq, i == 1, ev, end, uint16(160*i))
			out = append(out, pcapRecord(base+usec/1_000_000, usec%1_000_000, udpFrame(rtp))...)
		}
		seq++
	}
	return out
}

func dtmfRTP(seq uint16, marker bool, ev byte, end bool, dur uint16) []byte {
	b := make([]byte, 16)
	b[0] = 0x80
	b[1] = TelephoneEventPT
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], dtmfTimestamp)
	binary.BigEndian.PutUint32(b[8:], dtmfSSRC)
	putEvent(b[12:], ev, end, dur)
	return b
}

// putEvent writes the RFC 4733 payload of event ev at dtmfVolume to b (4 bytes).
func putEvent(b []byte, ev byte, end bool, dur uint16) {
	e := media.Event{Code: ev, End: end, Volume: dtmfVolume, Duration: dur}
	if _, err := e.MarshalTo(b); err != nil {
		panic("siptest: " + err.Error()) // 4 bytes and volume 10: cannot happen
	}
}

func pcapRecord(sec, usec int, frame []byte) []byte {
	h := make([]byte, 16, 16+len(frame))
	binary.LittleEndian.PutUint32(h[0:], uint32(sec))
	binary.LittleEndian.PutUint32(h[4:], uint32(usec))
	binary.LittleEndian.PutUint32(h[8:], uint32(len(frame)))
	binary.LittleEndian.PutUint32(h[12:], uint32(len(frame)))
	return append(h, frame...)
}

// udpFrame wraps payload in Ethernet, IPv4 (10.0.0.1 → 10.0.0.2) and UDP
// (port 6000 → 6002); sipp replaces the addresses and ports when it replays.
func udpFrame(payload []byte) []byte {
	f := make([]byte, 14+20+8+len(payload))
	copy(f[0:6], []byte{0x02, 0, 0, 0, 0, 2})
	copy(f[6:12], []byte{0x02, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	ip[8] = 64
	ip[9] = 17
	copy(ip[12:16], []byte{10, 0, 0, 1})
	copy(ip[16:20], []byte{10, 0, 0, 2})
	binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip))
	udp := f[34:42]
	binary.BigEndian.PutUint16(udp[0:], 6000)
	binary.BigEndian.PutUint16(udp[2:], 6002)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	copy(f[42:], payload)
	return f
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
