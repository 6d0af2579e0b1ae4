package natlab

import (
	"os"
	"strings"
)

// ForceICEEnv, set to 1, turns nat.ice on in every phoned the lab starts
// through StartPhoned (the call matrices, relay fallback, no NAT help,
// SIP ALG, double NAT...): the trial that decides whether ICE can be on
// by default (docs/nat.md "ICE"). Off unless set; test use only.
const ForceICEEnv = "DESKPHONE_NATLAB_FORCE_ICE"

// natSection is phoned's nat: section for the lines nat (none when
// empty), with ice: true added under ForceICEEnv.
func natSection(nat string) string {
	if os.Getenv(ForceICEEnv) == "1" && !strings.Contains(nat, "  ice:") {
		nat += "  ice: true\n"
	}
	if nat == "" {
		return ""
	}
	return "nat:\n" + nat
}
