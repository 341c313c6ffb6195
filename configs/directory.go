package configs

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// Levels of a leader mailbox.
const (
	LevelCity       = "city"       // the city's leaders (市委书记, 市长, vice mayors)
	LevelDistrict   = "district"   // a district's or county's leaders (区委书记, 区长)
	LevelDepartment = "department" // a bureau, of the city or of a district
	LevelTown       = "town"       // a town or street (镇, 街道)
)

// CityWide is the District of mailboxes that serve the whole city.
const CityWide = "全市"

var (
	//go:embed hotlines.csv
	hotlinesCSV []byte
	//go:embed mailboxes.csv
	mailboxesCSV []byte
)

// Headers of the directory files, exact and in order.
var (
	HotlineHeader = []string{"number", "name", "topic", "queue", "priority"}
	MailboxHeader = []string{"id", "name", "owner", "level", "district", "queue", "email"}
)

// Hotline is one number that rings the gateway: 12345 itself or one of the
// legacy hotlines merged into it, which keeps its own topic and queue.
type Hotline struct {
	// Number is the digits a caller dials: "12345", "12315", or a Chengdu
	// number with its area code, "02887654321".
	Number string
	Name   string
	// Topic is what the line was for, shown to the agent.
	Topic    string
	Queue    string
	Priority int // 0–9, higher first
}

// Mailbox is one leader mailbox (领导信箱) that takes letters.
type Mailbox struct {
	ID       string // e.g. cd-city-0001, cd-jj-dept-014
	Name     string // e.g. 市长信箱
	Owner    string // the office that answers it
	Level    string // LevelCity, LevelDistrict, LevelDepartment or LevelTown
	District string // e.g. 锦江区; CityWide for the city's own mailboxes
	Queue    string
	Email    string // <id>@mail.12345.chengdu.gov.cn
}

// Directory is every line and mailbox the gateway takes contacts on. It is
// read-only once loaded and safe for concurrent use.
type Directory struct {
	Hotlines  []Hotline
	Mailboxes []Mailbox

	byNumber map[string]int
	byID     map[string]int
	byEmail  map[string]int // lower case
}

// Hotline finds a line by the number dialled. Separators and an
// international prefix are ignored ("+86 28 8765 4321" finds 02887654321),
// and an 8-digit local number is tried with Chengdu's area code 028.
func (d *Directory) Hotline(number string) (Hotline, bool) {
	n := digits(number)
	switch {
	case strings.HasPrefix(n, "0086"):
		n = "0" + n[4:]
	case strings.HasPrefix(n, "86") && len(n) >= 11:
		n = "0" + n[2:]
	}
	i, ok := d.byNumber[n]
	if !ok && len(n) == 8 {
		i, ok = d.byNumber["028"+n]
	}
	if !ok {
		return Hotline{}, false
	}
	return d.Hotlines[i], true
}

// Mailbox finds a mailbox by id.
func (d *Directory) Mailbox(id string) (Mailbox, bool) {
	i, ok := d.byID[id]
	if !ok {
		return Mailbox{}, false
	}
	return d.Mailboxes[i], true
}

// MailboxByEmail finds a mailbox by its address, ignoring case.
func (d *Directory) MailboxByEmail(addr string) (Mailbox, bool) {
	i, ok := d.byEmail[strings.ToLower(strings.TrimSpace(addr))]
	if !ok {
		return Mailbox{}, false
	}
	return d.Mailboxes[i], true
}

// LoadDirectory reads the hotline and mailbox files named in c.Directory, or
// the embedded hotlines.csv and mailboxes.csv where a path is empty, and
// checks them against c.Queues, the lines against their welcome prompts
// (welcome-<number>, embedded or in sip.prompts) and the menus (sip.menus)
// against the lines. Relative paths are taken from the working
// directory. Errors name the file, line and column ("FILE:LINE:COL: …");
// after 20 in one file the rest are counted.
func LoadDirectory(c *Config) (*Directory, error) {
	queues := make(map[string]bool, len(c.Queues))
	for _, q := range c.Queues {
		queues[q.Name] = true
	}
	d := &Directory{}
	var errs []error
	// A queues list in a file replaces the default queues whole; the
	// built-in directory still routes its lines to the default ones. Say so
	// once, naming them, rather than once per row of a file that is not on
	// disk.
	if missing := embeddedQueuesMissing(c.Directory, queues); len(missing) > 0 {
		errs = append(errs, fieldErr("queues", "the list replaces the default queues as a whole, but the built-in "+
			"directory (hotlines and mailboxes embedded in the binary) still routes lines to %s: add them to the "+
			"list, or give directory.hotlines and directory.mailboxes files of your own", strings.Join(missing, ", ")))
		for _, q := range missing {
			queues[q] = true
		}
	}
	if r, name, err := open(c.Directory.Hotlines, "directory.hotlines", hotlinesCSV, "configs/hotlines.csv"); err != nil {
		errs = append(errs, err)
	} else {
		err := d.readHotlines(r, name, queues, c.promptsForCheck())
		errs = append(errs, err)
		for _, number := range sortedKeys(c.SIP.Menus) {
			if _, ok := d.byNumber[number]; !ok && err == nil { // a bad file says enough
				errs = append(errs, keyErr("sip.menus", number, "%q is not a line of %s", number, name))
			}
		}
	}
	if r, name, err := open(c.Directory.Mailboxes, "directory.mailboxes", mailboxesCSV, "configs/mailboxes.csv"); err != nil {
		errs = append(errs, err)
	} else {
		errs = append(errs, d.readMailboxes(r, name, queues))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return d, nil
}

// embeddedQueuesMissing lists, sorted, the queues that the embedded
// directory files in use name but queues lacks.
func embeddedQueuesMissing(files DirectoryFiles, queues map[string]bool) []string {
	need := map[string]bool{}
	scan := func(data []byte, column int) {
		r := csv.NewReader(bytes.NewReader(data))
		r.FieldsPerRecord = -1
		rows, _ := r.ReadAll()
		for i, row := range rows {
			if i > 0 && column < len(row) && !queues[row[column]] {
				need[row[column]] = true
			}
		}
	}
	if files.Hotlines == "" {
		scan(hotlinesCSV, slices.Index(HotlineHeader, "queue"))
	}
	if files.Mailboxes == "" {
		scan(mailboxesCSV, slices.Index(MailboxHeader, "queue"))
	}
	missing := make([]string, 0, len(need))
	for q := range need {
		missing = append(missing, q)
	}
	slices.Sort(missing)
	return missing
}

// open returns the file at path, or the embedded bytes when path is empty.
// The whole file is read: directory files are small (the mailboxes about 400 KB).
func open(path, field string, embedded []byte, embeddedName string) (io.Reader, string, error) {
	if path == "" {
		return bytes.NewReader(embedded), embeddedName, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, path, fieldErr(field, "%v", err)
	}
	return bytes.NewReader(data), path, nil
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// promptsForCheck is PromptFS, or the embedded prompts alone when the
// sip.prompts folder is missing (Validate reports that once).
func (c *Config) promptsForCheck() fs.FS {
	if st, err := os.Stat(c.SIP.Prompts); c.SIP.Prompts != "" && (err != nil || !st.IsDir()) {
		return Prompts
	}
	return c.PromptFS()
}
