package sip

import (
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/sip/media"
	"github.com/stretchr/testify/require"
)

func names(clips []*media.Clip) string {
	var out []string
	for _, c := range clips {
		out = append(out, strings.TrimPrefix(c.Name, "num-"))
	}
	return strings.Join(out, " ")
}

// TestNumbers: positions and minutes are said the Chinese way from digit
// prompts: 十二, 二十三, 一百零五, 一百一十, 两千零五.
func TestNumbers(t *testing.T) {
	p, err := loadPrompts(testPrompts(), "hold")
	require.NoError(t, err)
	for n, want := range map[int]string{
		0: "0", 1: "1", 2: "liang", 7: "7", 10: "10", 12: "10 2", 20: "2 10", 23: "2 10 3", 99: "9 10 9",
		100: "1 100", 105: "1 100 0 5", 110: "1 100 1 10", 230: "liang 100 3 10", 1005: "1 1000 0 5",
		2000: "liang 1000", 2019: "liang 1000 0 1 10 9", 9999: "9 1000 9 100 9 10 9",
	} {
		require.Equal(t, want, names(p.number(n, true)), "%d", n)
	}
	require.Equal(t, "2 10 2", names(p.number(22, true)), "两 only for a lone 2, 百 and 千")
}

// TestAnnouncementWords: what a waiting caller is told.
func TestAnnouncementWords(t *testing.T) {
	p, err := loadPrompts(testPrompts(), "hold")
	require.NoError(t, err)
	for _, tc := range []struct {
		pos  int
		wait time.Duration
		want string
	}{
		{1, 0, "position-next"},
		{4, 20 * time.Second, "position-before 3 position-after wait-under-minute"},
		{3, 150 * time.Second, "position-before liang position-after wait-before 3 wait-minutes"},
		{150, 10 * time.Minute, "position-more-than 9 10 9 position-after wait-before 10 wait-minutes"},
	} {
		require.Equal(t, tc.want, names(p.announcement(tc.pos, tc.wait, 99)), "position %d", tc.pos)
	}
}

// TestAnnouncementHeard: a caller waiting behind another hears, after the
// first interval, the announcement between stretches of hold audio.
func TestAnnouncementHeard(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Announce = Announce{First: 400 * time.Millisecond, Every: time.Hour, MaxPosition: 99}
	})
	first := dial(t, e, "12345", "13800138701", media.PCMU)
	waitQueued(t, e, "12345")
	second := dial(t, e, "12345", "13800138702", media.PCMU)
	eventually(t, 500, "the announcement, then hold again", func() bool {
		seq := sequence(second.rtp.packets())
		for i := 0; i+2 < len(seq); i++ {
			if seq[i] == toneHold && seq[i+1] == 300 && seq[i+2] == toneHold {
				return true
			}
		}
		return false
	})
	first.hangup(t)
	second.hangup(t)
}
