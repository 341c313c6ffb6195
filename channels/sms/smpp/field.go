package smpp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// decoder reads the fields of a PDU body; the first error sticks and names
// the field.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte(field string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.err = bodyErr(field, "missing: the PDU ends early")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// cstring reads a C-Octet String of at most max octets with its NUL.
func (d *decoder) cstring(field string, max int) string {
	if d.err != nil {
		return ""
	}
	i := bytes.IndexByte(d.b, 0)
	if i < 0 {
		d.err = bodyErr(field, "no NUL terminator before the PDU ends")
		return ""
	}
	if i+1 > max {
		d.err = bodyErr(field, "%d octets with its NUL, more than %d", i+1, max)
		return ""
	}
	s := string(d.b[:i])
	d.b = d.b[i+1:]
	if !printable(s) {
		d.err = bodyErr(field, "%q has bytes that are not printable ASCII", s)
		return ""
	}
	return s
}

// time reads an absolute or relative time: empty, or 16 characters.
func (d *decoder) time(field string) string {
	s := d.cstring(field, 17)
	if d.err == nil && len(s) != 0 && len(s) != 16 {
		d.err = bodyErr(field, "%q must be empty or 16 characters", s)
	}
	return s
}

func (d *decoder) bytes(field string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.err = bodyErr(field, "%d octets announced, %d left", n, len(d.b))
		return nil
	}
	if n == 0 {
		d.b = d.b[n:]
		return nil
	}
	out := bytes.Clone(d.b[:n])
	d.b = d.b[n:]
	return out
}

func (d *decoder) tlvs() []TLV {
	var out []TLV
	for d.err == nil && len(d.b) > 0 {
		if len(d.b) < 4 {
			d.err = bodyErr("TLV", "%d stray octets where a tag and length should be", len(d.b))
			return nil
		}
		tag := binary.BigEndian.Uint16(d.b)
		n := int(binary.BigEndian.Uint16(d.b[2:]))
		d.b = d.b[4:]
		v := d.bytes(fmt.Sprintf("TLV 0x%04X", tag), n)
		out = append(out, TLV{Tag: tag, Value: v})
	}
	return out
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return utf8.ValidString(s)
}

// encoder appends fields; the first error sticks and names the field.
type encoder struct {
	b   []byte
	err error
}

func (e *encoder) byte(c byte) { e.b = append(e.b, c) }

func (e *encoder) cstring(field, s string, max int) {
	if e.err != nil {
		return
	}
	if len(s)+1 > max {
		e.err = fmt.Errorf("%w: %s: %q is longer than %d characters", ErrEncode, field, s, max-1)
		return
	}
	if !printable(s) {
		e.err = fmt.Errorf("%w: %s: %q has bytes that are not printable ASCII", ErrEncode, field, s)
		return
	}
	e.b = append(e.b, s...)
	e.b = append(e.b, 0)
}

func (e *encoder) time(field, s string) {
	if e.err == nil && len(s) != 0 && len(s) != 16 {
		e.err = fmt.Errorf("%w: %s: %q must be empty or 16 characters", ErrEncode, field, s)
		return
	}
	e.cstring(field, s, 17)
}
