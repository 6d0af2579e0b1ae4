package config

import (
	"fmt"
	"slices"
	"strings"
)

// SRTPSuiteNames are the SRTP suites a line may list (srtp_suites), in
// the default order of preference.
var SRTPSuiteNames = []string{"AEAD_AES_128_GCM", "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"}

// srtpSuites checks an account's srtp_suites: known names, none twice.
// An empty list is the default (all of SRTPSuiteNames).
func (v *validator) srtpSuites(path string, list []string) {
	for i, name := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		if !slices.Contains(SRTPSuiteNames, name) {
			v.fail(p, "%q is not one of %s", name, strings.Join(SRTPSuiteNames, ", "))
		} else if slices.Index(list, name) < i {
			v.fail(p, "%q is listed twice", name)
		}
	}
}
