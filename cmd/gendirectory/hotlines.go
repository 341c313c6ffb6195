package main

import (
	"fmt"
	"hash/fnv"
)

// wantLegacy is how many non-emergency hotlines were merged into 12345.
const wantLegacy = 119

// line is a hotline before its number and priority are set.
type line struct{ number, name, topic, queue string }

// main12345 is the one number.
var main12345 = line{"12345", "成都市12345政务服务热线", "政务服务、咨询、求助、投诉、举报、建议", "general"}

// nationalLines are the national 123xx numbers whose city lines were merged
// into 12345 and still ring it. Left out on purpose: the emergency lines 110,
// 119, 120 and 122; 12366 (tax), 12367 (immigration), 12368 (courts) and
// 12309 (procuratorate), which stayed separate and are linked instead; and
// 12380/12388, the Party's reporting lines.
var nationalLines = []line{
	{"12315", "12315市场监管投诉举报热线", "消费者投诉、市场监管举报", "consumer"},
	{"12331", "12331食品药品投诉举报热线", "食品药品安全投诉举报", "consumer"},
	{"12365", "12365产品质量投诉举报热线", "产品质量、计量、特种设备投诉", "consumer"},
	{"12358", "12358价格举报热线", "价格违法举报、收费投诉", "consumer"},
	{"12312", "12312商务举报投诉热线", "商务领域举报投诉、预付卡纠纷", "consumer"},
	{"12318", "12318文化市场举报热线", "文化市场、网吧、演出举报", "consumer"},
	{"12301", "12301旅游服务热线", "旅游投诉、景区咨询", "consumer"},
	{"12333", "12333人力资源和社会保障热线", "社保、就业、劳动关系、欠薪", "labour"},
	{"12351", "12351职工维权服务热线", "职工权益、工会帮扶", "labour"},
	{"12369", "12369环保举报热线", "大气、水、噪声、固废污染举报", "environment"},
	{"12319", "12319城市管理服务热线", "市政设施、市容环卫、违法建设", "urban"},
	{"12329", "12329住房公积金服务热线", "公积金缴存、提取、贷款", "housing"},
	{"12336", "12336自然资源违法举报热线", "违法用地、违法采矿举报", "housing"},
	{"12320", "12320卫生健康热线", "医疗服务、公共卫生、健康咨询", "health"},
	{"12328", "12328交通运输服务监督热线", "公交、出租车、网约车、道路运输投诉", "transport"},
	{"12348", "12348公共法律服务热线", "法律咨询、法律援助", "social"},
	{"12338", "12338妇女维权公益服务热线", "妇女儿童权益、家庭暴力求助", "social"},
	{"12355", "12355青少年服务台", "青少年心理、权益保护", "social"},
	{"12349", "12349养老服务热线", "居家养老、社区养老服务", "social"},
	{"12316", "12316三农服务热线", "农业技术、农资、农产品质量", "agriculture"},
	{"12317", "12317乡村振兴监督举报热线", "防返贫监测、帮扶政策、乡村振兴资金", "agriculture"},
	{"12330", "12330知识产权保护热线", "专利商标侵权、维权援助", "enterprise"},
	{"12350", "12350安全生产举报投诉热线", "安全生产隐患、事故举报", "urban"},
	{"12322", "12322防震减灾公益服务热线", "地震谣言、防震减灾咨询", "urban"},
}

// cityLines are the city's own former service lines, 028 numbers.
var cityLines = []line{
	{"", "12345亲清在线（成都市企业服务热线）", "企业诉求：用地、用能、用工、融资、政策兑现", "enterprise"},
	{"", "成都市中小企业服务热线", "中小企业政策咨询、融资对接", "enterprise"},
	{"", "成都市投资服务热线", "项目落地、投资咨询", "enterprise"},
	{"", "成都市市长公开电话", "综合诉求（已并入12345）", "general"},
	{"", "成都市供水服务热线", "停水、水压、水质、水费", "water_power"},
	{"", "成都市燃气抢修咨询热线", "燃气停气、抢修、安全咨询（泄漏请同时拨打119）", "water_power"},
	{"", "成都市排水服务热线", "排水管网、积水、窨井盖", "water_power"},
	{"", "成都市能源保供服务热线", "停电咨询、电动车充电设施、能源保障", "water_power"},
	{"", "成都市公交服务热线", "公交线路、站点、服务投诉", "transport"},
	{"", "成都地铁服务热线", "地铁运营、失物、服务投诉", "transport"},
	{"", "成都市出租汽车服务监督热线", "出租车、网约车投诉与失物", "transport"},
	{"", "成都市房产交易咨询热线", "商品房、二手房交易、预售资金", "housing"},
	{"", "成都市物业服务投诉热线", "物业服务、维修资金、业委会", "housing"},
	{"", "成都市不动产登记咨询热线", "不动产登记、权证办理", "housing"},
	{"", "成都市数字城管热线", "占道经营、乱堆乱放、井盖缺失", "urban"},
	{"", "成都市园林绿化热线", "绿地、行道树、公园服务", "urban"},
	{"", "成都市环卫服务热线", "垃圾清运、公厕、道路清扫", "urban"},
	{"", "成都市教育咨询热线", "入学政策、学位、学校管理", "education"},
	{"", "成都市招生考试咨询热线", "中考、高考、自考咨询", "education"},
	{"", "成都市医保服务热线", "医保参保、报销、异地就医", "health"},
	{"", "成都市疾控咨询热线", "疫苗接种、传染病防控咨询", "health"},
	{"", "成都市户政业务咨询热线", "户籍、身份证、居住证（非警情）", "public_security"},
	{"", "成都市交管车驾管业务咨询热线", "驾驶证、车辆登记、违法处理（非事故）", "public_security"},
	{"", "成都市养老服务热线", "养老机构、居家养老、高龄津贴", "social"},
	{"", "成都市残疾人服务热线", "残疾人证、康复、就业帮扶", "social"},
	{"", "成都市退役军人服务热线", "退役军人安置、优抚、帮扶", "social"},
}

// divisionLines are each division's own former lines.
func (d division) lines() []line {
	third := line{"", d.name + "社保就业服务热线", "社保、就业、欠薪", "labour"}
	switch d.kind {
	case urbanDistrict:
		third = line{"", d.name + "物业服务投诉热线", "小区物业、老旧院落改造", "housing"}
	case countyCity, county:
		third = line{"", d.name + "农业农村服务热线", "农业技术、农村土地、涉农补贴", "agriculture"}
	case zone:
		third = line{"", d.name + "企业服务热线", "企业诉求、政策兑现、人才服务", "enterprise"}
	}
	return []line{
		{"", d.name + "民生服务热线", "本区域综合诉求", "general"},
		{"", d.name + "城管热线", "市容、占道、噪声、违法建设", "urban"},
		third,
	}
}

// number gives a line without one a Chengdu number, 028 and eight digits
// starting with 6 or 8, derived from its name: stable when lines are added,
// no randomness. A clash moves to the next free number.
func number(name string, used map[string]bool) string {
	h := fnv.New64a()
	h.Write([]byte(name))
	sum := h.Sum64()
	first := []byte("68")[sum%2]
	n := (sum / 2) % 10_000_000
	for {
		num := fmt.Sprintf("028%c%07d", first, n)
		if !used[num] {
			used[num] = true
			return num
		}
		n = (n + 1) % 10_000_000
	}
}
