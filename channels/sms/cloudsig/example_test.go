package cloudsig_test

import (
	"fmt"
	"net/url"

	"github.com/lianxin/lianxin/channels/sms/cloudsig"
)

// Signing an Aliyun RPC request: every parameter but Signature, sorted and
// percent-encoded, under the AccessKey secret plus "&".
func ExampleAliyunRPC() {
	p := url.Values{}
	p.Set("AccessKeyId", "testId")
	p.Set("Action", "SendSms")
	p.Set("Timestamp", "2017-07-12T02:42:19Z")
	fmt.Println(cloudsig.AliyunCanonicalQuery(p))
	fmt.Println(len(cloudsig.AliyunRPC("POST", p, "testSecret")))
	// Output:
	// AccessKeyId=testId&Action=SendSms&Timestamp=2017-07-12T02%3A42%3A19Z
	// 28
}

// The Authorization header of a Tencent Cloud request.
func ExampleTC3_Authorization() {
	r := cloudsig.TC3{Method: "POST", Path: "/", Service: "sms", Timestamp: 1551113065, Body: []byte(`{}`),
		Headers: map[string]string{"content-type": "application/json; charset=utf-8", "host": "sms.tencentcloudapi.com"}}
	fmt.Println(r.Scope(), r.SignedHeaders())
	// Output: 2019-02-25/sms/tc3_request content-type;host
}
