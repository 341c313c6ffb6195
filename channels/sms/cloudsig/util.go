package cloudsig

import (
	"strconv"
	"time"
)

func unixDate(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.DateOnly) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
