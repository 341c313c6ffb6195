package wechat

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// blockSize is WXBizMsgCrypt's PKCS#7 block: 32 bytes, not AES's 16.
const blockSize = 32

// maxEncrypted bounds an Encrypt field before it is decoded.
const maxEncrypted = 1 << 20

// Crypter is WeChat's message crypto (WXBizMsgCrypt) for one account: the
// signature over token, timestamp, nonce (and the encrypted message), and
// AES-256-CBC with key = base64(EncodingAESKey+"="), IV = the key's first 16
// bytes, PKCS#7 to 32-byte blocks, plaintext = 16 random bytes ‖ 4-byte
// big-endian length ‖ message ‖ receive id (AppID or CorpID).
type Crypter struct {
	token     string
	receiveID string
	keys      [][]byte // current first, then the previous one
}

// NewCrypter returns the crypto of an account. previous is the
// EncodingAESKey before the last change, or "": messages WeChat encrypted
// with it are still read while the change settles.
func NewCrypter(token, encodingAESKey, previous, receiveID string) (*Crypter, error) {
	c := &Crypter{token: token, receiveID: receiveID}
	for i, k := range []string{encodingAESKey, previous} {
		if k == "" && i == 1 {
			break
		}
		key, err := aesKey(k)
		if err != nil {
			return nil, err
		}
		c.keys = append(c.keys, key)
	}
	return c, nil
}

func aesKey(encodingAESKey string) ([]byte, error) {
	if len(encodingAESKey) != 43 {
		return nil, fmt.Errorf("%w: EncodingAESKey has %d characters, not 43", ErrBadKey, len(encodingAESKey))
	}
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%w: EncodingAESKey is not the base64 of 32 bytes", ErrBadKey)
	}
	return key, nil
}

// Signature is WeChat's signature: the hex SHA-1 of the parts sorted and
// joined (token, timestamp, nonce, and the Encrypt field for msg_signature).
func Signature(parts ...string) string {
	p := append([]string(nil), parts...)
	sort.Strings(p)
	sum := sha1.Sum([]byte(strings.Join(p, "")))
	return hex.EncodeToString(sum[:])
}

// Verify reports whether sig is the signature of the token with the parts.
func (c *Crypter) Verify(sig string, parts ...string) bool {
	want := Signature(append(parts, c.token)...)
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(sig)), []byte(want)) == 1
}

// Sign is the signature of the token with the parts.
func (c *Crypter) Sign(parts ...string) string { return Signature(append(parts, c.token)...) }

// Encrypt seals msg with the current key; random is the 16-byte prefix
// (fresh random bytes in use, fixed in tests against published vectors).
func (c *Crypter) Encrypt(msg []byte, random [16]byte) string {
	n := 16 + 4 + len(msg) + len(c.receiveID)
	pad := blockSize - n%blockSize
	buf := make([]byte, n+pad)
	copy(buf, random[:])
	binary.BigEndian.PutUint32(buf[16:], uint32(len(msg)))
	copy(buf[20:], msg)
	copy(buf[20+len(msg):], c.receiveID)
	for i := n; i < len(buf); i++ {
		buf[i] = byte(pad)
	}
	block, _ := aes.NewCipher(c.keys[0]) // a 32-byte key never fails
	cipher.NewCBCEncrypter(block, c.keys[0][:16]).CryptBlocks(buf, buf)
	return base64.StdEncoding.EncodeToString(buf)
}

// Decrypt opens an Encrypt field with the current key, then the previous
// one, and checks that the message is for this account's receive id.
func (c *Crypter) Decrypt(encrypted string) ([]byte, error) {
	if len(encrypted) > maxEncrypted {
		return nil, fmt.Errorf("%w: Encrypt is longer than %d bytes", ErrDecrypt, maxEncrypted)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encrypted))
	if err != nil {
		return nil, fmt.Errorf("%w: Encrypt is not base64", ErrDecrypt)
	}
	if len(raw) == 0 || len(raw)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: Encrypt is %d bytes, not a whole number of AES blocks", ErrDecrypt, len(raw))
	}
	var first error
	for _, key := range c.keys {
		msg, err := c.open(key, raw)
		if err == nil {
			return msg, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

func (c *Crypter) open(key, raw []byte) ([]byte, error) {
	buf := make([]byte, len(raw))
	block, _ := aes.NewCipher(key)
	cipher.NewCBCDecrypter(block, key[:16]).CryptBlocks(buf, raw)
	pad := int(buf[len(buf)-1])
	if pad < 1 || pad > blockSize || pad > len(buf) {
		return nil, fmt.Errorf("%w: bad PKCS#7 padding", ErrDecrypt)
	}
	if !bytes.Equal(buf[len(buf)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return nil, fmt.Errorf("%w: bad PKCS#7 padding", ErrDecrypt)
	}
	buf = buf[:len(buf)-pad]
	if len(buf) < 20 {
		return nil, fmt.Errorf("%w: plaintext too short", ErrDecrypt)
	}
	n := binary.BigEndian.Uint32(buf[16:20])
	if uint64(n) > uint64(len(buf)-20) {
		return nil, fmt.Errorf("%w: message length %d passes the plaintext", ErrDecrypt, n)
	}
	msg, id := buf[20:20+n], buf[20+n:]
	if subtle.ConstantTimeCompare(id, []byte(c.receiveID)) != 1 {
		return nil, fmt.Errorf("%w: the message is for another AppID/CorpID", ErrDecrypt)
	}
	return msg, nil
}
