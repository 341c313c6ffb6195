package cloudsig

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Aliyun's published example for SendSms (help.aliyun.com document 56189).
func TestAliyunRPCPublishedExample(t *testing.T) {
	p := url.Values{}
	for k, v := range map[string]string{"AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123",
		"PhoneNumbers": "15300000001", "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用",
		"SignatureMethod": "HMAC-SHA1", "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
		"SignatureVersion": "1.0", "TemplateCode": "SMS_71390007", "TemplateParam": `{"customer":"test"}`,
		"Timestamp": "2017-07-12T02:42:19Z", "Version": "2017-05-25"} {
		p.Set(k, v)
	}
	sts := AliyunStringToSign("GET", p)
	require.True(t, strings.HasPrefix(sts, "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123"), sts)
	require.Contains(t, sts, "SignName%3D%25E9%2598%25BF%25E9%2587%258C%25E4%25BA%2591")
	require.Contains(t, sts, "TemplateParam%3D%257B%2522customer%2522%253A%2522test%2522%257D")
	require.Contains(t, sts, "Timestamp%3D2017-07-12T02%253A42%253A19Z")
	require.Equal(t, "zJDF+Lrzhj/ThnlvIToysFRq6t4=", AliyunRPC("GET", p, "testSecret"))
	// Signature itself is never signed; another secret gives another signature.
	p.Set("Signature", "x")
	require.Equal(t, "zJDF+Lrzhj/ThnlvIToysFRq6t4=", AliyunRPC("GET", p, "testSecret"))
	require.NotEqual(t, "zJDF+Lrzhj/ThnlvIToysFRq6t4=", AliyunRPC("GET", p, "testSecret2"))
}

func TestPercentEncode(t *testing.T) {
	require.Equal(t, "a%20b%2A~-_.%2B%2F%3D", PercentEncode("a b*~-_.+/="))
	require.Equal(t, "%E4%B8%AD", PercentEncode("中"))
}

// Tencent Cloud's published TC3-HMAC-SHA256 example (document 382/40467).
func TestTC3PublishedExample(t *testing.T) {
	r := TC3{Method: "POST", Path: "/", Headers: map[string]string{
		"Content-Type": "application/json; charset=utf-8", "Host": "cvm.tencentcloudapi.com"},
		Body:    []byte(`{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}`),
		Service: "cvm", Timestamp: 1551113065}
	require.Equal(t, "2019-02-25/cvm/tc3_request", r.Scope())
	require.Equal(t, "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\n"+
		"content-type;host\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064", r.CanonicalRequest())
	require.Equal(t, "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
		r.Signature("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"))
	require.Equal(t, "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, "+
		"SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
		r.Authorization("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"))
	r.Body = append(r.Body, ' ')
	require.NotEqual(t, "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
		r.Signature("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"))
}
