// Package importrules holds no code: its test enforces the module's
// import rules, the arrows that keep the layout easy to live in.
//
//   - Device code (firmware/, hal/, voip/, portmgr/, board/) never depends
//     on tools/ (host tools, the lab): a host tool may use device code,
//     never the other way round.
//   - hal and its subpackages are leaves: they import nothing of this
//     module outside hal.
//   - Boards (board/...) hold facts and constructors over hal: they do not
//     import voip/, portmgr/ or firmware/.
//   - firmware/config does not depend on the port manager or the VoIP
//     stack; the daemon converts its sections to their types.
//   - The small shared pieces (firmware/cpio, firmware/atomicfile and
//     initd's dhcp, ntp and ext4) import nothing of this module.
//   - The initramfs loader, the flash tool and the image builder do not
//     link the NAT stack (pion, goupnp) or yaml: they never use them.
//
// The rules are checked with `go list` for the host and for linux/arm64
// without cgo (the device), on the packages' own imports (test files may
// import more). To change a rule, change it here and in the test, and say
// why in docs/ARCHITECTURE.md.
package importrules
