package configs

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/lianxin/lianxin/sip"
)

// EnvPhonePassword returns the variable that holds the plain password of
// the phone of the agent with this id: LIANXIN_PHONE_<ID>_PASSWORD.
func EnvPhonePassword(agentID string) string {
	return "LIANXIN_PHONE_" + strings.ToUpper(agentID) + "_PASSWORD"
}

// HA1 returns the digest HA1 of a phone's credentials, hex encoded:
// MD5("user:realm:password") and SHA-256 of the same (RFC 7616 §3.4.2).
func HA1(user, realm, password string) (md5Hex, sha256Hex string) {
	s := user + ":" + realm + ":" + password
	m := md5.Sum([]byte(s))
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(m[:]), hex.EncodeToString(h[:])
}

// Phones returns the SIP phone accounts of the agents that have one, in the
// order of the agents list, for the registrar. Hashes are lower case.
func (c *Config) Phones() []sip.Phone {
	var out []sip.Phone
	for _, a := range c.Agents {
		if a.Phone == nil {
			continue
		}
		out = append(out, sip.Phone{
			User:      phoneUser(a),
			Agent:     a.ID,
			HA1MD5:    strings.ToLower(a.Phone.HA1MD5),
			HA1SHA256: strings.ToLower(a.Phone.HA1SHA256),
		})
	}
	return out
}

func phoneUser(a Agent) string {
	if a.Phone != nil && a.Phone.User != "" {
		return a.Phone.User
	}
	return a.ID
}

// applyPhoneEnv computes the HA1 hashes of every agent whose phone password
// is in the environment, giving the agent a phone if the file gave none.
// The password itself is not kept.
func applyPhoneEnv(c *Config, getenv func(string) string) {
	for i := range c.Agents {
		a := &c.Agents[i]
		pw := getenv(EnvPhonePassword(a.ID))
		if pw == "" {
			continue
		}
		if a.Phone == nil {
			a.Phone = &AgentPhone{}
		}
		a.Phone.HA1MD5, a.Phone.HA1SHA256 = HA1(phoneUser(*a), c.SIP.Realm, pw)
	}
}
