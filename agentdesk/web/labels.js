// Chinese labels for the codes the server sends. Codes stay in titles and
// data attributes; what an agent reads is Chinese.

export const STATES = {
  ready: '就绪', not_ready: '未就绪', offered: '振铃',
  busy: '忙碌', wrap_up: '话后', logged_out: '离线',
};
// Reasons an agent can pick; the server may send others (missed_offers, busy).
export const NOT_READY_REASONS = [['break', '小休'], ['meal', '用餐'], ['training', '培训'], ['meeting', '会议']];
export const REASONS = Object.assign(Object.fromEntries(NOT_READY_REASONS),
  { busy: '忙碌', missed_offers: '漏接过多' });
export const CHANNELS = {
  voice: '电话', sms: '短信', wechat: '微信', mailbox: '信箱', web: '网站', '110-transfer': '110转来',
};
export const REQUEST_TYPES = [
  ['consultation', '咨询'], ['help', '求助'], ['complaint', '投诉'], ['report', '举报'],
  ['suggestion', '建议'], ['praise', '表扬'], ['other', '其他'],
];
export const OUTCOMES = [
  ['resolved', '当场解答'], ['dispatched', '转办'], ['transferred_110', '转110'],
  ['transferred_119', '转119'], ['transferred_120', '转120'], ['transferred_122', '转122'],
  ['invalid', '无效'], ['duplicate', '重复'],
];
export const CONTACT_STATES = { waiting: '排队', offered: '振铃', assigned: '处理中', wrapup: '话后', closed: '已办结' };
export const RESCIND_REASONS = {
  expired: '超时未接', rejected: '已拒绝', node_lost: '节点失联',
  logged_out: '已退出', drained: '节点维护', disconnected: '连接中断', abandoned: '来电人已挂机',
};
export const HANGUP_BY = { caller: '市民挂机', agent: '坐席挂机', media_timeout: '通话中断（无语音）', node_lost: '节点失联' };
export const LOGIN_ERRORS = { bad_credentials: '工号或密码错误', too_many_attempts: '尝试次数过多，请一分钟后再试' };
export const FROM = { citizen: '来件人 citizen', agent: '坐席 agent', system: '系统 system' };
export const MSG_STATUS = { sent: '已发出 sent', delivered: '已送达 delivered', failed: '未发出/未送达 failed' };

export const labelOf = (pairs, v) => (pairs.find((p) => p[0] === v) || [v, v])[1];
export const channelLabel = (c) => `${CHANNELS[c] || c || '?'} ${c || ''}`.trim();
