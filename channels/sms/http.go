package sms

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"unicode/utf8"
)

// Register adds the enabled providers' push endpoints to mux:
// POST /channels/sms/aliyun, /tencent and /generic, and for a provider that
// sends, its delivery reports at /channels/sms/aliyun/reports and
// /channels/sms/tencent/reports. Any other provider name gets a 404 that
// says so.
func (g *Gateway) Register(mux *http.ServeMux) {
	if g.c.Aliyun.Enabled {
		mux.HandleFunc("POST /channels/sms/aliyun", g.aliyun)
	}
	if g.c.Tencent.Enabled {
		mux.HandleFunc("POST /channels/sms/tencent", g.tencent)
	}
	if g.c.Generic.Enabled {
		mux.HandleFunc("POST /channels/sms/generic", g.generic)
	}
	if g.c.Aliyun.Send.Enabled {
		mux.HandleFunc("POST /channels/sms/aliyun/reports", func(w http.ResponseWriter, r *http.Request) {
			g.reports(w, r, PathAliyun, g.c.Aliyun.Token, parseAliyunReports, aliyunAnswerBody)
		})
	}
	if g.c.Tencent.Send.Enabled {
		mux.HandleFunc("POST /channels/sms/tencent/reports", func(w http.ResponseWriter, r *http.Request) {
			g.reports(w, r, PathTencent, g.c.Tencent.Token, parseTencentReports, tencentAnswerBody)
		})
	}
	mux.HandleFunc("POST /channels/sms/{provider}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown_provider",
			"message": "no SMS provider " + quote(r.PathValue("provider")) + " is enabled here"})
	})
}

// pushError is a push we refuse, with the HTTP status to answer.
type pushError struct {
	status int
	msg    string
}

func (e *pushError) Error() string { return e.msg }

func refuse(status int, format string, args ...any) error {
	return &pushError{status: status, msg: fmt.Sprintf(format, args...)}
}

// readBody reads a push body within the size limit; it must be UTF-8.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.c.MaxBodyBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, refuse(http.StatusRequestEntityTooLarge, "body: larger than %d bytes", g.c.MaxBodyBytes)
	case err != nil:
		return nil, refuse(http.StatusBadRequest, "body: %v", err)
	case !utf8.Valid(body):
		return nil, refuse(http.StatusBadRequest, "body: not valid UTF-8")
	}
	return body, nil
}

// checkToken compares the URL's token with the configured one in constant
// time; no token configured lets every push in.
func checkToken(r *http.Request, want string) error {
	if want == "" {
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("token")), []byte(want)) != 1 {
		return refuse(http.StatusForbidden, "token: missing or wrong")
	}
	return nil
}

// status maps a take error to an HTTP status: 400 for what never works,
// 503 (retry) for the rest.
func status(err error) int {
	var pe *pushError
	switch {
	case errors.As(err, &pe):
		return pe.status
	case permanent(err):
		return http.StatusBadRequest
	}
	return http.StatusServiceUnavailable
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// jsonError names the field a decoding error is about.
func jsonError(prefix string, err error) error {
	var ute *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &ute) && ute.Type == reflect.TypeFor[flexID]():
		return refuse(http.StatusBadRequest, "%s%s: must be a whole number or a string", prefix, ute.Field)
	case errors.As(err, &ute):
		return refuse(http.StatusBadRequest, "%s%s: must be a %s", prefix, ute.Field, ute.Type.String())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return refuse(http.StatusBadRequest, "body: malformed JSON: it ends early")
	case errors.As(err, &se):
		return refuse(http.StatusBadRequest, "body: malformed JSON at byte %d", se.Offset)
	}
	return refuse(http.StatusBadRequest, "body: %v", err)
}

// flexID is an id a provider sends as a JSON number or a string.
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexID(s)
		return nil
	}
	var n json.Number
	bad := &json.UnmarshalTypeError{Value: "number", Type: reflect.TypeFor[flexID]()}
	if err := json.Unmarshal(b, &n); err != nil {
		return bad
	}
	if _, err := n.Int64(); err != nil {
		return bad
	}
	*f = flexID(n.String())
	return nil
}
