package sdp

import (
	"fmt"
	"slices"
	"strings"
)

// CheckSuites checks a line's SRTP suite list (its preference order):
// every name is a suite we support, none twice. An empty list is
// allowed and means Suites.
func CheckSuites(list []string) error {
	for i, s := range list {
		if _, _, ok := SuiteKeyLen(s); !ok {
			return fmt.Errorf("sdp: srtp suite %s: %w (want %s)", quoteShort(s), ErrUnknownSuite, strings.Join(Suites, ", "))
		}
		if slices.Index(list, s) < i {
			return fmt.Errorf("sdp: srtp suite %s listed twice", s)
		}
	}
	return nil
}

// SuitesOr returns list, or a copy of Suites when list is empty: the
// suites a line offers and accepts, in its order of preference.
func SuitesOr(list []string) []string {
	if len(list) == 0 {
		return slices.Clone(Suites)
	}
	return list
}
