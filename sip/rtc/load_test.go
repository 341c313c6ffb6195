package rtc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/lianxin/lianxin/sip/media"
	"github.com/lianxin/lianxin/sip/rtc/rtctest"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// The load mode: LIANXIN_RTC_LOAD=200 go test -run TestLoadBrowserCalls -v ./sip/rtc
//
// It holds N browser-leg calls at once, each as the desk's node carries one: a WebRTC session (pion) bridged to
// a plain RTP leg towards the call's side, paced by nothing (both directions relayed as they arrive). The browsers
// (pion peers sending a tone every 20 ms) and the far ends of the RTP legs (echoing what they get) run in a child
// process, so the CPU measured — this process's getrusage over LIANXIN_RTC_LOAD_SECONDS (default 20) — is the
// gateway's alone. It reports CPU per call, packets relayed, and checks every browser hears its own tone back
// through the whole path. Not part of the normal suite (it is skipped without the variable): a measurement, run
// on purpose.
func TestLoadBrowserCalls(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LIANXIN_RTC_LOAD"))
	if n <= 0 {
		t.Skip("set LIANXIN_RTC_LOAD=N to hold N browser-leg calls and measure CPU per call")
	}
	secs := 20
	if s, _ := strconv.Atoi(os.Getenv("LIANXIN_RTC_LOAD_SECONDS")); s > 0 {
		secs = s
	}
	e := engine(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoadClientsHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "LIANXIN_RTC_CLIENTS="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	rd := bufio.NewReader(stdout)
	enc := json.NewEncoder(stdin)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	type pair struct {
		legs [2]*media.Leg
	}
	calls := make([]pair, 0, n)
	for len(calls) < n {
		line, err := rd.ReadBytes('\n')
		require.NoError(t, err)
		var m clientMsg
		if json.Unmarshal(line, &m) != nil || m.SDP == "" {
			continue // the child's test output
		}
		s, err := e.NewSession(nil, zap.NewNop())
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		answer, err := s.Answer(ctx, m.SDP)
		require.NoError(t, err)
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(t, err)
		leg := media.NewLeg(media.LegConfig{Conn: conn, Remote: netip.MustParseAddrPort(m.Echo), Codec: media.PCMU})
		go func() { _ = leg.Run(ctx) }()
		t.Cleanup(func() { _ = leg.Close() })
		media.Bridge(leg, s.Leg())
		calls = append(calls, pair{legs: [2]*media.Leg{leg, s.Leg()}})
		require.NoError(t, enc.Encode(clientMsg{I: m.I, SDP: answer}))
	}
	// Wait until every browser hears its tone back, then measure.
	for {
		line, err := rd.ReadBytes('\n')
		require.NoError(t, err)
		var m clientMsg
		if json.Unmarshal(line, &m) == nil && m.Ready {
			break
		}
	}
	var sent0 uint64
	per0 := make([][2]uint64, len(calls))
	for i, c := range calls {
		per0[i] = [2]uint64{c.legs[0].Stats().PacketsSent, c.legs[1].Stats().PacketsSent}
		sent0 += per0[i][0] + per0[i][1]
	}
	var r0, r1 syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &r0))
	start := time.Now()
	select {
	case <-time.After(time.Duration(secs) * time.Second):
	case <-ctx.Done():
	}
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &r1))
	wall := time.Since(start)
	var sent1 uint64
	for i, c := range calls {
		a, b := c.legs[0].Stats().PacketsSent, c.legs[1].Stats().PacketsSent
		require.True(t, a > per0[i][0] && b > per0[i][1], "call %d carried no audio one way while measured", i)
		sent1 += a + b
	}
	cpu := time.Duration(syscall.TimevalToNsec(r1.Utime) - syscall.TimevalToNsec(r0.Utime) +
		syscall.TimevalToNsec(r1.Stime) - syscall.TimevalToNsec(r0.Stime))
	pps := float64(sent1-sent0) / wall.Seconds()
	perPacket := cpu / time.Duration(sent1-sent0)
	t.Logf("%d browser-leg calls for %v: CPU %v = %.1f%% of one core, %.3f%% of a core per call; "+
		"%.0f packets/s relayed (%.0f per call; a full call is 100: 50 each way); %v CPU per relayed packet, so "+
		"%.3f%% of a core per call at 100 packets/s; RSS max %d MB",
		n, wall.Round(time.Millisecond), cpu.Round(time.Millisecond), 100*cpu.Seconds()/wall.Seconds(),
		100*cpu.Seconds()/wall.Seconds()/float64(n), pps, pps/float64(n), perPacket,
		100*perPacket.Seconds()*100, r1.Maxrss/1024)
}

type clientMsg struct {
	I     int    `json:"i"`
	SDP   string `json:"sdp,omitempty"`
	Echo  string `json:"echo,omitempty"`
	Ready bool   `json:"ready,omitempty"`
}

// TestLoadClientsHelper is the load mode's child: N pion browsers, each with a UDP echo for its RTP leg's far end.
func TestLoadClientsHelper(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LIANXIN_RTC_CLIENTS"))
	if n <= 0 {
		t.Skip("the child process of TestLoadBrowserCalls")
	}
	ctx := context.Background()
	out := json.NewEncoder(os.Stdout)
	in := json.NewDecoder(os.Stdin)
	browsers := make([]*rtctest.Browser, n)
	tone := siptest.SineWave(700, 8000, 8000)
	for i := range n {
		b, err := rtctest.NewBrowser(media.PCMU, 8000)
		require.NoError(t, err)
		defer b.Close()
		browsers[i] = b
		echo, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(t, err)
		defer echo.Close()
		go func() {
			buf := make([]byte, 1500)
			for {
				k, from, err := echo.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				_, _ = echo.WriteToUDPAddrPort(buf[:k], from)
			}
		}()
		offer, err := b.Offer(ctx, false)
		require.NoError(t, err)
		require.NoError(t, out.Encode(clientMsg{I: i, SDP: offer, Echo: echo.LocalAddr().String()}))
		var ans clientMsg
		require.NoError(t, in.Decode(&ans))
		require.NoError(t, b.SetAnswer(ans.SDP))
		b.Say(tone)
	}
	for i, b := range browsers {
		for !siptest.HasTone(b.Heard(1600, false), 700) {
			time.Sleep(100 * time.Millisecond)
			if b.State().String() == "failed" {
				t.Fatalf("browser %d failed", i)
			}
		}
	}
	fmt.Fprintln(os.Stderr, "all browsers hear their tone back")
	require.NoError(t, out.Encode(clientMsg{Ready: true}))
	// Until the parent closes stdin.
	var x clientMsg
	_ = in.Decode(&x)
}
