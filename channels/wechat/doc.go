// Package wechat is the WeChat channel: the callback of official accounts
// (公众号) and WeCom apps (企业微信) on /channels/wechat/{account}, and the
// way agents' replies go back to citizens.
//
// A callback is verified by its signature (URL verification on GET,
// signature or msg_signature on POST) and, in safe and compatible mode and
// for WeCom, decrypted with the account's EncodingAESKey (WXBizMsgCrypt).
// Each message — text, image, voice with its recognised text, video, short
// video, location, link, or a menu click — becomes a contact through
// queue.Receive, or joins the one the same OpenID has open; WeChat is
// answered only after Redis has it, within its 5-second window, with a
// passive reply that carries the tracking number (encrypted when the push
// was). If Redis cannot take it WeChat gets a 503 and retries, and retries
// find the first contact by MsgId (events: sender, CreateTime and event).
// Images, voice and video are fetched by media id in the background, stored
// by content hash and added to the conversation. A new follower (subscribe)
// gets the account's welcome, which says how to use it; an unfollow
// (unsubscribe) ends the citizen's reply window at once (Follows, shared
// in Redis by the nodes).
//
// Agents' replies go out through the customer-service message API (WeCom:
// the app message API) with a cached access token, fetched again when
// WeChat says it is stale, retries with backoff on temporary errors, and
// WeChat's 48-hour window reported as channels.ErrReplyWindowClosed.
package wechat
