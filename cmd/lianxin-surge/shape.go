package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The 8·25 surge in Chengdu: 1,587,900 contacts in the 26 days from 25
// August to 19 September 2022, 1,401,600 of them answered on the spot
// (当场解答, 88.27 %) and 186,300 dispatched (转办). The seed gives those
// totals only; the daily and hourly shapes, the channels' shares and the
// request types below are this tool's assumptions (flags change the mix).
const (
	surgeContacts = 1587900
	surgeDays     = 26
	answeredShare = 1401600.0 / surgeContacts
)

// surgeDay is the assumed weight of each of the 26 days: a rise from 25
// August, the peak in the first days of September (the city's lockdown
// began on 1 September), then a slow fall to the 19th.
var surgeDay = [surgeDays]float64{
	2.2, 2.6, 2.8, 3.0, 3.2, 3.4, 3.8, // 25–31 Aug
	6.4, 7.0, 6.6, 6.0, 5.6, 5.2, 4.8, // 1–7 Sep
	4.4, 4.1, 3.8, 3.5, 3.2, 3.0, 2.8, // 8–14 Sep
	2.6, 2.4, 2.3, 2.2, 2.1, // 15–19 Sep
}

// surgeHour is the assumed weight of each hour of a day (China time): a
// hotline's morning and afternoon peaks, a quiet night (it runs 24×7).
var surgeHour = [24]float64{
	0.8, 0.5, 0.4, 0.3, 0.3, 0.5, 1.2, 2.8, 5.6, 7.4, 7.8, 7.2,
	5.8, 5.6, 6.8, 7.2, 7.0, 6.2, 4.8, 4.2, 3.8, 3.2, 2.2, 1.4,
}

// channel is how a replayed contact reaches the node.
type channel string

const (
	chanVoice   channel = "voice"   // a call to 12345 placed by sipp (voice.go)
	chanWeb     channel = "web"     // a web letter to a leader mailbox
	chanEmail   channel = "email"   // an e-mail to a mailbox's address over SMTP
	chanWeChat  channel = "wechat"  // a WeChat message, encrypted (safe mode)
	chanAliyun  channel = "aliyun"  // an SMS pushed by Aliyun
	chanTencent channel = "tencent" // an SMS pushed by Tencent Cloud
	chanGeneric channel = "generic" // an SMS pushed by a generic (signed) provider
)

var channels = []channel{chanVoice, chanWeb, chanEmail, chanWeChat, chanAliyun, chanTencent, chanGeneric}

// defaultMix is the assumed share of each channel. The seed gives no split
// (its surge total is 来电来信, calls and letters); calls are a hotline's
// largest channel (the seed: 44.5 % of citizens would dial 12345 first),
// assumed 60 %, the written channels sharing the rest as before.
const defaultMix = "voice=60,web=14,email=4,wechat=12,aliyun=4,tencent=3,generic=3"

// parseMix reads "name=weight,…" into shares summing to 1.
func parseMix(s string) (map[channel]float64, error) {
	out := map[channel]float64{}
	var sum float64
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("-mix: %q is not channel=weight", part)
		}
		c := channel(strings.TrimSpace(k))
		if !slices.Contains(channels, c) {
			return nil, fmt.Errorf("-mix: %q is not one of voice, web, email, wechat, aliyun, tencent, generic", k)
		}
		w, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || w < 0 || math.IsInf(w, 0) || math.IsNaN(w) {
			return nil, fmt.Errorf("-mix: weight of %s: %q is not a number ≥ 0", c, v)
		}
		out[c] += w
		sum += w
	}
	if sum <= 0 {
		return nil, fmt.Errorf("-mix: the weights sum to 0")
	}
	if math.IsInf(sum, 0) {
		return nil, fmt.Errorf("-mix: the weights are too large to add up")
	}
	for c := range out {
		out[c] /= sum
	}
	return out, nil
}

// requestTypes is the assumed mix of request types at wrap-up (the seed
// names consultation, complaint, suggestion and emergency; national
// practice adds help and report).
var requestTypes = []struct {
	name  string
	share float64
}{
	{"consultation", 0.58}, {"help", 0.20}, {"complaint", 0.13}, {"suggestion", 0.05},
	{"report", 0.02}, {"praise", 0.01}, {"other", 0.01},
}

// arrival is one contact of the replay.
type arrival struct {
	at      time.Duration // from the replay's start, compressed
	channel channel
}

// schedule spreads n contacts over the 26 days by surgeDay × surgeHour,
// evenly within each hour, compressed into span, and gives each a channel
// so that every channel's share holds in every hour. Deterministic.
func schedule(n int, span time.Duration, mix map[channel]float64) []arrival {
	var total float64
	for _, d := range surgeDay {
		for _, h := range surgeHour {
			total += d * h
		}
	}
	slot := span / (surgeDays * 24)
	out := make([]arrival, 0, n)
	var carry float64 // the fraction of a contact carried into the next hour
	picker := newPicker(mix)
	for d, dw := range surgeDay {
		for h, hw := range surgeHour {
			want := float64(n)*dw*hw/total + carry
			k := int(want)
			carry = want - float64(k)
			if d == surgeDays-1 && h == 23 {
				k = n - len(out) // what rounding left over goes in the last hour
			}
			start := time.Duration(d*24+h) * slot
			for j := range k {
				out = append(out, arrival{at: start + slot*time.Duration(j)/time.Duration(k), channel: picker.next()})
			}
		}
	}
	return out
}

// picker deals channels in proportion to their shares, smoothly (the
// channel furthest behind its share goes next).
type picker struct {
	share map[channel]float64
	got   map[channel]float64
	n     float64
}

func newPicker(share map[channel]float64) *picker {
	return &picker{share: share, got: map[channel]float64{}}
}

func (p *picker) next() channel {
	p.n++
	var best channel
	bestLag := math.Inf(-1)
	for _, c := range channels {
		if p.share[c] == 0 {
			continue
		}
		if lag := p.share[c]*p.n - p.got[c]; lag > bestLag {
			best, bestLag = c, lag
		}
	}
	p.got[best]++
	return best
}

// wrapup is the request type and outcome the desk gives contact i:
// answered on the spot for 88.27 % of them (the seed's figure), dispatched
// for the rest; the request types by requestTypes. Deterministic in i.
func wrapup(i int) (requestType, outcome string) {
	u := float64(hash(uint64(i))%1_000_000) / 1_000_000
	outcome = "resolved"
	if u >= answeredShare {
		outcome = "dispatched"
	}
	v := float64(hash(uint64(i)^0x9e3779b97f4a7c15)%1_000_000) / 1_000_000
	for _, rt := range requestTypes {
		if v < rt.share {
			return rt.name, outcome
		}
		v -= rt.share
	}
	return "other", outcome
}

// hash is splitmix64's finaliser.
func hash(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
