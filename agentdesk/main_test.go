package agentdesk

import (
	"testing"

	"github.com/lianxin/lianxin/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }
