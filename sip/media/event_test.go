package media

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEventRoundTrip(t *testing.T) {
	for _, e := range []Event{
		{Code: 5, Volume: 10, Duration: 0},
		{Code: 11, End: true, Volume: 63, Duration: 1600},
		{Code: 16, Duration: 65535},
	} {
		var b [EventSize]byte
		n, err := e.MarshalTo(b[:])
		require.NoError(t, err)
		require.Equal(t, EventSize, n)
		got, err := ParseEvent(b[:])
		require.NoError(t, err)
		require.Equal(t, e, got)
	}
	// The wire format, RFC 4733 figure 1: event, E|R|volume, duration.
	var b [4]byte
	_, _ = Event{Code: 1, End: true, Volume: 7, Duration: 0x0140}.MarshalTo(b[:])
	require.Equal(t, [4]byte{1, 0x87, 0x01, 0x40}, b)

	_, err := ParseEvent([]byte{1, 2, 3})
	require.ErrorIs(t, err, ErrBadEvent)
	require.ErrorContains(t, err, "shorter than 4 bytes")
	_, err = Event{Volume: 64}.MarshalTo(b[:])
	require.ErrorContains(t, err, "volume above 63")
	_, err = Event{}.MarshalTo(b[:3])
	require.ErrorIs(t, err, ErrBadEvent)
}

func TestDigits(t *testing.T) {
	for code := range uint8(16) {
		r, ok := DigitOf(code)
		require.True(t, ok)
		back, ok := CodeOf(r)
		require.True(t, ok)
		require.Equal(t, code, back)
	}
	require.Equal(t, '*', must(DigitOf(10)))
	require.Equal(t, '#', must(DigitOf(11)))
	require.Equal(t, 'D', must(DigitOf(15)))
	_, ok := DigitOf(16)
	require.False(t, ok)
	require.Equal(t, uint8(12), must(CodeOf('a')))
	_, ok = CodeOf('x')
	require.False(t, ok)
}

func must[T any](v T, ok bool) T {
	if !ok {
		panic("not ok")
	}
	return v
}

// sippPress is the packets of one key press as sipp's stock DTMF pcap sends them: the first with duration 0, the
// last three (end) retransmitted, all with the event's timestamp.
func sippPress(code uint8) []Event {
	return []Event{
		{Code: code, Volume: 10, Duration: 0},
		{Code: code, Volume: 10, Duration: 160},
		{Code: code, Volume: 10, Duration: 320},
		{Code: code, End: true, Volume: 10, Duration: 480},
		{Code: code, End: true, Volume: 10, Duration: 480},
		{Code: code, End: true, Volume: 10, Duration: 480},
	}
}

func TestDTMFDetector(t *testing.T) {
	var d DTMFDetector
	var got []rune
	feed := func(ts uint32, events []Event) {
		for i, e := range events {
			r, ok := d.Feed(ts, e)
			if ok {
				require.Zero(t, i, "a press is reported at its first packet")
				got = append(got, r)
			}
		}
	}
	feed(1000, sippPress(5))
	require.Equal(t, []rune{'5'}, got, "the first packet with duration 0 counts, the end retransmits do not")
	feed(5000, sippPress(5))
	require.Equal(t, []rune{'5', '5'}, got, "the same key pressed again has a new timestamp")
	feed(9000, sippPress(11)[3:]) // only the end packets arrived
	feed(13000, sippPress(16))    // flash: not a key
	require.Equal(t, []rune{'5', '5', '#'}, got)
	feed(5000, sippPress(5)[5:]) // a late retransmit of the second press
	require.Equal(t, []rune{'5', '5', '#'}, got)
}

func TestParseInfoDTMF(t *testing.T) {
	for _, tc := range []struct {
		ct, body string
		want     rune
		err      string
	}{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5', ""},
		{"Application/DTMF-Relay; charset=utf-8", "duration=100\nsignal = #\n", '#', ""},
		{"application/dtmf-relay", "Signal=10\r\n", '*', ""},
		{"application/dtmf", "*", '*', ""},
		{"application/dtmf", " b\r\n", 'B', ""},
		{"application/dtmf-relay", "Duration=160\r\n", 0, "no Signal line"},
		{"application/dtmf-relay", "Signal=X\r\n", 0, `signal "X" is not a DTMF key`},
		{"application/dtmf", "16", 0, `signal "16"`},
		{"text/plain", "5", 0, `"text/plain" is not application/dtmf-relay`},
	} {
		r, err := ParseInfoDTMF(tc.ct, []byte(tc.body))
		if tc.err != "" {
			require.ErrorIs(t, err, ErrBadEvent)
			require.ErrorContains(t, err, tc.err)
			continue
		}
		require.NoError(t, err, "%s %q", tc.ct, tc.body)
		require.Equal(t, tc.want, r, "%s %q", tc.ct, tc.body)
	}
}

func FuzzParseEvent(f *testing.F) {
	f.Add([]byte{5, 0x8a, 0x01, 0xe0})
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEvent(b)
		if len(b) < EventSize {
			if !errors.Is(err, ErrBadEvent) {
				t.Fatalf("short payload %x: error %v", b, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("payload %x: %v", b, err)
		}
		var out [EventSize]byte
		if _, err := e.MarshalTo(out[:]); err != nil {
			t.Fatalf("%+v does not marshal: %v", e, err)
		}
		want := [EventSize]byte(b[:EventSize])
		want[1] &^= 0x40 // the reserved bit is dropped
		if out != want {
			t.Fatalf("payload %x parsed to %+v marshals as %x", b[:EventSize], e, out)
		}
	})
}

func FuzzParseInfoDTMF(f *testing.F) {
	f.Add("application/dtmf-relay", []byte("Signal=5\r\nDuration=160\r\n"))
	f.Add("application/dtmf", []byte("#"))
	f.Add("text/plain", []byte(""))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		r, err := ParseInfoDTMF(ct, body)
		if err != nil {
			if !errors.Is(err, ErrBadEvent) || r != 0 {
				t.Fatalf("error %v with key %q", err, r)
			}
			return
		}
		code, ok := CodeOf(r)
		if !ok {
			t.Fatalf("key %q is not a DTMF key", r)
		}
		if back, _ := DigitOf(code); back != r {
			t.Fatalf("key %q is not canonical (%q)", r, back)
		}
	})
}

func BenchmarkDTMFFeed(b *testing.B) {
	var d DTMFDetector
	press := sippPress(5)
	b.ReportAllocs()
	var ts uint32
	for b.Loop() {
		for _, e := range press {
			d.Feed(ts, e)
		}
		ts += 800
	}
}
