// Package hottopic keeps the supervisors' hot-topic answers (当场解答 in a
// surge): a short Chinese text per line ("*": every line), turned into
// speech when it is published and stored in Redis with its audio, so every
// node plays it within seconds, without a restart. A change is announced on
// a pub/sub channel; nodes also re-read the list now and then, so a missed
// notice only delays it. The desk (agentdesk) publishes and withdraws; the
// voice front end (sip) plays.
package hottopic

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lianxin/lianxin/sip/media"
	"github.com/redis/go-redis/v9"
)

// MaxRunes bounds a topic's text.
const MaxRunes = 500

// Topic is one published answer.
type Topic struct {
	ID          string    `json:"id"`
	Line        string    `json:"line"` // a line's number, or "*" for every line
	Text        string    `json:"text"`
	PublishedAt time.Time `json:"published_at"`
	By          string    `json:"by"`
}

// Errors of Publish and Withdraw that the supervisor should see as they are
// (in Chinese).
var (
	ErrInvalid  = errors.New("热点答复无效")
	ErrNoTTS    = errors.New("语音合成不可用")
	ErrNotFound = errors.New("没有这条热点答复")
)

// DefaultTTS speaks as scripts/gen-prompts.sh does: espeak-ng's Mandarin
// voice cmn-latn-pinyin, resampled by sox to 8 kHz mono 16-bit, normalised to
// -3 dBFS. The text comes on standard input, the WAV goes to standard output.
var DefaultTTS = []string{"sh", "-c", "espeak-ng -v cmn-latn-pinyin -s 195 --stdout --stdin | " +
	"sox -t wav - -t wav -r 8000 -c 1 -e signed-integer -b 16 - gain -n -3"}

// defaultTools are the programs DefaultTTS needs.
var defaultTools = []string{"espeak-ng", "sox"}

// Store is the topics in Redis under a deployment's key prefix.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	tts    []string
	now    func() time.Time
}

// New returns the store; tts is the speech command (nil: DefaultTTS).
func New(rdb redis.UniversalClient, prefix string, tts []string) *Store {
	return &Store{rdb: rdb, prefix: prefix, tts: tts, now: time.Now}
}

func (s *Store) key(parts ...string) string { return s.prefix + "hot:" + strings.Join(parts, ":") }

// channel is the pub/sub channel of change notices.
func (s *Store) channel() string { return s.prefix + "hot:changed" }

// validLine reports whether line is "*" or a line's number (digits).
func validLine(line string) bool {
	if line == "*" {
		return true
	}
	if line == "" || len(line) > 20 {
		return false
	}
	for _, c := range line {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Check validates a publication before anything runs.
func Check(line, text string) error {
	if !validLine(line) {
		return fmt.Errorf("%w：线路须为热线号码或 *（全部线路），不是 %q", ErrInvalid, line)
	}
	n := utf8.RuneCountInString(strings.TrimSpace(text))
	if n == 0 || n > MaxRunes {
		return fmt.Errorf("%w：内容须为 1 到 %d 个字（现为 %d 个）", ErrInvalid, MaxRunes, n)
	}
	if !utf8.ValidString(text) {
		return fmt.Errorf("%w：内容不是有效的 UTF-8 文字", ErrInvalid)
	}
	return nil
}

// Publish speaks text, stores it with its audio for line and tells every
// node. A TTS that is missing or fails is ErrNoTTS, nothing stored.
func (s *Store) Publish(ctx context.Context, line, text, by string) (Topic, error) {
	text = strings.TrimSpace(text)
	if err := Check(line, text); err != nil {
		return Topic{}, err
	}
	wav, err := s.speak(ctx, text)
	if err != nil {
		return Topic{}, err
	}
	return s.PublishWAV(ctx, line, text, by, wav)
}

// PublishWAV stores a topic whose audio is an uploaded WAV (8 kHz mono;
// 16-bit PCM, µ-law or A-law).
func (s *Store) PublishWAV(ctx context.Context, line, text, by string, wav []byte) (Topic, error) {
	text = strings.TrimSpace(text)
	if err := Check(line, text); err != nil {
		return Topic{}, err
	}
	if _, err := media.ReadWAV(bytes.NewReader(wav)); err != nil {
		return Topic{}, fmt.Errorf("%w：音频不可用（%v）", ErrInvalid, err)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	t := Topic{ID: hex.EncodeToString(id[:]), Line: line, Text: text, PublishedAt: s.now().UTC().Truncate(time.Millisecond), By: by}
	at := t.PublishedAt.UnixMilli()
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.key("t", t.ID), "line", line, "text", text, "at", at, "by", by, "wav", wav)
		p.ZAdd(ctx, s.key("all"), redis.Z{Score: float64(at), Member: t.ID})
		return nil
	})
	if err != nil {
		return Topic{}, fmt.Errorf("hottopic: publish: %w", err)
	}
	s.notify(ctx, t.ID)
	return t, nil
}

// Withdraw removes a topic everywhere.
func (s *Store) Withdraw(ctx context.Context, id string) error {
	n, err := s.rdb.ZRem(ctx, s.key("all"), id).Result()
	if err != nil {
		return fmt.Errorf("hottopic: withdraw: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("%w：%s", ErrNotFound, id)
	}
	if err := s.rdb.Del(ctx, s.key("t", id)).Err(); err != nil {
		return fmt.Errorf("hottopic: withdraw: %w", err)
	}
	s.notify(ctx, id)
	return nil
}

func (s *Store) notify(ctx context.Context, id string) {
	_ = s.rdb.Publish(ctx, s.channel(), id).Err() // nodes re-read the list now and then anyway
}

// List returns the topics, oldest first, without their audio.
func (s *Store) List(ctx context.Context) ([]Topic, error) {
	ids, err := s.rdb.ZRange(ctx, s.key("all"), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("hottopic: list: %w", err)
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, s.key("t", id), "line", "text", "at", "by")
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("hottopic: list: %w", err)
		}
	}
	out := make([]Topic, 0, len(ids))
	for i, c := range cmds {
		v := c.Val()
		if len(v) < 4 || v[0] == nil {
			continue
		}
		str := func(x any) string { s, _ := x.(string); return s }
		ms, _ := strconv.ParseInt(str(v[2]), 10, 64)
		out = append(out, Topic{ID: ids[i], Line: str(v[0]), Text: str(v[1]), PublishedAt: time.UnixMilli(ms).UTC(), By: str(v[3])})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].PublishedAt.Before(out[j].PublishedAt) })
	return out, nil
}

// Audio returns a topic's WAV.
func (s *Store) Audio(ctx context.Context, id string) ([]byte, error) {
	b, err := s.rdb.HGet(ctx, s.key("t", id), "wav").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%w：%s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("hottopic: audio: %w", err)
	}
	return b, nil
}

// Watch calls fn on every change notice until ctx ends (and once when the
// subscription is up, so a watcher starts from the current list).
func (s *Store) Watch(ctx context.Context, fn func()) error {
	sub := s.rdb.Subscribe(ctx, s.channel())
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("hottopic: subscribe: %w", err)
	}
	fn()
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-ch:
			if !ok {
				return nil
			}
			fn()
		}
	}
}

// speak runs the TTS command with text on standard input.
func (s *Store) speak(ctx context.Context, text string) ([]byte, error) {
	argv := s.tts
	tools := []string{}
	if len(argv) == 0 {
		argv, tools = DefaultTTS, defaultTools
	} else {
		tools = []string{argv[0]}
	}
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			return nil, fmt.Errorf("%w：本节点未安装语音合成程序 %s（apt-get install -y espeak-ng sox），或在 sip.hot_topics.tts 配置合成命令；也可上传录音", ErrNoTTS, t)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = strings.NewReader(SpokenDigits(text))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return nil, fmt.Errorf("%w：语音合成失败（%v %s）", ErrNoTTS, err, msg)
	}
	wav := FixStreamedWAV(out.Bytes())
	if _, err := media.ReadWAV(bytes.NewReader(wav)); err != nil {
		return nil, fmt.Errorf("%w：语音合成输出的不是可用的 WAV（%v）", ErrNoTTS, err)
	}
	return wav, nil
}

// SpokenDigits writes ASCII digits as Chinese digit words (espeak-ng reads
// "12345" as a number, and wrongly).
func SpokenDigits(s string) string {
	return strings.NewReplacer("0", "零", "1", "一", "2", "二", "3", "三", "4", "四", "5", "五", "6", "六", "7", "七",
		"8", "八", "9", "九").Replace(s)
}

// FixStreamedWAV sets the RIFF and data sizes of a WAV written to a pipe
// (sox writes placeholders there, not knowing the length) to what follows.
// Anything else is returned unchanged.
func FixStreamedWAV(b []byte) []byte {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return b
	}
	out := append([]byte(nil), b...)
	binary.LittleEndian.PutUint32(out[4:8], uint32(len(out)-8))
	p := 12
	for p+8 <= len(out) {
		id, size := string(out[p:p+4]), binary.LittleEndian.Uint32(out[p+4:p+8])
		if id == "data" {
			if rest := uint32(len(out) - p - 8); size > rest {
				binary.LittleEndian.PutUint32(out[p+4:p+8], rest&^1)
			}
			return out
		}
		next := p + 8 + int(size) + int(size&1)
		if next <= p || next > len(out) {
			return out
		}
		p = next
	}
	return out
}
