//go:build pprof

// Profiling, only in builds with the pprof tag (go build -tags pprof):
// with DESKPHONE_PPROF set to a loopback address (127.0.0.1:6060) phoned
// serves net/http/pprof there, for heap and CPU profiles of a phone in
// a call (docs/performance.md). Devices are built without it: the
// profiler and its handlers cost about 0.5 MB of binary.
package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
)

func init() {
	addr := os.Getenv("DESKPHONE_PPROF")
	if addr == "" {
		return
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsLoopback() {
		fmt.Fprintf(os.Stderr, "phoned: DESKPHONE_PPROF=%q: want a loopback address and port\n", addr)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "phoned: pprof:", err)
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	go http.Serve(ln, mux)
}
