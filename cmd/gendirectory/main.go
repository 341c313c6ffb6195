// Command gendirectory writes Lianxin's directory: configs/hotlines.csv (12345
// and the 119 legacy hotlines merged into it) and configs/mailboxes.csv (the
// 2,352 leader mailboxes). The output is deterministic; run it from the
// module root after editing the lists here:
//
//	go run ./cmd/gendirectory
//
// It checks its output with configs.LoadDirectory against the default queues.
package main

import (
	"bytes"
	"encoding/csv"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/lianxin/lianxin/configs"
)

func main() {
	dir := flag.String("dir", "configs", "directory to write hotlines.csv and mailboxes.csv to")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "gendirectory:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	cfg, err := configs.Default()
	if err != nil {
		return err
	}
	hs, err := hotlines(cfg)
	if err != nil {
		return err
	}
	ms := mailboxes()
	if len(ms) != wantMailboxes {
		return fmt.Errorf("%d mailboxes, want %d", len(ms), wantMailboxes)
	}

	hPath, mPath := filepath.Join(dir, "hotlines.csv"), filepath.Join(dir, "mailboxes.csv")
	rows := make([][]string, 0, len(hs))
	for _, h := range hs {
		rows = append(rows, []string{h.Number, h.Name, h.Topic, h.Queue, strconv.Itoa(h.Priority)})
	}
	if err := writeCSV(hPath, configs.HotlineHeader, rows); err != nil {
		return err
	}
	rows = rows[:0]
	for _, m := range ms {
		rows = append(rows, []string{m.ID, m.Name, m.Owner, m.Level, m.District, m.Queue, m.Email})
	}
	if err := writeCSV(mPath, configs.MailboxHeader, rows); err != nil {
		return err
	}

	cfg.Directory = configs.DirectoryFiles{Hotlines: hPath, Mailboxes: mPath}
	d, err := configs.LoadDirectory(cfg)
	if err != nil {
		return fmt.Errorf("the written directory does not load:\n%w", err)
	}
	fmt.Printf("wrote %s (%d hotlines) and %s (%d mailboxes)\n", hPath, len(d.Hotlines), mPath, len(d.Mailboxes))
	return nil
}

// hotlines lists 12345 first, then the 119 legacy lines, each with its
// queue's priority.
func hotlines(cfg *configs.Config) ([]configs.Hotline, error) {
	priority := map[string]int{}
	for _, q := range cfg.Queues {
		priority[q.Name] = q.Priority
	}
	legacy := append(append([]line(nil), nationalLines...), cityLines...)
	for _, d := range divisions {
		legacy = append(legacy, d.lines()...)
	}
	if len(legacy) != wantLegacy {
		return nil, fmt.Errorf("%d legacy hotlines, want %d", len(legacy), wantLegacy)
	}
	used := map[string]bool{}
	var hs []configs.Hotline
	for _, l := range append([]line{main12345}, legacy...) {
		p, ok := priority[l.queue]
		if !ok {
			return nil, fmt.Errorf("%s: unknown queue %q", l.name, l.queue)
		}
		if l.number == "" {
			l.number = number(l.name, used)
		} else if used[l.number] {
			return nil, fmt.Errorf("%s: number %s used twice", l.name, l.number)
		}
		used[l.number] = true
		hs = append(hs, configs.Hotline{Number: l.number, Name: l.name, Topic: l.topic, Queue: l.queue, Priority: p})
	}
	return hs, nil
}

func writeCSV(path string, header []string, rows [][]string) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(header); err != nil {
		return err
	}
	if err := w.WriteAll(rows); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
