package email

import (
	"context"
	"net"
	"strings"
	"sync"
)

// fakeDNS answers the sender checks from records a test sets: the machine
// has no DNS of the internet, and a test must know what it answers. A name
// without records is NXDOMAIN, except that every domain's SPF record lets
// loopback send (defaultSPF), so that a letter whose envelope sender shares
// its From domain is authenticated unless a test says otherwise.
type fakeDNS struct {
	mu   sync.Mutex
	txt  map[string][]string
	temp map[string]bool
	// defaultSPF is the SPF record of a name that has no TXT records set
	// ("" for none).
	defaultSPF string
	// asked counts the TXT questions per name.
	asked map[string]int
}

var _ Resolver = (*fakeDNS)(nil)

func newFakeDNS() *fakeDNS {
	return &fakeDNS{txt: map[string][]string{}, temp: map[string]bool{}, asked: map[string]int{}, defaultSPF: "v=spf1 ip4:127.0.0.1 ip6:::1 -all"}
}

// set gives name (any case, no trailing dot) its TXT records.
func (f *fakeDNS) set(name string, records ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.txt[strings.ToLower(name)] = records
}

// fail makes every lookup of name a temporary failure (SERVFAIL).
func (f *fakeDNS) fail(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.temp[strings.ToLower(name)] = true
}

// questions is how often name was asked for its TXT records.
func (f *fakeDNS) questions(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.asked[strings.ToLower(name)]
}

func nxdomain(name string) error {
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (f *fakeDNS) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, &net.DNSError{Err: err.Error(), Name: name, IsTimeout: true, IsTemporary: true}
	}
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked[name]++
	if f.temp[name] {
		return nil, &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}
	}
	if r, ok := f.txt[name]; ok {
		return append([]string(nil), r...), nil
	}
	if f.defaultSPF != "" && !strings.HasPrefix(name, "_dmarc.") && !strings.Contains(name, "._domainkey.") {
		return []string{f.defaultSPF}, nil
	}
	return nil, nxdomain(name)
}

func (f *fakeDNS) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	return nil, nxdomain(name)
}

func (f *fakeDNS) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	return nil, nxdomain(host)
}

func (f *fakeDNS) LookupAddr(_ context.Context, addr string) ([]string, error) {
	return nil, nxdomain(addr)
}
