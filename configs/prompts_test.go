package configs

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

// maxPromptBytes is the budget of the embedded prompts (120 welcome
// prompts are most of it).
const maxPromptBytes = 10 << 20

// fixedPrompts are the names the voice front end plays besides welcome-*,
// menu-* and answer-*.
var fixedPrompts = []string{
	"num-0", "num-1", "num-2", "num-3", "num-4", "num-5", "num-6", "num-7", "num-8", "num-9",
	"num-10", "num-100", "num-1000", "num-liang",
	"position-next", "position-before", "position-after", "position-more-than",
	"wait-before", "wait-minutes", "wait-under-minute",
	"hold-intro", "connecting", "invalid", "goodbye", "hold",
}

// script reads prompts/SCRIPT.tsv: name → text.
func script(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("prompts/SCRIPT.tsv")
	require.NoError(t, err)
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, text, ok := strings.Cut(line, "\t")
		require.True(t, ok, "SCRIPT.tsv: %q has no tab", line)
		require.NotContains(t, out, name, "SCRIPT.tsv: %s twice", name)
		out[name] = text
	}
	require.NoError(t, sc.Err())
	return out
}

// syllables counts what espeak speaks as one syllable each: Han
// characters and digits.
func syllables(s string) int {
	n := 0
	for _, r := range s {
		if unicode.Is(unicode.Han, r) || unicode.IsDigit(r) {
			n++
		}
	}
	return n
}

func readPrompt(t *testing.T, fsys fs.FS, name string) wavInfo {
	t.Helper()
	data, err := fs.ReadFile(fsys, name+PromptExt)
	require.NoError(t, err, "prompt %s", name)
	w, err := parseWAV(data)
	require.NoError(t, err, "prompt %s", name)
	return w
}

func TestPromptWelcomeForEveryLine(t *testing.T) {
	c, err := Default()
	require.NoError(t, err)
	d, err := LoadDirectory(c)
	require.NoError(t, err)
	for _, h := range d.Hotlines {
		require.True(t, hasPrompt(Prompts, "welcome-"+h.Number), "line %s (%s) has no welcome prompt", h.Number, h.Name)
	}
	for _, name := range fixedPrompts {
		require.True(t, hasPrompt(Prompts, name), "no prompt %s", name)
	}
	for number, m := range c.SIP.Menus {
		require.True(t, hasPrompt(Prompts, m.Prompt), "menu %s: no prompt %s", number, m.Prompt)
	}
}

// Every embedded prompt is an 8 kHz mono µ-law WAV with sound in it,
// normalised without clipping, and as long as its words need: espeak's
// Mandarin says 3–7 syllables a second, while pinyin read as English
// ("dian four") would take far longer per character.
func TestPromptsAreTelephoneAudio(t *testing.T) {
	texts := script(t)
	c, err := Default()
	require.NoError(t, err)
	d, err := LoadDirectory(c)
	require.NoError(t, err)
	for _, h := range d.Hotlines {
		if _, ok := texts["welcome-"+h.Number]; ok {
			continue
		}
		// As gen-prompts.sh says it: 您拨打的 + number (unless the name starts with it) + name + 已并入一二三四五政务服务热线.
		text := "您拨打的" + h.Name + "已并入一二三四五政务服务热线"
		if !strings.HasPrefix(h.Name, h.Number) {
			text += h.Number
		}
		texts["welcome-"+h.Number] = text
	}

	entries, err := fs.ReadDir(Prompts, ".")
	require.NoError(t, err)
	var total int64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), PromptExt)
		require.True(t, ok, "%s: only .wav files are embedded", e.Name())
		info, err := e.Info()
		require.NoError(t, err)
		total += info.Size()
		t.Run(name, func(t *testing.T) {
			w := readPrompt(t, Prompts, name)
			require.Equal(t, uint16(wavMuLaw), w.Format, "µ-law")
			require.Equal(t, uint16(1), w.Channels, "mono")
			require.Equal(t, uint32(8000), w.Rate, "8 kHz")
			require.NotEmpty(t, w.Data)
			rms, peak := soundLevels(w.samples())
			require.Greater(t, rms, -35.0, "RMS %.1f dBFS: (nearly) silent", rms)
			require.LessOrEqual(t, peak, -2.5, "peak %.1f dBFS: not normalised to -3 dB", peak)
			if name == "hold" {
				require.InDelta(t, 30, w.seconds(), 10, "hold music of 20–40 s")
				require.InDelta(t, -10, peak, 0.5)
				return
			}
			require.Greater(t, peak, -3.5, "peak %.1f dBFS: normalised to -3 dB", peak)
			text, ok := texts[name]
			require.True(t, ok, "%s.wav is neither in SCRIPT.tsv nor a line's welcome", name)
			n := syllables(text)
			require.Positive(t, n)
			perSyllable := w.seconds() / float64(n)
			if n == 1 {
				require.InDelta(t, 0.4, w.seconds(), 0.3, "one syllable")
				return
			}
			require.True(t, perSyllable > 0.14 && perSyllable < 0.33,
				"%.2f s for %d syllables (%.2f s each): not Mandarin read at 3–7 syllables a second", w.seconds(), n, perSyllable)
		})
	}
	t.Logf("%d prompts, %d bytes embedded", len(entries), total)
	require.LessOrEqual(t, total, int64(maxPromptBytes), "embedded prompts grew past the budget")
	for name := range texts {
		require.True(t, hasPrompt(Prompts, name), "SCRIPT.tsv names %s but there is no %s.wav: run make prompts", name, name)
	}
}

// Hold music loops: it starts and ends quietly, so the seam does not click.
func TestPromptHoldLoops(t *testing.T) {
	s := readPrompt(t, Prompts, "hold").samples()
	edge := 80 // 10 ms
	_, head := soundLevels(s[:edge])
	_, tail := soundLevels(s[len(s)-edge:])
	require.Less(t, head, -30.0, "starts at %.1f dBFS", head)
	require.Less(t, tail, -30.0, "ends at %.1f dBFS", tail)
}

func TestPromptFSOverlay(t *testing.T) {
	dir := t.TempDir()
	recorded := makeWAV(wavPCM, 1, 8000, make([]byte, 1600), nil)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "welcome-12345.wav"), recorded, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "answer-parking.wav"), recorded, 0o644))
	c, err := Default()
	require.NoError(t, err)
	require.Equal(t, Prompts, c.PromptFS(), "no folder: the embedded prompts")
	c.SIP.Prompts = dir
	fsys := c.PromptFS()
	got, err := fs.ReadFile(fsys, "welcome-12345.wav")
	require.NoError(t, err)
	require.Equal(t, recorded, got, "the folder's recording replaces the embedded prompt")
	require.Equal(t, uint16(wavMuLaw), readPrompt(t, fsys, "goodbye").Format, "others stay embedded")
	require.True(t, hasPrompt(fsys, "answer-parking"), "and new ones are added")
	require.False(t, hasPrompt(fsys, "../prompts/goodbye"), "a name is not a path")
	_, err = fsys.Open("nope.wav")
	require.ErrorIs(t, err, fs.ErrNotExist)
	names, err := fs.Glob(fsys, "*.wav")
	require.NoError(t, err)
	embedded, err := fs.Glob(Prompts, "*.wav")
	require.NoError(t, err)
	require.Len(t, names, len(embedded)+1, "a listing shows both folders, each name once")
}
