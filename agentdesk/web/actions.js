// What the keyboard shortcuts and buttons do. The desk sets defaults
// (answer: accept the oldest offer; hangup: end the current contact;
// wrapup: go to the wrap-up form, or send it); another module (the browser
// phone) may replace answer, hangup and mute. Call as actions.x?.().
export const actions = {};
