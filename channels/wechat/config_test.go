package wechat_test

import (
	"testing"

	"github.com/lianxin/lianxin/channels/wechat"
	"github.com/stretchr/testify/require"
)

func TestConfigValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		change func(c *wechat.Config)
		want   string
	}{
		{func(c *wechat.Config) { c.Accounts[0].ID = "" }, "wechat.accounts[0].id: is required"},
		{func(c *wechat.Config) { c.Accounts[1].ID = c.Accounts[0].ID }, "wechat.accounts[1].id: \"cd12345\" is used twice"},
		{func(c *wechat.Config) { c.Accounts[0].ID = "成都" }, "wechat.accounts[0].id"},
		{func(c *wechat.Config) { c.Accounts[0].Token = "" }, "wechat.accounts[0].token: is required (env LIANXIN_WECHAT_CD12345_TOKEN)"},
		{func(c *wechat.Config) { c.Accounts[0].EncodingAESKey = "abc" }, "wechat.accounts[0].encoding_aes_key: wechat: bad EncodingAESKey: EncodingAESKey has 3 characters, not 43"},
		{func(c *wechat.Config) { c.Accounts[0].Mode = "secure" }, "wechat.accounts[0].mode: \"secure\""},
		{func(c *wechat.Config) { c.Accounts[0].Kind = "mp" }, "wechat.accounts[0].kind"},
		{func(c *wechat.Config) { c.Accounts[3].AgentID = 0 }, "wechat.accounts[3].agent_id: is required for a wecom app"},
		{func(c *wechat.Config) { c.Accounts[0].Queue = "" }, "wechat.accounts[0].queue: is required"},
		{func(c *wechat.Config) { c.Accounts[0].AppID = "" }, "wechat.accounts[0].app_id"},
		{func(c *wechat.Config) { c.APIBase = "ftp://x" }, "wechat.api_base"},
		{func(c *wechat.Config) { c.AnswerWithin = 5e9 }, "wechat.answer_within"},
		{func(c *wechat.Config) { c.Accounts[0].PreviousAESKey = "x" }, "wechat.accounts[0].previous_aes_key"},
	} {
		c := testConfig("http://127.0.0.1:1")
		tc.change(&c)
		c.Defaults()
		err := c.Validate()
		require.Error(t, err, tc.want)
		require.Contains(t, err.Error(), tc.want)
	}
	c := testConfig("http://127.0.0.1:1")
	c.Defaults()
	require.NoError(t, c.Validate())
	require.Equal(t, wechat.ModeSafe, c.Accounts[3].Mode, "WeCom is always safe")
	require.Equal(t, wechat.KindOfficial, c.Accounts[0].Kind)
}
