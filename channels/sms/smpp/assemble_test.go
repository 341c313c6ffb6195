package smpp

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func TestAssembleOutOfOrderAndMissing(t *testing.T) {
	a := NewAssembler[uint32](30*time.Second, 10)
	c := func(seq int) Concat { return Concat{Kind: "udh8", Ref: 7, Total: 3, Seq: seq} }
	m, err := a.Add(t0, "k", c(3), []byte("C"), 3)
	require.NoError(t, err)
	require.Nil(t, m)
	m, err = a.Add(t0, "k", c(1), []byte("A"), 1)
	require.NoError(t, err)
	require.Nil(t, m)
	m, err = a.Add(t0, "k", c(1), []byte("X"), 11) // a redelivered part: first bytes win, tag kept
	require.NoError(t, err)
	require.Nil(t, m)
	require.Empty(t, a.Expire(t0.Add(29*time.Second)))
	m, err = a.Add(t0, "k", c(2), []byte("B"), 2)
	require.NoError(t, err)
	require.Equal(t, "ABC", string(m.Data))
	require.True(t, m.Complete())
	require.Equal(t, []uint32{3, 1, 11, 2}, m.Tags)
	require.Zero(t, a.Len())

	_, _ = a.Add(t0, "k2", c(2), []byte("B"), 5)
	_, err = a.Add(t0, "k2", Concat{Kind: "udh8", Ref: 7, Total: 4, Seq: 1}, []byte("x"), 6)
	require.ErrorContains(t, err, "says 4 parts, earlier parts said 3")
	got := a.Expire(t0.Add(30 * time.Second))
	require.Len(t, got, 1)
	require.Equal(t, []int{1, 3}, got[0].Missing)
	require.Equal(t, "B", string(got[0].Data))

	for i := range 10 {
		_, err = a.Add(t0, strings.Repeat("x", i+1), c(1), nil, 0)
		require.NoError(t, err)
	}
	_, err = a.Add(t0, "full", c(1), nil, 0)
	require.ErrorIs(t, err, ErrTooManyPending)
	require.Len(t, a.Drop(), 10)
}

func TestSplitUDH(t *testing.T) {
	c, rest, err := SplitUDH(append(UDH16(0xBEEF, 3, 2), 'h', 'i'))
	require.NoError(t, err)
	require.Equal(t, &Concat{Kind: "udh16", Ref: 0xBEEF, Total: 3, Seq: 2}, c)
	require.Equal(t, "hi", string(rest))
	// A port-addressing IE before the concatenation IE is skipped.
	c, rest, err = SplitUDH([]byte{11, 0x05, 4, 0x0B, 0x84, 0x23, 0xF0, 0x00, 3, 1, 2, 2, 'x'})
	require.NoError(t, err)
	require.Equal(t, 2, c.Seq)
	require.Equal(t, "x", string(rest))
	for _, bad := range [][]byte{{}, {9, 0, 3}, {5, 0, 3, 1, 2, 3}, {3, 0, 1, 1}, {5, 0, 3, 1, 2, 0}, {1, 0}} {
		_, _, err := SplitUDH(bad)
		require.ErrorIs(t, err, ErrUDH, "%x", bad)
	}
}

func TestEncodeTextSplits(t *testing.T) {
	e, err := EncodeText("您好", 8)
	require.NoError(t, err)
	require.Equal(t, CodingUCS2, e.DataCoding)
	require.Len(t, e.Parts, 1)
	e, err = EncodeText(strings.Repeat("a", 160), 8)
	require.NoError(t, err)
	require.Len(t, e.Parts, 1)
	e, err = EncodeText(strings.Repeat("a", 152)+"€"+strings.Repeat("b", 10), 8) // € is 2 septets: not cut in two
	require.NoError(t, err)
	require.Len(t, e.Parts, 2)
	require.Len(t, e.Parts[0], 152)
	e, err = EncodeText(strings.Repeat("好", 66)+"😀好好好", 8) // the pair would straddle 134 octets
	require.NoError(t, err)
	require.Len(t, e.Parts, 2)
	require.Len(t, e.Parts[0], 132)
	_, err = EncodeText(strings.Repeat("好", 67*3), 2)
	require.ErrorContains(t, err, "3 short messages, more than 2")
}

// FuzzReassemble: a text split into parts, delivered in any order and
// possibly twice, joins to the same bytes and decodes to the same text; any
// header bytes either fail or give a part number within its total and user
// data within the message.
func FuzzReassemble(f *testing.F) {
	f.Add("路灯坏了，请尽快修理😀"+strings.Repeat("好", 70), []byte{2, 0, 1, 1}, []byte{5, 0, 3, 1, 2, 1})
	f.Add(strings.Repeat("hello €", 40), []byte{0}, []byte{6, 8, 4, 1, 2, 3, 3})
	f.Fuzz(func(t *testing.T, s string, order []byte, udh []byte) {
		if c, rest, err := SplitUDH(udh); err == nil {
			if len(rest) > len(udh) || (c != nil && (c.Seq < 1 || c.Seq > c.Total)) {
				t.Fatalf("SplitUDH(%x) = %+v, %d rest", udh, c, len(rest))
			}
		}
		e, err := EncodeText(s, 255)
		if err != nil {
			return
		}
		a := NewAssembler[int](time.Minute, 4)
		var got *Assembled[int]
		n := len(e.Parts)
		seen := 0
		for i := 0; seen < n && i < 4*n+len(order); i++ {
			k := i % n
			if len(order) > 0 {
				k = int(order[i%len(order)]) % n
			}
			if i >= len(order) { // after the fuzzer's order, sweep in order to finish
				k = (i - len(order)) % n
			}
			ud := append(UDH8(42, n, k+1), e.Parts[k]...)
			c, rest, err := SplitUDH(ud)
			require.NoError(t, err)
			m, err := a.Add(t0, "from|to|udh8|42", *c, rest, k)
			require.NoError(t, err)
			if m != nil {
				got = m
				break
			}
		}
		if n == 1 {
			return
		}
		require.NotNil(t, got)
		var want []byte
		for _, p := range e.Parts {
			want = append(want, p...)
		}
		require.Equal(t, want, got.Data)
		text, err := Decode(e.DataCoding, AlphabetGSM7, got.Data)
		require.NoError(t, err)
		require.Equal(t, s, text)
	})
}
