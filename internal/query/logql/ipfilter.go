package logql

import (
	"fmt"
	"net/netip"
	"strings"
)

// ipMatcher is the argument of ip("..."): one address, a CIDR prefix (192.168.0.0/16)
// or an inclusive range (10.0.0.1-10.0.0.9), IPv4 or IPv6.
type ipMatcher struct {
	src    string
	prefix netip.Prefix // a single address is a full-length prefix
	lo, hi netip.Addr   // a range when lo is valid
}

func parseIPMatcher(s string) (*ipMatcher, error) {
	m := &ipMatcher{src: s}
	s = strings.TrimSpace(s)
	switch {
	case strings.Contains(s, "/"):
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		m.prefix = p.Masked()
	case strings.Contains(s, "-"):
		a, b, _ := strings.Cut(s, "-")
		lo, err := netip.ParseAddr(strings.TrimSpace(a))
		if err != nil {
			return nil, err
		}
		hi, err := netip.ParseAddr(strings.TrimSpace(b))
		if err != nil {
			return nil, err
		}
		if lo.Is4() != hi.Is4() || hi.Less(lo) {
			return nil, fmt.Errorf("bad ip range %q", s)
		}
		m.lo, m.hi = lo, hi
	default:
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, err
		}
		m.prefix = netip.PrefixFrom(a, a.BitLen())
	}
	return m, nil
}

func (m *ipMatcher) matchAddr(a netip.Addr) bool {
	a = a.Unmap()
	if m.lo.IsValid() {
		return a.Is4() == m.lo.Is4() && !a.Less(m.lo) && !m.hi.Less(a)
	}
	return m.prefix.Contains(a)
}

// matches reports whether the label value s is an address that matches.
func (m *ipMatcher) matches(s string) bool {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	return err == nil && m.matchAddr(a)
}

// inLine reports whether the line contains an address that matches: every maximal run
// of digits and dots (IPv4) and of hex digits, ':' and dots (IPv6) is tried, so that
// "10.0.0.1:8080" and "addr:10.0.0.1" both find 10.0.0.1.
func (m *ipMatcher) inLine(line string) bool {
	return m.runs(line, isIPv4Char) || m.runs(line, isIPv6Char)
}

func (m *ipMatcher) runs(line string, in func(byte) bool) bool {
	for i := 0; i < len(line); {
		if !in(line[i]) {
			i++
			continue
		}
		j := i
		for j < len(line) && in(line[j]) {
			j++
		}
		if j-i >= 2 {
			if a, err := netip.ParseAddr(line[i:j]); err == nil && m.matchAddr(a) {
				return true
			}
		}
		i = j
	}
	return false
}

func isIPv4Char(c byte) bool { return c >= '0' && c <= '9' || c == '.' }

func isIPv6Char(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':' || c == '.'
}

// ipCall parses `ip("...")`.
func (p *parser) ipCall() (*ipMatcher, error) {
	p.next() // ip
	if err := p.expectPunct("("); err != nil {
		return nil, err
	}
	s, err := p.expectString()
	if err != nil {
		return nil, err
	}
	m, err := parseIPMatcher(s.text)
	if err != nil {
		return nil, p.errAt(s.pos, "bad ip() argument %q: %v", s.text, err)
	}
	return m, p.expectPunct(")")
}
