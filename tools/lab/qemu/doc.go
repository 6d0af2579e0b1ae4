// Package qemu is the emulated-phone test tier: the firmware image booted as
// an emulated phone under qemu-system-aarch64 (TCG), registering to a
// tools/pbx on the host, calling its echo extension, and taking signed
// updates with flash push (success, rollback of a broken update, a push
// cut off half-way).
//
// Its test runs only when DESKPHONE_TIER names the tier "qemu", inside a
// network namespace that has nothing but loopback (so nothing the guest
// sends can leave the machine); `make test-qemu` builds what it needs,
// sets DESKPHONE_QEMU_IMAGE, _NEXT, _BROKEN, _KEY, _PUB and _LOGDIR, and
// runs it that way.
// Plain `go test ./...` skips it with a message.
//
// Machine starts QEMU and watches its console line by line.
package qemu
