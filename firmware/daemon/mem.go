package daemon

import (
	"log/slog"
	"os"
	"time"
)

// PageOutAfter is how long after start phoned drops the pages of its
// own binary that start-up touched (pageOutCode): long enough for the
// config, the board, the first registration and the web server's
// set-up to have run.
const PageOutAfter = 15 * time.Second

// SchedulePageOut drops, once, PageOutAfter from now, the binary's
// pages that only start-up used. Most of an idle phone's RSS was its
// own binary's file-backed pages (VmRSS 18.5 MB, RssAnon 3.8 MB, make
// test-lean): every package's init and the start-up code fault in
// pages, 64 kB around each fault, and they stay mapped for the life of
// the process. After this the phone holds only what it runs again (the
// idle loop, then a call's code on the first call); measured in
// docs/performance.md. DESKPHONE_PAGEOUT=0 in the environment turns it
// off. The timer returned may be stopped.
func SchedulePageOut(log *slog.Logger) *time.Timer {
	if os.Getenv("DESKPHONE_PAGEOUT") == "0" {
		log.Info("start-up pages kept (DESKPHONE_PAGEOUT=0)")
		return nil
	}
	return time.AfterFunc(PageOutAfter, func() {
		n := pageOutCode()
		log.Debug("start-up pages dropped", "bytes", n)
	})
}
