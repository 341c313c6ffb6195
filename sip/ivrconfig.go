package sip

import "time"

// Rating is the caller's rating after the talk (回访评价): when the agent
// hangs up, the caller stays on the line and hears the rating prompt
// ("满意请按一，基本满意请按二，不满意请按三"), presses 1, 2 or 3 and hears
// thanks; the score goes on the contact (queue.Rate).
type Rating struct {
	// Enabled turns the rating on. Default false (configs/default.yaml
	// turns it on).
	Enabled bool `yaml:"enabled"`
	// Prompt names the rating prompt. Default "rating".
	Prompt string `yaml:"prompt"`
	// Thanks names the prompt after a rating. Default "rating-thanks".
	Thanks string `yaml:"thanks"`
	// Timeout is how long to wait for a key after the prompt. Default 5s.
	Timeout time.Duration `yaml:"timeout"`
	// Retries is how often the prompt is repeated after no key or a wrong
	// one before the call ends unrated. Default 1.
	Retries int `yaml:"retries"`
}

// Recording records calls of some lines to the blob store as WAV (stereo,
// 8 kHz 16-bit PCM: the caller on the left channel, what the caller hears —
// prompts, hold audio and the agent — on the right). Callers of a recorded
// line hear the notice prompt ("本次通话可能会被录音") after the welcome.
type Recording struct {
	// Lines that record, by number ("*" for every line). Default none.
	Lines []string `yaml:"lines"`
	// Notice names the prompt announcing it. Default "recording-notice".
	Notice string `yaml:"notice"`
	// Retention is how long a recording is kept; the janitor deletes older
	// ones. Default 90 days (2160h).
	Retention time.Duration `yaml:"retention"`
	// Buffer is how many 20 ms frames a call's recorder holds for its
	// writer; frames beyond it are dropped and counted
	// (lianxin_sip_recording_frames_dropped_total). Default 150 (1.5 s of
	// both directions; about 50 KB a call).
	Buffer int `yaml:"buffer"`
	// MaxBytes bounds one recording (about 32 KB per second). Default
	// 256 MiB (a bit over two hours).
	MaxBytes int64 `yaml:"max_bytes"`
}

// HotTopics are the supervisors' short answers to a topic of the day
// (当场解答 in a surge), published from the desk and played to callers
// right after the welcome, with "press 1 if this answered your question,
// 0 for an agent".
type HotTopics struct {
	// TTS turns a topic's text into speech: the command and its arguments,
	// run with the text on standard input; it must write a WAV on standard
	// output. Default: espeak-ng with the prompts' voice (cmn-latn-pinyin)
	// through sox to 8 kHz mono (scripts/tts.sh reads the same way).
	TTS []string `yaml:"tts"`
	// Prompt names the "press 1 … press 0 …" prompt. Default "hot-topic-menu".
	Prompt string `yaml:"prompt"`
	// Timeout is how long to wait for the key. Default 5s.
	Timeout time.Duration `yaml:"timeout"`
	// Refresh is how often a node re-reads the topics even without a
	// change notice. Default 10s.
	Refresh time.Duration `yaml:"refresh"`
}

func setIVRDefaults(c *Config) {
	if c.Rating.Prompt == "" {
		c.Rating.Prompt = "rating"
	}
	if c.Rating.Thanks == "" {
		c.Rating.Thanks = "rating-thanks"
	}
	if c.Rating.Timeout <= 0 {
		c.Rating.Timeout = 5 * time.Second
	}
	if c.Rating.Retries == 0 {
		c.Rating.Retries = 1
	}
	if c.Recording.Notice == "" {
		c.Recording.Notice = "recording-notice"
	}
	if c.Recording.Retention <= 0 {
		c.Recording.Retention = 90 * 24 * time.Hour
	}
	if c.Recording.Buffer <= 0 {
		c.Recording.Buffer = 150
	}
	if c.Recording.MaxBytes <= 0 {
		c.Recording.MaxBytes = 256 << 20
	}
	if c.HotTopics.Prompt == "" {
		c.HotTopics.Prompt = "hot-topic-menu"
	}
	if c.HotTopics.Timeout <= 0 {
		c.HotTopics.Timeout = 5 * time.Second
	}
	if c.HotTopics.Refresh <= 0 {
		c.HotTopics.Refresh = 10 * time.Second
	}
}

// records reports whether calls to line are recorded.
func (r Recording) records(line string) bool {
	for _, l := range r.Lines {
		if l == "*" || l == line {
			return true
		}
	}
	return false
}
