// Package mappertest holds test helpers for the users of the port
// manager. FakeMapper is a portmgr.Mapper without a network emulation:
// loopback sockets and configured addresses, with every call counted, so
// voip/sip can be unit-tested without a vnet world. The rest is the one
// harness for "a phone on a port manager" on vnet (portmgrtest.World):
// the manager's configuration at a site, its start and cleanup, the wait
// for its start-up discovery, and a buffered event pump with a bounded
// wait for a matching event.
//
// It is a package apart from portmgrtest because portmgr's own internal
// tests import portmgrtest, so portmgrtest cannot import portmgr. It
// must not import voip/sip either: voip/sip's internal tests import it.
package mappertest
