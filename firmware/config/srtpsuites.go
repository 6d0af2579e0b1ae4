package config

// SRTPSuiteNames are the SRTP suites a line may list (srtp_suites), in
// the default order of preference.
var SRTPSuiteNames = []string{"AEAD_AES_128_GCM", "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"}

// srtpSuites checks an account's srtp_suites: known names, none twice.
// An empty list is the default (all of SRTPSuiteNames).
func (v *validator) srtpSuites(path string, list []string) { v.names(path, list, SRTPSuiteNames) }
