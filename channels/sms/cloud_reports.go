package sms

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/lianxin/lianxin/channels/sms/smpp"
	"go.uber.org/zap"
)

// cloudReport is one delivery report of an SMS we sent through a provider.
type cloudReport struct {
	id        string // BizId, SerialNo
	delivered bool
	code      string // the carrier's or provider's code for a failure
	msg       string
}

// aliyunReport is one item of Aliyun's SmsReport push (短信发送状态报告).
type aliyunReport struct {
	PhoneNumber string `json:"phone_number"`
	SendTime    string `json:"send_time"`
	ReportTime  string `json:"report_time"`
	Success     *bool  `json:"success"`
	ErrCode     string `json:"err_code"`
	ErrMsg      string `json:"err_msg"`
	SmsSize     string `json:"sms_size"`
	BizID       flexID `json:"biz_id"`
	OutID       string `json:"out_id"`
}

// tencentReport is one item of Tencent Cloud's status callback (短信下发状态回调).
type tencentReport struct {
	UserReceiveTime string `json:"user_receive_time"`
	NationCode      string `json:"nationcode"`
	Mobile          string `json:"mobile"`
	ReportStatus    string `json:"report_status"`
	ErrMsg          string `json:"errmsg"`
	Description     string `json:"description"`
	SID             string `json:"sid"`
}

// maxReportID bounds a provider's message id.
const maxReportID = 128

// jsonArray reads a JSON array of T (a lone object is taken as one item);
// an empty one is refused as having no what ("reports", "messages").
func jsonArray[T any](body []byte, what string) ([]T, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '{' {
		body = append(append([]byte{'['}, body...), ']')
	}
	var items []T
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&items); err != nil {
		return nil, jsonError("[]", err)
	}
	if dec.More() {
		return nil, refuse(http.StatusBadRequest, "body: one JSON array expected")
	}
	if len(items) == 0 {
		return nil, refuse(http.StatusBadRequest, "body: no %s", what)
	}
	return items, nil
}

// parseAliyunReports reads an SmsReport push; every item is checked before
// any is filed.
func parseAliyunReports(body []byte) ([]cloudReport, error) {
	items, err := jsonArray[aliyunReport](body, "reports")
	if err != nil {
		return nil, err
	}
	out := make([]cloudReport, 0, len(items))
	for i, it := range items {
		id := strings.TrimSpace(string(it.BizID))
		switch {
		case id == "":
			return nil, refuse(http.StatusBadRequest, "[%d].biz_id: missing", i)
		case len(id) > maxReportID:
			return nil, refuse(http.StatusBadRequest, "[%d].biz_id: longer than %d characters", i, maxReportID)
		case it.Success == nil:
			return nil, refuse(http.StatusBadRequest, "[%d].success: missing (want true or false)", i)
		}
		r := cloudReport{id: id, delivered: *it.Success, code: strings.TrimSpace(it.ErrCode), msg: it.ErrMsg}
		if !r.delivered && r.code == "" {
			r.code = "UNDELIV"
		}
		out = append(out, r)
	}
	return out, nil
}

// parseTencentReports reads a status callback; every item is checked
// before any is filed.
func parseTencentReports(body []byte) ([]cloudReport, error) {
	items, err := jsonArray[tencentReport](body, "reports")
	if err != nil {
		return nil, err
	}
	out := make([]cloudReport, 0, len(items))
	for i, it := range items {
		id := strings.TrimSpace(it.SID)
		switch {
		case id == "":
			return nil, refuse(http.StatusBadRequest, "[%d].sid: missing", i)
		case len(id) > maxReportID:
			return nil, refuse(http.StatusBadRequest, "[%d].sid: longer than %d characters", i, maxReportID)
		case it.ReportStatus != "SUCCESS" && it.ReportStatus != "FAIL":
			return nil, refuse(http.StatusBadRequest, "[%d].report_status: %s is not SUCCESS or FAIL", i,
				quote(it.ReportStatus))
		}
		r := cloudReport{id: id, delivered: it.ReportStatus == "SUCCESS", code: strings.TrimSpace(it.ErrMsg),
			msg: it.Description}
		if !r.delivered && r.code == "" {
			r.code = "UNDELIV"
		}
		out = append(out, r)
	}
	return out, nil
}

func aliyunAnswerBody(code int, msg string) any {
	if code == 0 {
		msg = "接收成功"
	} else if code < 0 {
		msg = "暂时无法接收，请重试"
	}
	return map[string]any{"code": code, "msg": msg}
}

func tencentAnswerBody(code int, msg string) any {
	if code == 0 {
		msg = "OK"
	} else if code < 0 {
		msg = "temporarily unavailable, retry"
	}
	return map[string]any{"result": code, "errmsg": msg}
}

// reports serves a provider's delivery report push: every item is checked
// before any is filed; the provider hears "received" once all are filed,
// and is asked to push again when Redis did not take one or one names an
// SMS we do not know (filing twice is harmless: an SMS is reported on the
// conversation once).
func (g *Gateway) reports(w http.ResponseWriter, r *http.Request, provider, token string,
	parse func([]byte) ([]cloudReport, error), answer func(int, string) any) {
	fail := func(err error) {
		st := status(err)
		if st == http.StatusServiceUnavailable {
			g.log.Warn(provider+" delivery report not filed; the provider will retry", zap.Error(err))
			writeJSON(w, st, answer(-1, ""))
			return
		}
		writeJSON(w, st, answer(1, err.Error()))
	}
	if err := checkToken(r, token); err != nil {
		fail(err)
		return
	}
	body, err := g.readBody(w, r)
	if err != nil {
		fail(err)
		return
	}
	reps, err := parse(body)
	if err != nil {
		fail(err)
		return
	}
	unknown := 0
	for _, rep := range reps {
		rc := smpp.Receipt{ID: provider + ":" + rep.id, Stat: "DELIVRD"}
		why := ""
		if !rep.delivered {
			rc.Stat = "UNDELIV"
			why = (&SendError{Provider: provider, Code: rep.code}).Chinese()
		}
		known, err := g.fileReceipt(r.Context(), rc, why)
		if err != nil {
			fail(err)
			return
		}
		if !known {
			unknown++
		}
	}
	if unknown > 0 {
		// A report can overtake our reading of the send's answer (or name
		// an SMS someone else sent on the account): the provider pushes
		// again a few times (Aliyun after 1, 5 and 10 minutes).
		g.log.Info(provider+" delivery report for an SMS not known (yet); asking for it again",
			zap.Int("unknown", unknown), zap.Int("reports", len(reps)))
		writeJSON(w, http.StatusServiceUnavailable, answer(-1, ""))
		return
	}
	writeJSON(w, http.StatusOK, answer(0, ""))
}
