// Chinese labels for the codes the server sends. Codes stay in titles and
// data attributes; what an agent reads is Chinese.

export const STATES = {
  ready: '就绪', not_ready: '未就绪', offered: '振铃',
  busy: '忙碌', wrap_up: '话后', logged_out: '离线',
};
// Reasons an agent can pick; the server may send others (missed_offers, busy).
export const NOT_READY_REASONS = [['break', '小休'], ['meal', '用餐'], ['training', '培训'], ['meeting', '会议']];
export const REASONS = Object.assign(Object.fromEntries(NOT_READY_REASONS),
  { busy: '忙碌', missed_offers: '漏接过多', login: '刚登录', login_expired: '登录到期' }, /* REQUEUE_REASONS: */
  { media_lost: '网络中断', desk_lost: '工作台断线', shutdown: '服务器维护' });
// Why a call in talk went back to its queue (the server's `requeued`); also the not-ready reason it leaves.
export const REQUEUE_REASONS = { media_lost: '网络中断', desk_lost: '工作台断线', shutdown: '服务器维护' };
export const reasonLabel = (r) => REASONS[r] || '其他原因';
export const CHANNELS = {
  voice: '电话', sms: '短信', wechat: '微信', mailbox: '信件', web: '网站', '110-transfer': '110转来',
};
// channelName tells letters apart: an e-mail (邮件) from a letter written
// in a web form (网信).
export function channelName(c) {
  if (c.channel === 'mailbox') return c.via === 'email' ? '邮件' : '网信';
  return CHANNELS[c.channel] || '其他渠道';
}
// Emergency kinds, as triage names them (channels/triage.go).
export const EMERGENCY = {
  fire: '火警', gas: '燃气泄漏', medical: '医疗急救', police: '治安警情', traffic: '交通事故',
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
export const LOGIN_ERRORS = {
  bad_credentials: '工号或密码错误', too_many_attempts: '尝试次数过多，请一分钟后再试',
  login_busy: '登录的人较多，请稍后再试', busy: '服务器繁忙，请稍后再试',
};
export const FROM = { citizen: '来件人', agent: '坐席', system: '系统' };
export const MSG_STATUS = { sent: '已发出', delivered: '已送达', failed: '未发出/未送达' };
// The server's error codes (PROTOCOL.md), and the fields a bad_message names.
export const ERRORS = {
  bad_message: '请求有误', unknown_type: '页面与服务器版本不一致，请刷新页面', not_found: '没有这件诉求',
  not_yours: '这件诉求已不在您名下', wrong_state: '当前状态下不能这样操作（可能已超时或已被处理）',
  unavailable: '服务器暂时无法处理，请稍后再试', no_reply_path: '无法回复：该渠道没有可用的回复方式',
  reply_window_closed: '无法回复：已超过微信回复期限', reply_rejected: '回复被服务商拒绝，未发出',
  replaced: '已在其他窗口登录', login_expired: '登录已到期：输入密码续期，或处理完手上的工作后重新登录',
  bad_token: '续期未成功，请重新输入密码',
};
export const FIELDS = {
  outcome: '请选择处理结果', request_type: '请选择诉求类型', contact: '受理编号有误', note: '备注过长（最多2000字）',
  text: '回复内容须为1至2000字', reason: '原因过长',
};
// errorText is an error message in Chinese; the server's English stays in
// the page's title attributes and logs only.
export function errorText(m) {
  if (m.code === 'bad_message') {
    const field = String(m.message || '').split(':')[0];
    if (FIELDS[field]) return FIELDS[field];
  }
  return ERRORS[m.code] || '操作未完成，请重试';
}
export const TRANSFER_STATUS = {
  pending: '推送中', sending: '推送中', sent: '已推送', accepted: '对方已接收', delivered: '已送达', done: '已完成',
  failed: '推送失败', rejected: '对方拒收',
};
export const RATINGS = { 1: '不满意', 2: '基本满意', 3: '满意' };

export const labelOf = (pairs, v) => (pairs.find((p) => p[0] === v) || [v, v])[1];

