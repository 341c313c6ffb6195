package configs

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// maxErrorsPerFile bounds what one bad directory file reports.
const maxErrorsPerFile = 20

var (
	mailboxIDRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	levels      = []string{LevelCity, LevelDistrict, LevelDepartment, LevelTown}
)

// csvFile reads one directory file and collects its errors.
type csvFile struct {
	name      string
	r         *csv.Reader
	line      int // line of the current record
	errs      []error
	hidden    int // errors past maxErrorsPerFile
	firstHide int // line of the first of them
	// unknown counts the rows naming each unknown queue; only the first is
	// reported, so a config that drops a queue gives one error, not hundreds.
	unknown map[string]*unknownQueue
}

type unknownQueue struct {
	err  *LineError
	rows int
}

func newCSVFile(r io.Reader, name string) *csvFile {
	cr := csv.NewReader(skipBOM(r))
	cr.ReuseRecord = false
	return &csvFile{name: name, r: cr}
}

// skipBOM drops the UTF-8 byte order mark spreadsheets like to write.
func skipBOM(r io.Reader) io.Reader {
	data, err := io.ReadAll(r)
	if err != nil {
		return r
	}
	return bytes.NewReader(bytes.TrimPrefix(data, []byte("\uFEFF")))
}

// errorf reports a problem in field i (by header index) of the current record.
func (f *csvFile) errorf(i int, column, format string, args ...any) {
	line, col := f.line, 1
	if i >= 0 {
		line, col = f.r.FieldPos(i)
	}
	msg := fmt.Sprintf(format, args...)
	if column != "" {
		msg = column + ": " + msg
	}
	f.add(&LineError{File: f.name, Line: line, Column: col, Msg: msg, Err: ErrDirectory})
}

func (f *csvFile) add(e *LineError) {
	if len(f.errs) >= maxErrorsPerFile {
		if f.hidden == 0 {
			f.firstHide = e.Line
		}
		f.hidden++
		return
	}
	f.errs = append(f.errs, e)
}

// queue checks that field i names a queue of the config.
func (f *csvFile) queue(queues map[string]bool, rec []string, i int, column string) {
	q := rec[i]
	if queues[q] {
		return
	}
	if u := f.unknown[q]; u != nil {
		u.rows++
		return
	}
	n := len(f.errs)
	f.errorf(i, column, "unknown queue %q", q)
	if len(f.errs) > n {
		if f.unknown == nil {
			f.unknown = map[string]*unknownQueue{}
		}
		f.unknown[q] = &unknownQueue{err: f.errs[n].(*LineError)}
	}
}

// records calls row for every record after the header, which must be want.
func (f *csvFile) records(want []string, row func(rec []string)) error {
	f.r.FieldsPerRecord = len(want)
	for first := true; ; first = false {
		rec, err := f.r.Read()
		if errors.Is(err, io.EOF) {
			if first {
				f.line = 1
				f.errorf(-1, "", "empty file: want the header %s", strings.Join(want, ","))
			}
			break
		}
		var pe *csv.ParseError
		if first && errors.Is(err, csv.ErrFieldCount) {
			err = nil // the header check below says more
		}
		if errors.As(err, &pe) {
			f.line = pe.StartLine
			f.add(&LineError{File: f.name, Line: pe.Line, Column: pe.Column, Msg: pe.Err.Error(), Err: ErrDirectory})
			if errors.Is(pe.Err, csv.ErrFieldCount) && !first {
				continue
			}
			break
		}
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s: %w", f.name, err))
			break
		}
		f.line, _ = f.r.FieldPos(0)
		if first {
			if !slices.Equal(rec, want) {
				f.errorf(-1, "", "header is %q, want %q", strings.Join(rec, ","), strings.Join(want, ","))
				break
			}
			continue
		}
		row(rec)
	}
	for _, u := range f.unknown {
		if u.rows > 0 {
			u.err.Msg += fmt.Sprintf(" (and %d more rows)", u.rows)
		}
	}
	if f.hidden > 0 {
		f.errs = append(f.errs, &LineError{File: f.name, Line: f.firstHide,
			Msg: fmt.Sprintf("%d more errors from this line on", f.hidden), Err: ErrDirectory})
	}
	return errors.Join(f.errs...)
}

// unique records key for field i and reports a repeat.
func (f *csvFile) unique(seen map[string]int, key string, i int, column string) bool {
	if first, dup := seen[key]; dup {
		f.errorf(i, column, "duplicate %q (first on line %d)", key, first)
		return false
	}
	seen[key] = f.line
	return true
}

func (f *csvFile) required(rec []string, header []string, idx ...int) {
	for _, i := range idx {
		if strings.TrimSpace(rec[i]) == "" {
			f.errorf(i, header[i], "must not be empty")
		}
	}
}
