// Package sip is Lianxin's voice front end: a B2BUA on sipgo that answers
// calls to 12345 and to every merged hotline number, greets the caller,
// runs the line's DTMF menu, queues the call as a contact, holds the caller
// with the shared hold stream and announcements of position and expected
// wait, rings the agent's registered SIP phone when routing offers the call,
// and bridges the two legs (media in sip/media).
//
// The node that answers a call owns its media for the call's whole life;
// the contact records that node. Routing may offer the call to an agent
// whose desk is on any node: the event stream tells the call's node to ring
// the agent's phone, whose registration every node can read in Redis.
//
// One goroutine runs each call (its context ends when the call ends), plus
// one reader goroutine per media leg; paced audio (prompts, hold) is sent by
// the few sharded loops of media.Pacer.
package sip
