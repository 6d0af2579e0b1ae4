// Package termpanel is a screen made of text: a hal.Display that draws
// each frame in Braille characters (2×4 pixels a cell, so a 128×64 frame
// is 64×16 cells) inside a box.
//
// Two ways to see it:
//
//   - a terminal (Opts.Term): the box is redrawn in place at the top,
//     and the rows under it become the terminal's scrolling region, so
//     logs go on below the phone's screen (the sim board on a host);
//   - TCP or unix-socket clients (Serve): each gets the current frame on
//     connecting and every new frame after it, cleared and drawn from the
//     top (the emulated phone: `nc 127.0.0.1 7080` in a terminal). A slow
//     client skips frames rather than slowing the phone.
package termpanel
