// Command pbx runs the local test PBX of package tools/pbx: a SIP
// registrar and proxy with the echo, tone and early service extensions.
// It prints one line when it is ready, then serves until SIGINT/SIGTERM.
//
//	pbx -listen 127.0.0.1:5060 -realm pbx.local -user alice:secret -user bob:secret
//
// A user named name@domain with a domain other than the realm is served
// in that domain, with the domain as its digest realm (-user
// alice@other.local:secret): two lines of one phone can register to two
// domains at once.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/deskphone/phone/tools/pbx"
)

// users collects repeated -user name:password flags.
type users map[string]string

func (u users) String() string {
	names := make([]string, 0, len(u))
	for n := range u {
		names = append(names, n)
	}
	return strings.Join(names, ",")
}

func (u users) Set(v string) error {
	name, pass, ok := strings.Cut(v, ":")
	if !ok || name == "" {
		return errors.New("want name:password")
	}
	u[name] = pass
	return nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "pbx:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("pbx", flag.ContinueOnError)
	us := users{}
	listen := fs.String("listen", "127.0.0.1:5060", "UDP SIP address (ip:port)")
	realm := fs.String("realm", pbx.DefaultRealm, "digest realm and SIP domain")
	fs.Var(us, "user", "user as name:password or name@domain:password (repeatable)")
	tcp := fs.String("tcp", "", "also listen for SIP over TCP on this ip:port")
	tlsAddr := fs.String("tls", "", "also listen for SIP over TLS on this ip:port (needs -tls-cert, -tls-key)")
	cert := fs.String("tls-cert", "", "TLS certificate (PEM)")
	key := fs.String("tls-key", "", "TLS private key (PEM)")
	clientCA := fs.String("tls-client-ca", "", "require TLS clients to present a certificate signed by a CA in this PEM file (mutual TLS)")
	natfix := fs.Bool("natfix", false, "route to where REGISTERs come from (received/rport), like nathelper")
	algs := fs.String("algorithm", "MD5", "digest algorithms to offer, most preferred first (MD5,SHA-256,...)")
	noInviteAuth := fs.Bool("no-invite-auth", false, "do not challenge INVITEs with 407")
	minExpires := fs.Duration("min-expires", pbx.DefaultMinExpires, "shortest registration accepted (423 below)")
	early := fs.Duration("early", pbx.DefaultEarlyDuration, "early-media announcement length of the early service")
	advertise := fs.String("advertise", "", "IP to put in Record-Route, Contact and SDP (default: the listen IP)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	cfg := pbx.Config{
		Realm:         *realm,
		Users:         map[string]string{},
		NATFix:        *natfix,
		NoInviteAuth:  *noInviteAuth,
		MinExpires:    *minExpires,
		EarlyDuration: *early,
		Logger:        log,
	}
	for name, pass := range us {
		user, dom, ok := strings.Cut(name, "@")
		if !ok || strings.EqualFold(dom, *realm) {
			cfg.Users[user] = pass
			continue
		}
		if cfg.Domains == nil {
			cfg.Domains = map[string]map[string]string{}
		}
		if cfg.Domains[dom] == nil {
			cfg.Domains[dom] = map[string]string{}
		}
		cfg.Domains[dom][user] = pass
	}
	for a := range strings.SplitSeq(*algs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			cfg.Algorithms = append(cfg.Algorithms, a)
		}
	}
	var err error
	if cfg.Listen, err = netip.ParseAddrPort(*listen); err != nil {
		return fmt.Errorf("-listen: %w", err)
	}
	if *tcp != "" {
		if cfg.TCP, err = netip.ParseAddrPort(*tcp); err != nil {
			return fmt.Errorf("-tcp: %w", err)
		}
	}
	if *tlsAddr != "" {
		if cfg.TLS, err = netip.ParseAddrPort(*tlsAddr); err != nil {
			return fmt.Errorf("-tls: %w", err)
		}
		c, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			return fmt.Errorf("-tls-cert/-tls-key: %w", err)
		}
		cfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}
		if *clientCA != "" {
			pem, err := os.ReadFile(*clientCA)
			if err != nil {
				return fmt.Errorf("-tls-client-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("-tls-client-ca %s: no PEM certificate found", *clientCA)
			}
			cfg.TLSConfig.ClientAuth, cfg.TLSConfig.ClientCAs = tls.RequireAndVerifyClientCert, pool
		}
	}
	if *advertise != "" {
		if cfg.Advertise, err = netip.ParseAddr(*advertise); err != nil {
			return fmt.Errorf("-advertise: %w", err)
		}
	}
	s, err := pbx.New(cfg)
	if err != nil {
		return err
	}
	if err := s.Start(); err != nil {
		s.Close()
		return err
	}
	line := fmt.Sprintf("pbx: listening udp %s", s.Addr())
	if a := s.TCPAddr(); a.IsValid() {
		line += fmt.Sprintf(" tcp %s", a)
	}
	if a := s.TLSAddr(); a.IsValid() {
		line += fmt.Sprintf(" tls %s", a)
	}
	fmt.Printf("%s realm=%s users=%d natfix=%v\n", line, s.Realm(), len(us), *natfix)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		return errors.New("shutdown timed out")
	}
}
