package main

import (
	"github.com/lianxin/lianxin/agentdesk"
	"github.com/lianxin/lianxin/sip"
)

// The voice server is the desks' silent monitor too (agentdesk finds it
// beside the Softphone).
var _ agentdesk.Monitors = (*sip.Server)(nil)
