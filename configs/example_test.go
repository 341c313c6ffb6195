package configs_test

import (
	"fmt"

	"github.com/lianxin/lianxin/configs"
)

func ExampleLoad() {
	env := map[string]string{
		configs.EnvNodeID:   "node-1",
		configs.EnvHTTPAddr: ":9000",
	}
	// No file: the embedded defaults, then the environment.
	c, err := configs.Load("", func(k string) string { return env[k] })
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.NodeID, c.HTTP.Addr, c.SIP.Addr, c.Queue.OfferTimeout, len(c.Queues), "queues")

	d, err := configs.LoadDirectory(c)
	if err != nil {
		fmt.Println(err)
		return
	}
	h, _ := d.Hotline("12315")
	m, _ := d.MailboxByEmail("CD-CITY-0002@mail.12345.chengdu.gov.cn")
	fmt.Println(len(d.Hotlines), "hotlines,", len(d.Mailboxes), "mailboxes")
	fmt.Println(h.Name, "→", h.Queue)
	fmt.Println(m.ID, m.Name)
	// Output:
	// node-1 :9000 :5060 20s 14 queues
	// 120 hotlines, 2352 mailboxes
	// 12315市场监管投诉举报热线 → consumer
	// cd-city-0002 市长信箱
}

func ExampleCheck() {
	fmt.Println(configs.Check("../testdata/config/bad_skill.yaml"))
	// Output:
	// ../testdata/config/bad_skill.yaml:14: agents[1].skills: unknown queue "housng"
}
