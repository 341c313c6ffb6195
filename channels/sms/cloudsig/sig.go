// Package cloudsig computes the request signatures of the cloud SMS APIs
// Lianxin sends through: Aliyun's RPC signature (HMAC-SHA1, signature
// version 1.0) and Tencent Cloud's TC3-HMAC-SHA256. The same functions sign
// our requests and, in the test fakes, check them the way the providers do.
package cloudsig

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// PercentEncode is Aliyun's encoding of names and values: RFC 3986
// unreserved characters (A-Z a-z 0-9 - _ . ~) stay, every other byte of the
// UTF-8 form is %XX in upper case (so a space is %20, never +).
func PercentEncode(s string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) * 3)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' ||
			c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	return b.String()
}

// AliyunCanonicalQuery is the parameters (without Signature) sorted by
// name, each name=value percent-encoded, joined by &. A name given twice
// takes its first value.
func AliyunCanonicalQuery(params url.Values) string {
	names := make([]string, 0, len(params))
	for k := range params {
		if k != "Signature" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for i, k := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(PercentEncode(k))
		b.WriteByte('=')
		b.WriteString(PercentEncode(params.Get(k)))
	}
	return b.String()
}

// AliyunStringToSign is METHOD&%2F&percentEncode(canonical query).
func AliyunStringToSign(method string, params url.Values) string {
	return strings.ToUpper(method) + "&" + PercentEncode("/") + "&" + PercentEncode(AliyunCanonicalQuery(params))
}

// AliyunRPC is the RPC signature: base64(HMAC-SHA1(secret + "&",
// string to sign)).
func AliyunRPC(method string, params url.Values, secret string) string {
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(AliyunStringToSign(method, params)))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// TC3 is what a TC3-HMAC-SHA256 signature covers. Headers are the signed
// headers, names in lower case; their values are taken as given, trimmed.
type TC3 struct {
	Method    string
	Path      string // "/"
	Query     string // the canonical query string; "" for POST
	Headers   map[string]string
	Body      []byte
	Service   string // "sms"
	Timestamp int64  // X-TC-Timestamp, Unix seconds
}

// Date is the UTC day of the timestamp, as the credential scope has it.
func (r TC3) Date() string {
	return unixDate(r.Timestamp)
}

// SignedHeaders is the header names, sorted, joined by ";".
func (r TC3) SignedHeaders() string {
	names := make([]string, 0, len(r.Headers))
	for k := range r.Headers {
		names = append(names, strings.ToLower(k))
	}
	sort.Strings(names)
	return strings.Join(names, ";")
}

// CanonicalRequest is method, path, query, the canonical headers, the
// signed header names and the hex SHA-256 of the body, one per line.
func (r TC3) CanonicalRequest() string {
	names := strings.Split(r.SignedHeaders(), ";")
	lower := make(map[string]string, len(r.Headers))
	for k, v := range r.Headers {
		lower[strings.ToLower(k)] = strings.ToLower(strings.TrimSpace(v))
	}
	var h strings.Builder
	for _, k := range names {
		h.WriteString(k + ":" + lower[k] + "\n")
	}
	body := sha256.Sum256(r.Body)
	return strings.Join([]string{strings.ToUpper(r.Method), r.Path, r.Query, h.String(), r.SignedHeaders(),
		hex.EncodeToString(body[:])}, "\n")
}

// Scope is date/service/tc3_request.
func (r TC3) Scope() string { return r.Date() + "/" + r.Service + "/tc3_request" }

// StringToSign is the algorithm, the timestamp, the scope and the hex
// SHA-256 of the canonical request.
func (r TC3) StringToSign() string {
	cr := sha256.Sum256([]byte(r.CanonicalRequest()))
	return "TC3-HMAC-SHA256\n" + itoa(r.Timestamp) + "\n" + r.Scope() + "\n" + hex.EncodeToString(cr[:])
}

// Signature is the hex HMAC-SHA256 of the string to sign under the key
// derived from secretKey, the date and the service.
func (r TC3) Signature(secretKey string) string {
	k := hmacSHA256([]byte("TC3"+secretKey), r.Date())
	k = hmacSHA256(k, r.Service)
	k = hmacSHA256(k, "tc3_request")
	return hex.EncodeToString(hmacSHA256(k, r.StringToSign()))
}

// Authorization is the Authorization header's value.
func (r TC3) Authorization(secretID, secretKey string) string {
	return "TC3-HMAC-SHA256 Credential=" + secretID + "/" + r.Scope() + ", SignedHeaders=" + r.SignedHeaders() +
		", Signature=" + r.Signature(secretKey)
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func unixDate(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.DateOnly) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
