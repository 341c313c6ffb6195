package configs

import "time"

// Rating is the rating question to text contacts after wrap-up (回访评价).
type Rating struct {
	// Window is how long the answer is taken after the question. Default 72h.
	Window time.Duration `yaml:"window"`
	// PublicURL is where citizens reach this gateway's public pages
	// (https://12345.example.gov.cn): the rating link of e-mail and web
	// letters is PublicURL/rate/<token>. Empty: letters get no link.
	PublicURL string `yaml:"public_url"`
}
