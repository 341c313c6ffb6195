package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/lianxin/lianxin/agentdesk/desktest"
	"github.com/lianxin/lianxin/internal/loadsim"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/errgroup"
)

// runVoice measures bridged calls on one node: o.agents agents, each with a
// desk that is ready and wraps a call up once it ends, and a SIP phone — one
// sipp (testdata/sipp/agent-phone.xml) answers for every phone, a second
// registers them all with digest; then a third sipp places o.contacts calls
// to 12345 at o.rate per second, each staying o.hold. While the calls are
// bridged it samples the node's CPU and RTP counters for 20 s.
func runVoice(ctx context.Context, o options, dir string) error {
	scen, err := filepath.Abs("testdata/sipp")
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(scen, "agent-phone.xml")); err != nil {
		return fmt.Errorf("run from the repository's root (testdata/sipp): %w", err)
	}
	if o.rate <= 0 {
		o.rate = 100
	}
	cfg, err := writeVoiceConfig(dir, o.agents)
	if err != nil {
		return err
	}
	n, stop, err := loadsim.StartNode(ctx, o.bin, cfg, o.redisURL, "voice-0", dir)
	if err != nil {
		return err
	}
	defer stop()
	base, gw, metrics, node := n.Base, n.SIP, n.Metrics, n.Cmd
	fmt.Printf("redis %s, node %s (SIP %s), %d agents, %d calls at %.0f/s held %s\n", o.redisURL, base, gw, o.agents,
		o.contacts, o.rate, o.hold)

	desks, err := voiceDesks(ctx, base, o.agents)
	if err != nil {
		return err
	}
	defer func() {
		for _, d := range desks {
			_ = d.Close()
		}
	}()
	fmt.Printf("%d desks ready\n", len(desks))

	ids := make([]string, o.agents)
	for i := range ids {
		ids[i] = agentID(i)
	}
	phones, err := loadsim.StartPhones(ctx, loadsim.PhonesConfig{Scenarios: scen, Dir: dir, Gateway: gw, Agents: ids,
		Password: "load"})
	if err != nil {
		return err
	}
	defer phones.Kill()
	fmt.Printf("%d phones registered\n", o.agents)

	stats := filepath.Join(dir, "calls.csv")
	cports, err := loadsim.UDPPorts(2)
	if err != nil {
		return err
	}
	callers := exec.CommandContext(ctx, "sipp", gw, "-sf", "caller.xml", "-s", "12345", "-m", strconv.Itoa(o.contacts),
		"-r", strconv.FormatFloat(o.rate, 'f', -1, 64), "-l", strconv.Itoa(o.contacts), "-i", "127.0.0.1",
		"-p", strconv.Itoa(cports[0]), "-mi", "127.0.0.1", "-mp", strconv.Itoa(cports[1]), "-set", "hold_ms",
		strconv.FormatInt(o.hold.Milliseconds(), 10), "-nostdin", "-trace_stat", "-stf", stats, "-fd", "1",
		"-trace_err", "-error_file", filepath.Join(dir, "callers.err"))
	callers.Dir = scen
	var cout bytes.Buffer
	callers.Stdout, callers.Stderr = &cout, &cout
	start := time.Now()
	if err := callers.Start(); err != nil {
		return fmt.Errorf("sipp callers: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- callers.Wait() }()

	// Wait until the calls are bridged, then sample.
	want := float64(min(o.contacts, o.agents))
	var talking float64
	for time.Since(start) < o.hold {
		m, err := loadsim.Scrape(ctx, metrics)
		if err == nil {
			talking = m[`lianxin_sip_calls{state="talking"}`]
			if talking >= want*0.99 {
				break
			}
		}
		time.Sleep(time.Second)
	}
	fmt.Printf("%.0f calls bridged %s after the first call\n", talking, time.Since(start).Round(time.Second))
	window := min(20*time.Second, o.hold/3)
	a, cpuA, err := sample(ctx, metrics, node.Process.Pid)
	if err != nil {
		return err
	}
	time.Sleep(window)
	b, cpuB, err := sample(ctx, metrics, node.Process.Pid)
	if err != nil {
		return err
	}
	d := func(k string) float64 { return b[k] - a[k] }
	pkts := func(leg, dir string) float64 {
		return d(fmt.Sprintf(`lianxin_sip_rtp_packets_total{direction=%q,leg=%q}`, dir, leg))
	}
	paced := d("lianxin_sip_pacer_packets_total")
	relayed := pkts("agent", "out") + pkts("caller", "out") - paced
	secs := window.Seconds()
	cpu := (cpuB - cpuA) / 100 // clock ticks
	fmt.Printf("over %s with %.0f calls bridged (%.0f talking at the end):\n", window, talking, b[`lianxin_sip_calls{state="talking"}`])
	fmt.Printf("  relayed %.0f packets/s (to agents %.0f/s, to callers %.0f/s; paced %.0f/s)\n", relayed/secs,
		pkts("agent", "out")/secs, (pkts("caller", "out")-paced)/secs, paced/secs)
	fmt.Printf("  received from callers %.0f/s, from agents %.0f/s; lost on the way in: callers %.0f, agents %.0f\n",
		pkts("caller", "in")/secs, pkts("agent", "in")/secs, d(`lianxin_sip_rtp_lost_total{leg="caller"}`),
		d(`lianxin_sip_rtp_lost_total{leg="agent"}`))
	fmt.Printf("  not relayed: caller→agent %.0f, agent→caller %.0f\n",
		pkts("caller", "in")-pkts("agent", "out"), pkts("agent", "in")-(pkts("caller", "out")-paced))
	fmt.Printf("  node CPU %.2f cores (%.1f µs per relayed packet)\n", cpu/secs, cpu/relayed*1e6)
	fmt.Printf("  node RSS %s\n", loadsim.RSS(node.Process.Pid))

	select {
	case err := <-done:
		if err != nil {
			fmt.Printf("callers' sipp: %v\n", err)
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	fmt.Printf("callers' sipp: %s\n", loadsim.SippCounts(stats))
	return nil
}

// writeVoiceConfig is writeConfig's agents with voice capacity and phones
// (user = agent id, password "load") and a node sized for the calls.
func writeVoiceConfig(dir string, n int) (string, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte("load"), bcrypt.MinCost)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	loadHeader(&b, dir, fmt.Sprintf("  max_calls: %d\n  rtp_ports: {min: 20000, max: 39999}\n", n+100))
	b.WriteString("agents:\n")
	for i := range n {
		id := agentID(i)
		ha1 := md5.Sum([]byte(id + ":lianxin:load"))
		fmt.Fprintf(&b, "  - {id: %q, name: 负载%d, password_hash: %q, skills: {general: 3}, capacity: {voice: 1}, phone: {user: %q, ha1_md5: %s}}\n",
			id, i, hash, id, hex.EncodeToString(ha1[:]))
	}
	if err := writeDirectory(dir); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "voice.yaml")
	return path, os.WriteFile(path, b.Bytes(), 0o600)
}

// voiceDesks logs in n desks and makes them ready; each wraps up its calls
// once they end (answering the phone is what accepts a call).
func voiceDesks(ctx context.Context, base string, n int) ([]*desktest.Client, error) {
	desks := make([]*desktest.Client, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range n {
		g.Go(func() error {
			tok, err := desktest.Login(gctx, base, agentID(i), "load")
			if err != nil {
				return err
			}
			c, _, err := desktest.Dial(gctx, base, tok)
			if err != nil {
				return err
			}
			if _, err := c.Send("ready", nil); err != nil {
				return err
			}
			desks[i] = c
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, c := range desks {
		go func() {
			for {
				m, err := c.Next(ctx, "ended")
				if err != nil {
					return
				}
				c.Drop()
				if _, err := c.Send("wrapup", map[string]any{"contact": m.TrackingNo(), "request_type": "consultation",
					"outcome": "resolved"}); err != nil {
					return
				}
			}
		}()
	}
	return desks, nil
}

// sample reads the metrics and the process's CPU time (clock ticks).
func sample(ctx context.Context, url string, pid int) (map[string]float64, float64, error) {
	m, err := loadsim.Scrape(ctx, url)
	if err != nil {
		return nil, 0, err
	}
	cpu, err := loadsim.CPUTicks(pid)
	return m, cpu, err
}
