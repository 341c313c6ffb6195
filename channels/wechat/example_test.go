package wechat_test

import (
	"fmt"

	"github.com/lianxin/lianxin/channels/wechat"
)

// Check a WeCom URL verification and answer with its echostr, using the
// values of WeCom's published sample.
func ExampleCrypter() {
	c, err := wechat.NewCrypter("hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt", "",
		"ww1436e0e65a779aee")
	if err != nil {
		panic(err)
	}
	echostr := "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
	fmt.Println(c.Verify("012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb", "1476416373", "47744683", echostr))
	plain, err := c.Decrypt(echostr)
	fmt.Println(string(plain), err)
	// Output:
	// true
	// 1288432023552776189 <nil>
}

// An official account's URL verification: the hex SHA-1 of the sorted
// token, timestamp and nonce.
func ExampleSignature() {
	fmt.Println(wechat.Signature("spamtest", "1409735669", "1320562132"))
	// Output: 16120ec1b8dbb870f510d87ce6bc2463eae6ca1a
}
