// Command flash is the field flashing tool.
//
//	flash keygen [-key bin/keys/dev.key] [-pub bin/keys/dev.pub]
//	flash sign   -key KEY MANIFEST            (writes MANIFEST's .sig; for IMAGE.manifest: IMAGE.sig)
//	flash verify -pub PUB IMAGE|BUNDLE
//	flash write  -pub PUB [-board B] IMAGE DEVICE
//	flash push   [-token T] [-allow-downgrade] [-no-wait] BUNDLE --to HOST[:PORT]
//	flash discover [-timeout 3s]
//
// The logic is in package tools/flash.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/deskphone/phone/tools/flash"
)

const usage = `usage: flash keygen|sign|verify|write|push|provision|discover [flags] ARGS (flash CMD -h for flags)`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "flash:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("flash "+cmd, flag.ContinueOnError)
	key := fs.String("key", "bin/keys/dev.key", "private key (PEM, PKCS #8 ed25519)")
	pub := fs.String("pub", "bin/keys/dev.pub", "public key (PEM, PKIX ed25519)")
	board := fs.String("board", "", "write: refuse an image for another board")
	to := fs.String("to", "", "push: the phone, host[:port] of its update endpoint")
	token := fs.String("token", os.Getenv("DESKPHONE_TOKEN"), "push: the phone's device token (default $DESKPHONE_TOKEN)")
	allow := fs.Bool("allow-downgrade", false, "push: allow an older version")
	noWait := fs.Bool("no-wait", false, "push: do not wait for the phone to come back")
	wait := fs.Duration("wait", 5*time.Minute, "push: how long to wait for the phone to come back")
	timeout := fs.Duration("timeout", 3*time.Second, "discover: how long to listen")
	// Flags may follow the positional arguments ("push IMAGE --to HOST").
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	need := func(n int, what string) error {
		if len(pos) != n {
			return fmt.Errorf("flash %s: want %s", cmd, what)
		}
		return nil
	}
	switch cmd {
	case "keygen":
		if err := flash.Keygen(*key, *pub); err != nil {
			return err
		}
		fmt.Printf("wrote %s (keep it secret) and %s\n", *key, *pub)
	case "sign":
		if err := need(1, "MANIFEST"); err != nil {
			return err
		}
		sig := strings.TrimSuffix(pos[0], ".manifest") + ".sig"
		if err := flash.SignFile(*key, pos[0], sig); err != nil {
			return err
		}
		fmt.Println("wrote", sig)
	case "verify":
		if err := need(1, "IMAGE or BUNDLE"); err != nil {
			return err
		}
		k, err := flash.LoadPublicKey(*pub)
		if err != nil {
			return err
		}
		m, err := flash.VerifyImage(k, pos[0])
		if err != nil {
			return err
		}
		fmt.Printf("%s: good signature: %s %s for %s, built %s\n", pos[0], m.Kind, m.Version, m.Board, time.Unix(m.BuildTime, 0).UTC().Format(time.RFC3339))
	case "write":
		if err := need(2, "IMAGE DEVICE"); err != nil {
			return err
		}
		k, err := flash.LoadPublicKey(*pub)
		if err != nil {
			return err
		}
		res, err := flash.Write(ctx, flash.WriteOptions{Image: pos[0], Device: pos[1], PublicKey: k, Board: *board, Progress: os.Stderr})
		if err != nil {
			return err
		}
		fmt.Printf("wrote %s %s (%d bytes, sha256 %s) to %s, verified\n", res.Manifest.Board, res.Manifest.Version, res.Bytes, res.SHA256, pos[1])
	case "push":
		if err := need(1, "BUNDLE --to HOST"); err != nil {
			return err
		}
		if *to == "" {
			return errors.New("flash push: --to HOST is required")
		}
		res, err := flash.Push(ctx, flash.PushOptions{Bundle: pos[0], Host: *to, Token: *token, AllowDowngrade: *allow,
			NoWait: *noWait, Wait: *wait, Progress: os.Stderr})
		if err != nil {
			return err
		}
		if *noWait {
			fmt.Printf("accepted: %s in slot %s, rebooting\n", res.Accept.Version, res.Accept.Slot)
		} else {
			fmt.Printf("updated: %s now runs %s from slot %s\n", *to, res.After.Version, res.After.Slot)
		}
	case "provision":
		// flash provision URL --to HOST[:8080]: point a running phone at
		// a provisioning server ("" removes the URL).
		if err := need(1, "URL --to HOST (the phone's API, host:8080)"); err != nil {
			return err
		}
		if *to == "" {
			return errors.New("flash provision: --to HOST is required")
		}
		if err := flash.Provision(ctx, nil, *to, *token, pos[0]); err != nil {
			return err
		}
		fmt.Printf("%s: provision.url set to %q\n", *to, pos[0])
	case "discover":
		phones, err := flash.Discover(ctx, flash.DiscoverOptions{Timeout: *timeout})
		if err != nil {
			return err
		}
		for _, p := range phones {
			fmt.Printf("%s\tboard=%s\tversion=%s\tslot=%s\n", p.Location, p.Board, p.Version, p.Slot)
		}
		if len(phones) == 0 {
			fmt.Fprintln(os.Stderr, "no phones answered")
		}
	default:
		return errors.New(usage)
	}
	return nil
}
