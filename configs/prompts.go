package configs

import (
	"embed"
	"errors"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

//go:embed prompts/*.wav
var promptFiles embed.FS

// Prompts holds the embedded voice prompts, one "<name>.wav" per prompt at
// its root (configs/prompts/*.wav, made by scripts/gen-prompts.sh): 8 kHz
// mono 8-bit µ-law WAV. The names the voice front end plays:
//
//	welcome-<number>                 every line of hotlines.csv
//	menu-<number>, answer-<topic>    the default menus (sip.menus)
//	num-0 … num-9, num-10 (十), num-100 (百), num-1000 (千), num-liang (两)
//	position-next, position-before, position-after, position-more-than
//	wait-before, wait-minutes, wait-under-minute
//	hold-intro, connecting, invalid, goodbye, hold (music)
//	callback-offer, callback-confirm, callback-enter, callback-done
var Prompts fs.FS = mustSub(promptFiles, "prompts")

// PromptExt is the file extension of every prompt.
const PromptExt = ".wav"

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // a constant directory of an embed.FS
	}
	return sub
}

// PromptFS returns the prompts the voice front end plays: the files of the
// sip.prompts folder over the embedded Prompts, so a recording named like
// an embedded prompt replaces it. Open "<name>.wav".
func (c *Config) PromptFS() fs.FS {
	if c.SIP.Prompts == "" {
		return Prompts
	}
	return overlayFS{top: os.DirFS(c.SIP.Prompts), base: Prompts}
}

// overlayFS opens a file from top, or from base where top has none.
type overlayFS struct{ top, base fs.FS }

func (o overlayFS) Open(name string) (fs.File, error) {
	f, err := o.top.Open(name)
	if err == nil {
		return f, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return o.base.Open(name)
}

// ReadDir lists both folders, top's entry winning, so fs.Glob sees every
// prompt.
func (o overlayFS) ReadDir(name string) ([]fs.DirEntry, error) {
	top, terr := fs.ReadDir(o.top, name)
	base, berr := fs.ReadDir(o.base, name)
	if terr != nil && berr != nil {
		return nil, terr
	}
	seen := map[string]bool{}
	out := make([]fs.DirEntry, 0, len(top)+len(base))
	for _, list := range [][]fs.DirEntry{top, base} {
		for _, e := range list {
			if !seen[e.Name()] {
				seen[e.Name()] = true
				out = append(out, e)
			}
		}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// validPromptName: a prompt is named, not pathed.
func validPromptName(name string) bool {
	return name != "" && len(name) <= 100 && !strings.ContainsAny(name, `/\`) &&
		name != "." && name != ".." && path.Clean(name) == name
}

// hasPrompt reports whether the prompt is in fsys as "<name>.wav" (a file).
func hasPrompt(fsys fs.FS, name string) bool {
	if !validPromptName(name) {
		return false
	}
	st, err := fs.Stat(fsys, name+PromptExt)
	return err == nil && st.Mode().IsRegular()
}
