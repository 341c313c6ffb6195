// Package sms takes citizens' SMS into the queue and carries agents'
// replies back: HTTP pushes from cloud SMS providers (Aliyun SmsUp, Tencent
// Cloud reply callbacks, and a generic JSON push signed with HMAC-SHA256),
// and an SMPP 3.4 receiver or transceiver bind to an SMS centre (codec in
// package smpp). Every provider is acknowledged only after the message is
// durably in Redis, and told to retry otherwise; retries never duplicate.
//
// A message from a citizen who has an open SMS contact on the same line
// joins it; otherwise it starts a new contact, and the citizen gets the
// tracking number by SMS. Emergency words raise the priority, alert
// supervisors and tell the citizen at once which emergency number to call.
//
// SMS go out on the path the answer rule (Config.Answer) picks: the SMPP
// transceiver bind, or Aliyun's or Tencent Cloud's SendSms API from approved
// templates (signatures in package cloudsig). Every SMS we send on our own
// waits in a durable outbox; cloud sends are retried on temporary errors
// and a permanent error is put on the conversation with the provider's code
// in Chinese. The providers' delivery reports, pushed to any node, are
// matched to the SMS in Redis (WithSharedReceipts).
package sms
