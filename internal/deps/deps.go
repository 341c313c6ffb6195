//go:build tools

// Package deps pins modules that channel packages under construction are
// about to use, so that go.mod is settled before they are written. Remove an
// import here once real code imports it.
package deps

import (
	_ "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset"
	_ "github.com/emersion/go-smtp"
	_ "github.com/microcosm-cc/bluemonday"
	_ "golang.org/x/text/encoding/simplifiedchinese"
)
