package main

import (
	"fmt"
	"strings"

	"github.com/lianxin/lianxin/configs"
)

// mailDomain is where every leader mailbox receives e-mail.
const mailDomain = "mail.12345.chengdu.gov.cn"

// wantMailboxes is the number of leader mailboxes on the one platform.
const wantMailboxes = 2352

// cityLeaders are the city's own leader mailboxes; deputies by portfolio.
var cityLeaders = []leader{
	{"市委书记", "中共成都市委员会", "general"},
	{"市长", "成都市人民政府", "general"},
	{"市委副书记", "中共成都市委员会", "general"},
	{"常务副市长（分管发展改革、财政、审计）", "成都市人民政府", "general"},
	{"副市长（分管住房城乡建设、规划和自然资源）", "成都市人民政府", "housing"},
	{"副市长（分管教育、卫生健康、医疗保障）", "成都市人民政府", "education"},
	{"副市长（分管公安、司法、信访）", "成都市人民政府", "public_security"},
	{"副市长（分管经济和信息化、投资促进、新经济）", "成都市人民政府", "enterprise"},
	{"副市长（分管农业农村、水务、林业和园林）", "成都市人民政府", "agriculture"},
	{"副市长（分管交通运输、口岸物流）", "成都市人民政府", "transport"},
	{"副市长（分管生态环境、城市管理、公园城市建设）", "成都市人民政府", "environment"},
	{"副市长（分管人力资源社会保障、民政、退役军人事务）", "成都市人民政府", "labour"},
	{"市政府秘书长", "成都市人民政府", "general"},
}

// boxName names a leader's mailbox: 市长信箱, 锦江区副区长信箱（分管…）.
func boxName(prefix, title string) string {
	name, portfolio, ok := strings.Cut(title, "（")
	if !ok {
		return prefix + name + "信箱"
	}
	return prefix + name + "信箱（" + portfolio
}

func mailbox(id, name, owner, level, district, queue string) configs.Mailbox {
	return configs.Mailbox{ID: id, Name: name, Owner: owner, Level: level, District: district,
		Queue: queue, Email: id + "@" + mailDomain}
}

// mailboxes lists every leader mailbox: the city's leaders and bureaus, then
// each division's leaders, bureaus, and towns and streets.
func mailboxes() []configs.Mailbox {
	var ms []configs.Mailbox
	for i, l := range cityLeaders {
		ms = append(ms, mailbox(fmt.Sprintf("cd-city-%04d", i+1), boxName("", l.title), l.owner,
			configs.LevelCity, configs.CityWide, l.queue))
	}
	for i, dep := range cityDepartments {
		short := dep.short
		if short == "" {
			short = "市" + strings.TrimPrefix(dep.name, "成都市")
		}
		ms = append(ms, mailbox(fmt.Sprintf("cd-city-dept-%03d", i+1), short+dep.head+"信箱", dep.name,
			configs.LevelDepartment, configs.CityWide, dep.queue))
	}
	for _, d := range divisions {
		ms = append(ms, d.mailboxes()...)
	}
	return ms
}

func (d division) mailboxes() []configs.Mailbox {
	var ms []configs.Mailbox
	for i, l := range d.leaders() {
		ms = append(ms, mailbox(fmt.Sprintf("cd-%s-%04d", d.code, i+1), boxName(d.name, l.title), l.owner,
			configs.LevelDistrict, d.name, l.queue))
	}
	deps := districtDepartments
	if d.kind == zone {
		deps = zoneDepartments
	}
	for i, dep := range deps {
		name, owner := d.department(dep)
		ms = append(ms, mailbox(fmt.Sprintf("cd-%s-dept-%03d", d.code, i+1), name, owner,
			configs.LevelDepartment, d.name, dep.queue))
	}
	n := 0
	for _, town := range d.towns {
		for _, t := range d.townLeaders(town) {
			n++
			ms = append(ms, mailbox(fmt.Sprintf("cd-%s-town-%03d", d.code, n), d.name+town+t.title+"信箱", t.owner,
				configs.LevelTown, d.name, t.queue))
		}
	}
	return ms
}

// department names a division's bureau's mailbox and the office that owns it.
func (d division) department(dep department) (name, owner string) {
	full, short := dep.name, dep.short
	if short == "" {
		short = full
	}
	switch {
	case d.kind == zone:
		return d.name + short + dep.head + "信箱", d.name + full
	case full == "公安分局" && d.kind != urbanDistrict && d.kind != suburbDistrict:
		return d.name + "公安局" + dep.head + "信箱", d.full + "公安局"
	case full == "公安分局":
		owner = "成都市公安局" + d.name + "分局"
	case full == "税务局":
		owner = "国家税务总局" + d.full + "税务局"
	case full == "共青团委员会":
		owner = "共青团" + d.full + "委员会"
	case full == "社区发展治理委员会":
		owner = "中共" + d.full + "委城乡社区发展治理委员会"
	default:
		owner = d.full + full
	}
	return d.name + short + dep.head + "信箱", owner
}

// townLeaders are a town's or street's four leader mailboxes.
func (d division) townLeaders(town string) []leader {
	place := d.full + town
	if d.kind == zone {
		place = d.name + town
	}
	if strings.HasSuffix(town, "街道") {
		return []leader{
			{"党工委书记", "中共" + place + "工作委员会", "general"},
			{"办事处主任", place + "办事处", "general"},
			{"人大工委主任", place + "人大工作委员会", "general"},
			{"纪工委书记", "中共" + place + "纪律检查工作委员会", "general"},
		}
	}
	head := "镇长"
	if strings.HasSuffix(town, "乡") {
		head = "乡长"
	}
	return []leader{
		{"党委书记", "中共" + place + "委员会", "general"},
		{head, place + "人民政府", "general"},
		{"人大主席", place + "人民代表大会", "general"},
		{"纪委书记", "中共" + place + "纪律检查委员会", "general"},
	}
}
