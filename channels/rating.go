package channels

import (
	"context"
	"strings"
	"unicode"

	"github.com/lianxin/lianxin/queue"
)

// RatingQuestion is what a texter is sent after wrap-up (SMS, WeChat): the
// answer is a bare digit.
const RatingQuestion = "【12345】您反映的事项已办结，请对本次服务进行评价：满意请回复1，基本满意请回复2，不满意请回复3。"

// RatingThanks answers a texter's rating.
const RatingThanks = "【12345】感谢您的评价！"

// ParseRatingReply reads a texter's answer to the rating question: the
// digit 1, 2 or 3 (ASCII or full-width), or the words 满意, 基本满意, 不满意,
// alone with spaces and closing punctuation around. ok is false for
// anything else, which is a message like any other.
func ParseRatingReply(text string) (score int, ok bool) {
	s := strings.TrimFunc(text, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(".。!！~～,，、", r)
	})
	switch s {
	case "1", "１", "满意":
		return 1, true
	case "2", "２", "基本满意":
		return 2, true
	case "3", "３", "不满意":
		return 3, true
	}
	return 0, false
}

// Rater is the part of the queue that takes a texter's rating.
type Rater interface {
	RateByReply(ctx context.Context, reply string, score int, idemKey string) (string, error)
}

var _ Rater = (*queue.Queue)(nil)
