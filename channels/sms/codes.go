package sms

import "strings"

// What the providers' error codes mean, in the words the desk shows. Codes
// from the providers' SendSms error code lists and delivery report codes;
// a code not listed is shown as it is.
var (
	aliyunCodes = map[string]string{
		"isv.MOBILE_NUMBER_ILLEGAL":       "手机号码格式不正确",
		"isv.SMS_TEMPLATE_ILLEGAL":        "短信模板不存在或未通过审核",
		"isv.SMS_SIGNATURE_ILLEGAL":       "短信签名不存在或未通过审核",
		"isv.TEMPLATE_MISSING_PARAMETERS": "模板变量缺少参数",
		"isv.INVALID_PARAMETERS":          "参数格式不正确",
		"isv.PARAM_LENGTH_LIMIT":          "模板变量超出长度限制",
		"isv.PARAM_NOT_SUPPORT_URL":       "模板变量中不能含有网址",
		"isv.BLACK_KEY_CONTROL_LIMIT":     "短信内容含有禁止发送的关键字",
		"isv.INVALID_JSON_PARAM":          "模板变量不是合法的 JSON",
		"isv.MOBILE_COUNT_OVER_LIMIT":     "手机号码数量超过上限",
		"isv.AMOUNT_NOT_ENOUGH":           "账户余额不足",
		"isv.OUT_OF_SERVICE":              "短信业务已停机（账户欠费）",
		"isv.ACCOUNT_NOT_EXISTS":          "短信账户不存在",
		"isv.ACCOUNT_ABNORMAL":            "短信账户异常",
		"isv.DENY_IP_RANGE":               "发送方 IP 所在地区被禁止",
		"isv.BUSINESS_LIMIT_CONTROL":      "触发对该号码的发送频率限制，稍后重试",
		"isv.DAY_LIMIT_CONTROL":           "触发当日发送量限制，稍后重试",
		"isp.SYSTEM_ERROR":                "短信平台系统错误，稍后重试",
		"isp.GATEWAY_ERROR":               "运营商网关错误，稍后重试",
		"Throttling.User":                 "请求过于频繁（限流），稍后重试",
		"ServiceUnavailable":              "短信服务暂时不可用，稍后重试",
		"InternalError":                   "短信平台内部错误，稍后重试",
		"SignatureNonceUsed":              "请求随机数重复，稍后重试",
		"SignatureDoesNotMatch":           "请求签名不匹配（请检查 AccessKey Secret 配置）",
		"InvalidAccessKeyId.NotFound":     "AccessKey ID 不存在（请检查配置）",
		"InvalidTimeStamp.Expired":        "请求时间戳已过期（请检查服务器时钟）",
		"Forbidden.RAM":                   "AccessKey 没有发送短信的权限",
		"isp.RAM_PERMISSION_DENY":         "AccessKey 没有发送短信的权限",
	}
	aliyunTemp = []string{"isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL", "isp.SYSTEM_ERROR",
		"isp.GATEWAY_ERROR", "Throttling", "ServiceUnavailable", "InternalError", "SignatureNonceUsed"}

	tencentCodes = map[string]string{
		"InvalidParameterValue.IncorrectPhoneNumber":               "手机号码格式不正确",
		"FailedOperation.TemplateIncorrectOrUnapproved":            "短信模板不存在或未通过审核",
		"FailedOperation.SignatureIncorrectOrUnapproved":           "短信签名不存在或未通过审核",
		"InvalidParameterValue.TemplateParameterFormatError":       "模板变量格式不正确",
		"InvalidParameterValue.TemplateParameterLengthLimit":       "模板变量超出长度限制",
		"FailedOperation.TemplateParamSetNotMatchApprovedTemplate": "模板变量个数与审核通过的模板不符",
		"FailedOperation.ContainSensitiveWord":                     "短信内容含有敏感词",
		"FailedOperation.InsufficientBalanceInSmsPackage":          "短信套餐包余量不足",
		"FailedOperation.PhoneNumberInBlacklist":                   "该号码已退订或在黑名单中",
		"FailedOperation.PhoneNumberParseFail":                     "无法解析手机号码",
		"UnauthorizedOperation.SmsSdkAppIdVerifyFail":              "SmsSdkAppId 校验失败（请检查配置）",
		"AuthFailure.SignatureFailure":                             "请求签名不匹配（请检查 SecretKey 配置）",
		"AuthFailure.SecretIdNotFound":                             "SecretId 不存在（请检查配置）",
		"AuthFailure.SignatureExpire":                              "请求签名已过期（请检查服务器时钟）",
		"LimitExceeded.PhoneNumberThirtySecondLimit":               "对该号码 30 秒内发送过多，稍后重试",
		"LimitExceeded.PhoneNumberOneHourLimit":                    "对该号码 1 小时内发送过多，稍后重试",
		"LimitExceeded.PhoneNumberDailyLimit":                      "对该号码当日发送过多，稍后重试",
		"LimitExceeded.DailyLimit":                                 "当日发送量超过上限，稍后重试",
		"LimitExceeded.DeliveryFrequencyLimit":                     "发送频率超过上限，稍后重试",
		"RequestLimitExceeded":                                     "请求过于频繁（限流），稍后重试",
		"InternalError.Timeout":                                    "短信平台超时，稍后重试",
		"InternalError.OtherError":                                 "短信平台内部错误，稍后重试",
		"InternalError":                                            "短信平台内部错误，稍后重试",
	}
	tencentTemp = []string{"LimitExceeded.PhoneNumberThirtySecondLimit", "LimitExceeded.PhoneNumberOneHourLimit",
		"LimitExceeded.PhoneNumberDailyLimit", "LimitExceeded.DailyLimit", "LimitExceeded.DeliveryFrequencyLimit",
		"RequestLimitExceeded", "InternalError", "FailedOperation.FailResolvePacket"}

	// Delivery report codes (carrier status words, shared by both).
	reportCodes = map[string]string{
		"DELIVRD": "已送达",
		"UNDELIV": "运营商未能送达",
		"EXPIRED": "手机长时间关机或不在服务区，短信过期未送达",
		"REJECTD": "被运营商拒绝",
		"DELETED": "被运营商删除",
		"UNKNOWN": "送达状态未知",
		"MK:0000": "空号或停机",
		"MK:0001": "空号",
		"MK:0005": "用户停机或欠费",
		"MK:0008": "手机关机或不在服务区",
		"MK:0015": "用户拒收（黑名单）",
		"MI:0013": "手机号码不存在",
		"IC:0015": "关机或不在服务区",
		"DB:0141": "用户拒收（黑名单）",
		"NOROUTE": "无路由，该号码不可达",
	}
)

// explainCode is what a provider's error code means, in Chinese.
func explainCode(provider, code string) string {
	table := aliyunCodes
	if provider == PathTencent {
		table = tencentCodes
	}
	if s, ok := table[code]; ok {
		return s
	}
	if s, ok := reportCodes[strings.ToUpper(code)]; ok {
		return s
	}
	switch {
	case strings.HasPrefix(code, "HTTP5"):
		return "短信平台暂时无法处理请求，稍后重试"
	case code == "NetworkError":
		return "连接短信平台失败，稍后重试"
	case strings.HasPrefix(code, "HTTP"):
		return "短信平台的应答无法识别"
	}
	return "未知错误码，请查阅服务商文档"
}

func aliyunTemporary(code string) bool { return hasPrefixIn(code, aliyunTemp) }

func tencentTemporary(code string) bool { return hasPrefixIn(code, tencentTemp) }

func hasPrefixIn(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if s == p || strings.HasPrefix(s, p+".") {
			return true
		}
	}
	return false
}
