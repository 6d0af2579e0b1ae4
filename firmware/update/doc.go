// Package update holds what the firmware and its tools agree on about a
// signed update, and the phone's side of an update.
//
// # Manifests and signatures
//
// A Manifest names the board, the version, the build time (from
// SOURCE_DATE_EPOCH, so builds are reproducible) and the size and SHA-256
// of each part: the root slot for an update, the boot partition and both
// root slots for a disk image. Its canonical encoding (Manifest.Marshal:
// indented JSON, fields in a fixed order) is signed with ed25519; the
// 64-byte signature travels beside it (a detached ".sig" file, or inside a
// bundle). Keys are PEM files: "PRIVATE KEY" (PKCS #8) and "PUBLIC KEY"
// (PKIX), the formats openssl uses for ed25519.
//
// # Bundles
//
// An update travels as a bundle, one stream that can be checked before a
// byte of it reaches the flash:
//
//	offset  size  field
//	0       8     magic "DPUPD01\n"
//	8       4     manifest length n, big endian (at most 64 KiB)
//	12      n     manifest (canonical JSON)
//	12+n    64    ed25519 signature over the manifest bytes
//	76+n    ...   the root slot image, exactly Parts["root"].Size bytes
//
// # The device side
//
// Agent is an http.Handler on the phone:
//
//	GET  /update/status   board, running version, booted slot, A/B state
//	POST /update          body: a bundle
//	POST /update?allow-downgrade=1
//
// Both need the device token, "Authorization: Bearer <token>" (401
// without; a push checks it before it takes the push lock). A push is
// refused (nothing written at all) for a bundle for another board, a bad
// signature, a version older than the running one without
// allow-downgrade, a version older than the floor (409, allow-downgrade or
// not), a payload larger than the slot, or while the running slot is
// itself on trial (409). A body that sends nothing for StallTimeout, or
// is not complete after BodyTimeout, is refused (408) and the push lock
// released. Otherwise the payload
// is streamed into the inactive slot, never the active one, and hashed on
// the way; a stream cut short, or one whose size or SHA-256 differ from
// the signed manifest, is refused and leaves the A/B state untouched, so
// the phone boots the running version again. A good payload is synced,
// read back and hashed again, the digest is echoed in the answer, and the
// slot is switched to on trial (State.Trial) before the agent asks for a
// reboot.
//
// # A/B state and rollback
//
// State is a small JSON record written atomically (temp file, fsync,
// rename, directory fsync): the committed slot, the slot on trial and its
// boots left. At boot, Boot picks the slot: a trial slot with boots left
// is booted once more (the count is decremented and written first), a
// trial slot without is dropped and the committed slot booted. Once the
// phone is healthy, Commit makes the trial slot the committed one. Watch
// reboots a trial boot that does not become healthy within its deadline.
// A power cut at any point leaves a record that names a slot holding a
// complete, verified image.
//
// # Version floor
//
// The record also keeps a floor (State.Floor): the last committed build,
// set by Commit. A signed build older than the floor is refused even with
// allow-downgrade, so a token holder cannot put back an old build with
// known flaws. A factory reset lowers it (LowerFloor) so the owner can go
// back; the next Commit sets it again. A record without a floor takes the
// committed slot's build (or, on a phone never updated, the running one).
package update
