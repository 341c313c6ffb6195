// Package media is Lianxin's own small media code for voice calls: G.711 µ-law and A-law, WAV prompts decoded once
// into shared clips, RFC 4733 telephone-events and DTMF detection, an RTP port pool, and the Leg — one party's RTP
// endpoint with one continuous outbound stream for its whole life, whatever it plays.
//
// What a leg sends comes from one of four sources, switched at any time without restarting its sequence numbers or
// timestamps: a Player (prompts), a HoldStream (one per hold class, shared by every waiting caller), nothing (Mute),
// or the other party (Bridge). Players and hold streams are paced by a Pacer: a few sharded sender loops that, on
// each 20 ms tick, stamp every paced leg's own RTP header on a shared, pre-encoded payload and send it. Bridged legs
// relay each packet at once from the receiving leg's read goroutine, transcoded by table where the codecs differ,
// with telephone-events relayed as events.
//
// Nothing on the per-packet paths (Leg.Run's reads, the pacer's sends, the bridge relay, DTMF detection) allocates.
package media
