// Package smpp is a small codec for the part of SMPP 3.4 an ESME (our side)
// needs to receive citizens' SMS from an SMS centre and send replies: the
// PDU frame and the bind, deliver_sm, submit_sm, enquire_link, unbind and
// generic_nack bodies with their TLVs; the short-message alphabets (GSM 7-bit
// with its extension table, IA5/ASCII, Latin-1, UCS-2 and GBK); the user
// data header and SAR TLVs of long messages and their reassembly; and the
// text of delivery receipts.
//
// It does no I/O beyond reading one frame: sessions, binds and retries live
// in package sms. Every decoder returns an error naming the field and the
// rule it breaks, never panics, and respects the lengths the specification
// sets (SMPP 3.4, section 5.2 and 5.3).
package smpp
