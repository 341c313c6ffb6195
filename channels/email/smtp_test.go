package email

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// TestCorpus sends every letter of the corpus over SMTP into a real queue
// and reads back the contact and the acknowledgement.
func TestCorpus(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, rs *queuetest.Server) {
		e := start(t, rs, newFakeRelay(t), nil)
		for _, tc := range []struct {
			file, subject, name, address string
			text                         []string
			rtype                        queue.RequestType
		}{
			{"gb2312-qp.eml", "路灯坏了", "张三", "zhangsan@example.cn", []string{"市长您好：\n我们小区门口的路灯坏了三个月"}, ""},
			{"gbk-base64.eml", "装修噪音扰民", "王喆", "wangzhe@example.cn", []string{"朱镕", "王堃转告"}, queue.RequestComplaint},
			{"gb18030-4byte.eml", "咨询公交站𠮷", "", "lisi@example.cn", []string{"请问𠮷野家", "😀谢谢"}, queue.RequestConsultation},
			{"big5.eml", "營業執照", "Chen Da-Wei", "chen@example.tw", []string{"臺灣同胞來蓉投資"}, queue.RequestConsultation}, // 請問, read as 请问
			{"utf8.eml", "增设无障碍电梯", "赵六", "zhaoliu@example.cn", []string{"天府广场地铁站"}, queue.RequestSuggestion},
			{"raw-gbk-subject.eml", "下水道堵塞求助", "孙七", "sunqi@example.cn", []string{"下水道堵了，污水漫到街上"}, queue.RequestHelp},
			{"alternative-hostile.eml", "夜班公交建议", "", "qian@example.cn", []string{"市长您好，建议增加夜班公交。谢谢"}, queue.RequestSuggestion},
			{"html-only.eml", "公园厕所太脏", "", "zhou@example.cn", []string{"人民公园的厕所太脏了&没人打扫。\n请处理", "谢谢"}, ""},
			{"attachments.eml", "违章建筑举报（附照片）", "", "wu@example.cn", []string{"我要举报小区楼顶违章搭建"}, queue.RequestReport},
			// Bad base64 in one part: the readable text is kept and the
			// agent is told which attachment could not be read.
			{"bad-base64.eml", "x", "", "a@example.cn", []string{"hi", "附件 a.png 的编码已损坏"}, ""},
		} {
			t.Run(tc.file, func(t *testing.T) {
				data := corpus(t, tc.file)
				// The citizen's own mail server: its envelope sender shares
				// the From domain, whose SPF lets loopback send.
				require.NoError(t, send(t, e, "bounce@"+domainOf(tc.address), []string{boxAddr}, data))
				ack := ackOf(t, e.relay, msgIDOf(t, data))
				require.True(t, queue.ValidTrackingNo(ack.TN), ack.TN)
				require.Contains(t, ack.Body, channels.Ack(ack.TN))
				require.Equal(t, tc.address, strings.ToLower(ack.To))
				c, err := e.q.Contact(ctx(t), ack.TN)
				require.NoError(t, err)
				require.Equal(t, queue.ChannelMailbox, c.Channel)
				require.Equal(t, boxID, c.Line)
				require.Equal(t, "general", c.Queue)
				require.Equal(t, tc.subject, c.Subject)
				require.Equal(t, tc.name, c.Citizen.Name)
				require.Equal(t, tc.address, c.Citizen.Address)
				require.Equal(t, tc.rtype, c.RequestType)
				for _, s := range tc.text {
					require.Contains(t, c.Text, s)
				}
				require.NotContains(t, c.Text, "alert")
				require.NotContains(t, c.Text, "\uFFFD", "every byte decoded")
				require.NotNil(t, c.SenderAuth)
				require.Equal(t, queue.SenderAuth{SPF: queue.AuthCheck{Result: "pass", Domain: domainOf(tc.address)},
					DKIM: queue.AuthCheck{Result: "none"}, DMARC: queue.AuthCheck{Result: "none", Domain: domainOf(tc.address)},
					Authenticated: true, Note: "发件人已验证：SPF pass (" + domainOf(tc.address) + ")"}, *c.SenderAuth)
			})
		}
	})
}

// TestSwaks has a real mail client deliver a letter, and be refused for an
// unknown mailbox.
func TestSwaks(t *testing.T) {
	bin, err := exec.LookPath("swaks")
	if err != nil {
		t.Fatalf("swaks is not installed (make test installs it: apt-get install swaks): %v", err)
	}
	e := start(t, queuetest.RedisServer(t), newFakeRelay(t), nil)
	cmd := exec.CommandContext(ctx(t), bin, "--server", e.addr, "--from", "zhangsan@example.cn", "--to", boxAddr,
		"--helo", "sender.test", "--data", "testdata/gb2312-qp.eml")
	outb, err := cmd.CombinedOutput()
	require.NoError(t, err, string(outb))
	require.Contains(t, string(outb), "250 2.0.0")
	ack := ackOf(t, e.relay, "gb2312-qp.20250303091500@example.cn")
	c, err := e.q.Contact(ctx(t), ack.TN)
	require.NoError(t, err)
	require.Equal(t, "路灯坏了", c.Subject)

	cmd = exec.CommandContext(ctx(t), bin, "--server", e.addr, "--from", "zheng@example.cn",
		"--to", "no-such-box@mail.12345.chengdu.gov.cn", "--data", "testdata/unknown-recipient.eml")
	outb, err = cmd.CombinedOutput()
	require.Error(t, err, "swaks reports the refusal")
	require.Contains(t, string(outb), "550 5.1.1")
}

func TestUnknownRecipient(t *testing.T) {
	e := start(t, queuetest.Miniredis(t), nil, nil)
	err := send(t, e, "zheng@example.cn", []string{"no-such-box@mail.12345.chengdu.gov.cn"}, corpus(t, "unknown-recipient.eml"))
	code, enh := smtpCode(err)
	require.Equal(t, 550, code, err)
	require.Equal(t, [3]int{5, 1, 1}, [3]int(enh))
}

// TestDuplicate: a retry of the same letter (same Message-ID, or the same
// bytes without one) is the same contact and is acknowledged once.
func TestDuplicate(t *testing.T) {
	e := start(t, queuetest.RedisServer(t), newFakeRelay(t), func(o *Options) { o.Relay.Workers = 1 })
	for _, f := range []string{"gbk-base64.eml", "no-message-id.eml"} {
		data := corpus(t, f)
		require.NoError(t, send(t, e, "a@example.cn", []string{boxAddr}, data))
		require.NoError(t, send(t, e, "a@example.cn", []string{boxAddr}, data))
	}
	// One worker sends in order: once this letter's acknowledgement is out,
	// every earlier one is too.
	last := corpus(t, "utf8.eml")
	require.NoError(t, send(t, e, "a@example.cn", []string{boxAddr}, last))
	ackOf(t, e.relay, msgIDOf(t, last))
	acks := map[string]int{}
	for _, m := range e.relay.messages() {
		acks[decodeOut(t, m).Subject]++
	}
	require.Len(t, e.relay.messages(), 3, "one acknowledgement per letter, none per retry: %v", acks)
}

func TestEmergency(t *testing.T) {
	rs := queuetest.RedisServer(t)
	e := start(t, rs, newFakeRelay(t), nil)
	data := corpus(t, "emergency.eml")
	require.NoError(t, send(t, e, "chen@example.cn", []string{boxAddr}, data))
	ack := ackOf(t, e.relay, "emergency.1@example.cn")
	require.True(t, strings.HasPrefix(ack.Body, channels.EmergencyAdvice(channels.EmergencyGas)), ack.Body)
	c, err := e.q.Contact(ctx(t), ack.TN)
	require.NoError(t, err)
	require.Equal(t, channels.EmergencyPriority, c.Priority)
	require.Equal(t, channels.EmergencyGas, c.Emergency, "the kind is kept for the desk")
	evs, err := e.rdb.XRange(ctx(t), "{lianxin}:events", "-", "+").Result()
	require.NoError(t, err)
	var alerted bool
	for _, ev := range evs {
		alerted = alerted || ev.Values["type"] == string(queue.EventAlert) && ev.Values["contact"] == ack.TN &&
			ev.Values["reason"] == channels.EmergencyGas
	}
	require.True(t, alerted, "supervisors alerted")
}
