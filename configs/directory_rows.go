package configs

import (
	"io"
	"io/fs"
	"net/mail"
	"slices"
	"strconv"
	"strings"
)

func (d *Directory) readHotlines(r io.Reader, name string, queues map[string]bool, prompts fs.FS) error {
	f := newCSVFile(r, name)
	seen := map[string]int{}
	d.byNumber = map[string]int{}
	h := HotlineHeader
	return f.records(h, func(rec []string) {
		ok := true
		number := rec[0]
		if number == "" || digits(number) != number || len(number) < 3 || len(number) > 15 {
			f.errorf(0, h[0], "%q: must be 3–15 digits (the number a caller dials)", number)
			ok = false
		}
		ok = f.unique(seen, number, 0, h[0]) && ok
		if ok && !hasPrompt(prompts, "welcome-"+number) {
			f.errorf(0, h[0], "%s: no welcome prompt welcome-%s%s (give one in the sip.prompts folder)", number, number, PromptExt)
		}
		f.required(rec, h, 1, 2)
		f.queue(queues, rec, 3, h[3])
		p, err := strconv.Atoi(rec[4])
		if err != nil || p < 0 || p > MaxPriority {
			f.errorf(4, h[4], "%q: must be 0–%d", rec[4], MaxPriority)
		}
		if ok {
			d.byNumber[number] = len(d.Hotlines)
		}
		d.Hotlines = append(d.Hotlines, Hotline{Number: number, Name: rec[1], Topic: rec[2], Queue: rec[3], Priority: p})
	})
}

func (d *Directory) readMailboxes(r io.Reader, name string, queues map[string]bool) error {
	f := newCSVFile(r, name)
	seenID, seenEmail := map[string]int{}, map[string]int{}
	d.byID, d.byEmail = map[string]int{}, map[string]int{}
	h := MailboxHeader
	return f.records(h, func(rec []string) {
		m := Mailbox{ID: rec[0], Name: rec[1], Owner: rec[2], Level: rec[3], District: rec[4], Queue: rec[5], Email: rec[6]}
		idOK := mailboxIDRE.MatchString(m.ID) && len(m.ID) <= 64
		if !idOK {
			f.errorf(0, h[0], "%q: must be lower-case letters and digits joined by '-', at most 64", m.ID)
		}
		idOK = f.unique(seenID, m.ID, 0, h[0]) && idOK
		f.required(rec, h, 1, 2)
		switch {
		case !slices.Contains(levels, m.Level):
			f.errorf(3, h[3], "%q: must be one of %s", m.Level, strings.Join(levels, " "))
		case m.Level == LevelCity && m.District != CityWide:
			f.errorf(4, h[4], "%q: a city mailbox's district must be %q", m.District, CityWide)
		case m.Level != LevelCity && strings.TrimSpace(m.District) == "":
			f.errorf(4, h[4], "must not be empty for level %s", m.Level)
		}
		f.queue(queues, rec, 5, h[5])
		email := strings.ToLower(m.Email)
		emailOK := true
		if a, err := mail.ParseAddress(m.Email); err != nil || a.Name != "" || a.Address != m.Email {
			f.errorf(6, h[6], "%q: must be a bare e-mail address", m.Email)
			emailOK = false
		}
		emailOK = f.unique(seenEmail, email, 6, h[6]) && emailOK
		i := len(d.Mailboxes)
		if idOK {
			d.byID[m.ID] = i
		}
		if emailOK {
			d.byEmail[email] = i
		}
		d.Mailboxes = append(d.Mailboxes, m)
	})
}
