package email

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
)

// sanitizer makes a letter's HTML safe for a desk to show: text formatting,
// lists, tables and links (http, https, mailto) only. No scripts, event
// handlers, styles, forms, frames or remote images: an image may only name
// a part of the same letter (cid:).
type sanitizer struct{ p *bluemonday.Policy }

var cidSrc = regexp.MustCompile(`^cid:[!-~]+$`)

func newSanitizer() *sanitizer {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "div", "span", "b", "i", "u", "s", "strong", "em", "small", "big", "sub", "sup",
		"blockquote", "pre", "code", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd", "hr",
		"table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption", "center", "font")
	p.AllowAttrs("colspan", "rowspan").Matching(bluemonday.Integer).OnElements("td", "th")
	p.AllowAttrs("align").Matching(regexp.MustCompile(`^(?i)(left|right|center|justify)$`)).
		OnElements("p", "div", "td", "th", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6")
	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("http", "https", "mailto")
	p.AllowURLSchemeWithCustomPolicy("cid", func(u *url.URL) bool { return cidSrc.MatchString(u.String()) })
	p.AllowAttrs("src").Matching(cidSrc).OnElements("img")
	p.AllowAttrs("alt", "width", "height").OnElements("img")
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowRelativeURLs(false)
	return &sanitizer{p: p}
}

// Sanitize returns the safe form of a letter's HTML.
func (s *sanitizer) Sanitize(h string) string {
	return strings.TrimSpace(s.p.Sanitize(h))
}

// blocks end a line when HTML is read as text.
var blocks = map[string]bool{"p": true, "br": true, "div": true, "li": true, "tr": true, "h1": true, "h2": true,
	"h3": true, "h4": true, "h5": true, "h6": true, "blockquote": true, "pre": true, "hr": true, "table": true,
	"dt": true, "dd": true, "ul": true, "ol": true, "center": true}

// htmlText reads (sanitised) HTML as plain text: the words, one line per
// block, spaces collapsed, entities decoded.
func htmlText(h string) string {
	z := html.NewTokenizer(strings.NewReader(h))
	var b strings.Builder
	skip := 0
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return tidyLines(b.String())
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			n := string(name)
			switch {
			case n == "script" || n == "style" || n == "head" || n == "title":
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
			case n == "td" || n == "th":
				b.WriteByte(' ')
			case blocks[n]:
				b.WriteByte('\n')
			}
		}
	}
}

// tidyLines collapses runs of spaces in each line and of empty lines.
func tidyLines(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := true
	for _, l := range lines {
		l = strings.Join(strings.Fields(strings.ReplaceAll(l, "\u00a0", " ")), " ")
		if l == "" {
			if !blank {
				out = append(out, "")
			}
			blank = true
			continue
		}
		out = append(out, l)
		blank = false
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
