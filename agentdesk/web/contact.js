// How a contact is named on the desk.
import { fmtPhone } from './dom.js';

// callerOf is the citizen's number for a call, their name or address otherwise.
export function callerOf(c) {
  const citizen = c.citizen || {};
  if (c.channel === 'voice') return fmtPhone(citizen.phone || citizen.address) || '号码未显示';
  return citizen.name || citizen.address || '';
}

// lineOf names the line: its name, and its number when the name lacks it.
export function lineOf(c) {
  if (!c.line_name) return c.line || '';
  return c.line && !c.line_name.includes(c.line) ? `${c.line_name} (${c.line})` : c.line_name;
}

// subjectOf names a contact in the list: a call by its caller's number
// (every call's subject is the same line name), others by their subject.
export function subjectOf(c) {
  if (c.channel === 'voice') return `来电 ${callerOf(c)}`;
  if (c.subject) return c.subject;
  return (c.citizen && c.citizen.name) || '（无主题）';
}
