package wechat_test

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/lianxin/lianxin/channels/wechat"
	"github.com/stretchr/testify/require"
)

func TestPublishedSampleOfficialAccount(t *testing.T) {
	c, err := wechat.NewCrypter(mpToken, mpAESKey, "", mpAppID)
	require.NoError(t, err)
	require.True(t, c.Verify(mpMsgSig, mpTimestamp, mpNonce, mpEncrypt), "the sample's msg_signature")
	require.False(t, c.Verify(mpMsgSig, mpTimestamp, "1320562133", mpEncrypt), "another nonce")
	msg, err := c.Decrypt(mpEncrypt)
	require.NoError(t, err)
	require.Contains(t, string(msg), "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>")
	require.Contains(t, string(msg), "<Content><![CDATA[abcdteT]]></Content>")
	require.Contains(t, string(msg), "<MsgId>6054768590064713728</MsgId>")

	other, err := wechat.NewCrypter(mpToken, mpAESKey, "", "wx0000000000000000")
	require.NoError(t, err)
	_, err = other.Decrypt(mpEncrypt)
	require.ErrorIs(t, err, wechat.ErrDecrypt, "a message for another AppID")
}

func TestPublishedSampleEncryption(t *testing.T) {
	// The Java sample encrypts with a fixed random prefix: our bytes must be
	// WeChat's, byte for byte.
	c, err := wechat.NewCrypter(javaToken, mpAESKey, "", javaAppID)
	require.NoError(t, err)
	require.Equal(t, javaEncrypt, c.Encrypt([]byte(javaMsg), [16]byte([]byte(javaRandom))))
	require.Equal(t, javaEncrypt2, c.Encrypt([]byte(javaMsg2), [16]byte([]byte(javaRandom))))
	msg, err := c.Decrypt(javaEncrypt2)
	require.NoError(t, err)
	require.Equal(t, javaMsg2, string(msg))
}

func TestPublishedSampleWeCom(t *testing.T) {
	c, err := wechat.NewCrypter(wcToken, wcAESKey, "", wcCorpID)
	require.NoError(t, err)
	require.True(t, c.Verify(wcVerifySig, wcVerifyTS, wcVerifyNon, wcEchoStr))
	echo, err := c.Decrypt(wcEchoStr)
	require.NoError(t, err)
	require.Equal(t, "1288432023552776189", string(echo))
	require.True(t, c.Verify(wcMsgSig, wcMsgTS, wcMsgNonce, wcEncrypt))
	msg, err := c.Decrypt(wcEncrypt)
	require.NoError(t, err)
	require.Contains(t, string(msg), "<FromUserName>ChenJiaShun</FromUserName>")
	require.Contains(t, string(msg), "<Content>你好</Content>")
}

func TestPreviousKeyStillOpens(t *testing.T) {
	const newKey = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
	old, err := wechat.NewCrypter(mpToken, mpAESKey, "", mpAppID)
	require.NoError(t, err)
	rotated, err := wechat.NewCrypter(mpToken, newKey, mpAESKey, mpAppID)
	require.NoError(t, err)
	msg, err := rotated.Decrypt(mpEncrypt)
	require.NoError(t, err, "a message sealed with the previous key")
	require.Contains(t, string(msg), "abcdteT")
	sealed := rotated.Encrypt([]byte("hi"), [16]byte{})
	_, err = old.Decrypt(sealed)
	require.ErrorIs(t, err, wechat.ErrDecrypt, "replies use the new key")
}

func TestBadKeys(t *testing.T) {
	for _, k := range []string{"", "short", mpAESKey + "A", "abcdefghijklmnopqrstuvwxyz0123456789ABCDE!G"} {
		_, err := wechat.NewCrypter("t", k, "", "wx")
		require.ErrorIs(t, err, wechat.ErrBadKey, k)
	}
}

func TestDecryptRefusesGarbage(t *testing.T) {
	c, err := wechat.NewCrypter(mpToken, mpAESKey, "", mpAppID)
	require.NoError(t, err)
	for _, s := range []string{"", "!!!!", "QUJD", base64.StdEncoding.EncodeToString(make([]byte, 15)),
		base64.StdEncoding.EncodeToString(make([]byte, 64))} {
		_, err := c.Decrypt(s)
		require.ErrorIs(t, err, wechat.ErrDecrypt, "%q", s)
	}
}

// FuzzDecrypt: any Encrypt field either fails with ErrDecrypt or opens to
// a message that seals and opens again to itself.
func FuzzDecrypt(f *testing.F) {
	c, err := wechat.NewCrypter(mpToken, mpAESKey, "", mpAppID)
	require.NoError(f, err)
	f.Add(mpEncrypt)
	f.Add(javaEncrypt)
	f.Add(mpEncrypt[:64])
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		msg, err := c.Decrypt(s)
		if err != nil {
			if !errorsIs(err, wechat.ErrDecrypt) {
				t.Fatalf("error is not ErrDecrypt: %v", err)
			}
			return
		}
		again, err := c.Decrypt(c.Encrypt(msg, [16]byte{1}))
		if err != nil || !bytes.Equal(again, msg) {
			t.Fatalf("re-sealed message does not open to itself: %v", err)
		}
	})
}

// FuzzSealOpen: sealing then opening gives the message back; the signature
// over a sealed message fails once any byte of it changes, and a changed
// byte in the last two AES blocks fails decryption itself.
func FuzzSealOpen(f *testing.F) {
	c, err := wechat.NewCrypter(mpToken, mpAESKey, "", mpAppID)
	require.NoError(f, err)
	f.Add([]byte("<xml><Content><![CDATA[你好]]></Content></xml>"), []byte("0123456789abcdef"), uint16(3), byte(1))
	f.Add([]byte(""), []byte{}, uint16(0), byte(0x80))
	f.Add(bytes.Repeat([]byte{32}, 100), []byte("x"), uint16(500), byte(0xff))
	f.Fuzz(func(t *testing.T, msg, random []byte, at uint16, flip byte) {
		var rnd [16]byte
		copy(rnd[:], random)
		enc := c.Encrypt(msg, rnd)
		got, err := c.Decrypt(enc)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("round trip: %v", err)
		}
		if flip == 0 {
			flip = 1
		}
		sig := c.Sign("1409735669", "42", enc)
		b := []byte(enc)
		i := int(at) % len(b)
		b[i] ^= flip
		if c.Verify(sig, "1409735669", "42", string(b)) {
			t.Fatalf("signature holds after byte %d changed", i)
		}
		raw, _ := base64.StdEncoding.DecodeString(enc)
		j := len(raw) - 32 + int(at)%32
		raw[j] ^= flip
		if got, err := c.Decrypt(base64.StdEncoding.EncodeToString(raw)); err == nil {
			t.Fatalf("decrypted %q after byte %d of the last blocks changed", got, j)
		}
	})
}
