package main

// kind is what sort of county-level division a district is; it decides the
// titles of its leaders and the names of its bureaus.
type kind int

const (
	urbanDistrict  kind = iota // 区, in the city centre
	suburbDistrict             // 区, outside the centre
	countyCity                 // 县级市
	county                     // 县
	zone                       // functional zone run by a management committee
)

// division is one of Chengdu's 20 county-level divisions or 3 functional zones.
type division struct {
	code  string // in mailbox ids: cd-<code>-…
	name  string // as citizens say it, e.g. 锦江区
	full  string // as an office writes it, e.g. 成都市锦江区
	kind  kind
	towns []string // towns (镇, 乡) and streets (街道)
}

var divisions = []division{
	{"jj", "锦江区", "成都市锦江区", urbanDistrict, []string{
		"春熙路街道", "书院街街道", "合江亭街道", "锦官驿街道", "牛市口街道", "沙河街道",
		"狮子山街道", "成龙路街道", "柳江街道", "三圣街道", "东湖街道"}},
	{"qy", "青羊区", "成都市青羊区", urbanDistrict, []string{
		"少城街道", "草市街街道", "西御河街道", "府南街道", "光华街道", "金沙街道",
		"黄田坝街道", "苏坡街道", "文家街道", "蔡桥街道", "康河街道"}},
	{"jn", "金牛区", "成都市金牛区", urbanDistrict, []string{
		"西安路街道", "西华街道", "人民北路街道", "荷花池街道", "驷马桥街道", "茶店子街道",
		"抚琴街道", "九里堤街道", "五块石街道", "营门口街道", "金泉街道", "沙河源街道",
		"天回镇街道", "凤凰山街道", "黄忠街道"}},
	{"wh", "武侯区", "成都市武侯区", urbanDistrict, []string{
		"浆洗街街道", "望江路街道", "玉林街道", "跳伞塔街道", "火车南站街道", "红牌楼街道",
		"簇桥街道", "机投桥街道", "晋阳街道", "金花桥街道", "簇锦街道", "华兴街道"}},
	{"ch", "成华区", "成都市成华区", urbanDistrict, []string{
		"猛追湾街道", "双桥子街道", "府青路街道", "二仙桥街道", "跳蹬河街道", "建设路街道",
		"白莲池街道", "万年场街道", "保和街道", "青龙街道", "龙潭街道", "圣灯街道", "桃蹊路街道"}},
	{"lqy", "龙泉驿区", "成都市龙泉驿区", suburbDistrict, []string{
		"龙泉街道", "大面街道", "十陵街道", "同安街道", "东安街道", "柏合街道", "西河街道",
		"洛带镇", "山泉镇", "茶店镇"}},
	{"qbj", "青白江区", "成都市青白江区", suburbDistrict, []string{
		"大弯街道", "大同街道", "红阳街道", "弥牟镇", "城厢镇", "福洪镇", "姚渡镇", "清泉镇", "龙王镇"}},
	{"xd", "新都区", "成都市新都区", suburbDistrict, []string{
		"新都街道", "大丰街道", "三河街道", "斑竹园街道", "石板滩街道", "新繁街道", "桂湖街道",
		"清流镇", "军屯镇", "木兰镇", "龙桥镇"}},
	{"wj", "温江区", "成都市温江区", suburbDistrict, []string{
		"柳城街道", "公平街道", "天府街道", "涌泉街道", "金马街道", "永宁街道", "万春镇", "寿安镇", "和盛镇"}},
	{"sl", "双流区", "成都市双流区", suburbDistrict, []string{
		"东升街道", "西航港街道", "九江街道", "黄甲街道", "协和街道", "彭镇", "黄水镇", "永安镇", "黄龙溪镇"}},
	{"pd", "郫都区", "成都市郫都区", suburbDistrict, []string{
		"郫筒街道", "犀浦街道", "红光街道", "安靖街道", "团结街道", "德源街道", "安德街道",
		"唐昌镇", "友爱镇", "三道堰镇", "唐元镇"}},
	{"xj", "新津区", "成都市新津区", suburbDistrict, []string{
		"五津街道", "花源街道", "花桥街道", "普兴街道", "永商镇", "兴义镇", "安西镇", "宝墩镇"}},
	{"jy", "简阳市", "简阳市", countyCity, []string{
		"简城街道", "射洪坝街道", "东溪街道", "十里坝街道", "平泉街道", "新市街道", "石桥街道",
		"禾丰镇", "青龙镇", "涌泉镇", "三合镇", "江源镇"}},
	{"djy", "都江堰市", "都江堰市", countyCity, []string{
		"灌口街道", "幸福街道", "银杏街道", "奎光塔街道", "蒲阳街道", "玉堂街道", "青城山镇",
		"龙池镇", "聚源镇", "天马镇", "石羊镇", "安龙镇", "紫坪铺镇"}},
	{"pz", "彭州市", "彭州市", countyCity, []string{
		"天彭街道", "致和街道", "隆丰街道", "濛阳街道", "丽春镇", "九尺镇", "敖平镇", "白鹿镇",
		"龙门山镇", "桂花镇", "通济镇", "丹景山镇", "葛仙山镇", "军乐镇"}},
	{"ql", "邛崃市", "邛崃市", countyCity, []string{
		"临邛街道", "文君街道", "固驿街道", "羊安街道", "平乐镇", "夹关镇", "天台山镇", "火井镇",
		"高何镇", "南宝山镇", "桑园镇", "冉义镇", "牟礼镇", "卧龙镇"}},
	{"cz", "崇州市", "崇州市", countyCity, []string{
		"崇阳街道", "江源街道", "羊马街道", "三江街道", "元通镇", "怀远镇", "街子镇", "白头镇",
		"文井江镇", "道明镇", "隆兴镇", "廖家镇", "观胜镇", "鸡冠山乡"}},
	{"jt", "金堂县", "金堂县", county, []string{
		"赵镇街道", "官仓街道", "栖贤街道", "白果街道", "淮口街道", "高板街道", "三星镇",
		"竹篙镇", "土桥镇", "福兴镇", "五凤镇", "云合镇", "转龙镇"}},
	{"dy", "大邑县", "大邑县", county, []string{
		"晋原街道", "沙渠街道", "安仁镇", "新场镇", "悦来镇", "鹤鸣镇", "王泗镇", "花水湾镇",
		"西岭镇", "出江镇", "斜源镇", "董场镇"}},
	{"pj", "蒲江县", "蒲江县", county, []string{
		"鹤山街道", "寿安街道", "大塘镇", "朝阳湖镇", "西来镇", "大兴镇", "甘溪镇", "成佳镇"}},
	{"gx", "成都高新区", "成都高新技术产业开发区管理委员会", zone, []string{
		"肖家河街道", "芳草街街道", "桂溪街道", "石羊街道", "合作街道", "西园街道", "中和街道"}},
	{"tf", "四川天府新区成都直管区", "四川天府新区成都管理委员会", zone, []string{
		"华阳街道", "万安街道", "正兴街道", "兴隆街道", "煎茶街道", "籍田街道", "永兴街道",
		"新兴街道", "太平街道", "合江街道"}},
	{"db", "成都东部新区", "成都东部新区管理委员会", zone, []string{
		"绛溪街道", "石板凳街道", "丹景街道", "草池街道", "三岔街道", "养马街道", "贾家街道",
		"福田街道", "玉成街道", "武庙镇", "高明镇", "芦葭镇"}},
}

// leaders are a division's leader mailboxes: its Party secretary, its head,
// the executive deputy and four deputies by portfolio. Titles follow the
// division's name: 锦江区委书记, 锦江区区长, 简阳市市长, 金堂县县长, 成都高新区管委会主任.
func (d division) leaders() []leader {
	party, gov := "中共"+d.full+"委员会", d.full+"人民政府"
	secretary, head, executive, deputy := "委书记", "区长", "常务副区长", "副区长"
	switch d.kind {
	case countyCity:
		head, executive, deputy = "市长", "常务副市长", "副市长"
	case county:
		head, executive, deputy = "县长", "常务副县长", "副县长"
	case zone:
		party, gov = "中共"+d.name+"工作委员会", d.full
		secretary, head, executive, deputy = "党工委书记", "管委会主任", "管委会常务副主任", "管委会副主任"
	}
	fourth := portfolio{"农业农村和生态环境", "agriculture"}
	switch d.kind {
	case urbanDistrict:
		fourth = portfolio{"城市管理和生态环境", "urban"}
	case zone:
		fourth = portfolio{"社区治理和社会保障", "social"}
	}
	ls := []leader{
		{secretary, party, "general"},
		{head, gov, "general"},
		{executive, gov, "general"},
	}
	for _, p := range []portfolio{
		{"城乡建设和交通", "housing"},
		{"教育和卫生健康", "education"},
		{"经济和投资促进", "enterprise"},
		fourth,
	} {
		ls = append(ls, leader{deputy + "（分管" + p.area + "）", gov, p.queue})
	}
	return ls
}

// leader is one leader mailbox: the title after the division's name, the
// office that answers, and the queue its letters go to.
type leader struct{ title, owner, queue string }

type portfolio struct{ area, queue string }
