package config

import (
	"maps"
	"slices"
)

// Clone returns a deep copy of c that an editor (the API, the web page)
// may change without touching c. It keeps where c came from, so its
// problems still name the file and line of c's fields.
func (c *Config) Clone() *Config {
	n := *c
	n.Accounts = slices.Clone(c.Accounts)
	for i := range n.Accounts {
		n.Accounts[i].Codecs = slices.Clone(c.Accounts[i].Codecs)
		n.Accounts[i].SRTPSuites = slices.Clone(c.Accounts[i].SRTPSuites)
	}
	n.Codecs = slices.Clone(c.Codecs)
	n.BoardOptions = maps.Clone(c.BoardOptions)
	n.NAT.STUNServers = slices.Clone(c.NAT.STUNServers)
	n.NAT.Strategies = slices.Clone(c.NAT.Strategies)
	n.SIP.Allow = slices.Clone(c.SIP.Allow)
	n.BLF = slices.Clone(c.BLF)
	return &n
}
