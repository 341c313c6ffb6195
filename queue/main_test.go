package queue_test

import (
	"testing"

	"github.com/lianxin/lianxin/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }
