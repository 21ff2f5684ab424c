package cmd

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"chatserver/web/tlscert"
)

// certTimeFormat is how certificate validity times are logged, in UTC.
const certTimeFormat = "2006-01-02 15:04 UTC"

// validateTLS checks --tls-cert and --tls-key: both or neither, and a
// certificate with its own private key. It loads them into o.cert and
// o.web.TLS.
func (o *serveOptions) validateTLS() error {
	o.cert, o.web.TLS = nil, nil
	switch {
	case o.tlsCert == "" && o.tlsKey == "":
		return nil
	case o.tlsKey == "":
		return errors.New("--tls-cert needs --tls-key, the certificate's private key: give both, or neither for plain HTTP")
	case o.tlsCert == "":
		return errors.New("--tls-key needs --tls-cert, the certificate: give both, or neither for plain HTTP")
	}
	pair, err := tlscert.Load(o.tlsCert, o.tlsKey)
	if err != nil {
		return plainf(err, "cannot serve TLS with --tls-cert and --tls-key: %v", err)
	}
	o.cert, o.web.TLS = pair, pair.Config()
	return nil
}

// reloadOnHangup catches SIGHUP, in a goroutine, until the returned stop
// is called (which waits for it), so that the signal never ends the
// server (systemd's Restart=on-failure would take that for a clean exit).
// With a pair it reads the pair's certificate and key again at each
// SIGHUP; certFile names the pair in the log, and a pair that cannot be
// used is logged and the one in use is kept. Without one (plain HTTP) it
// logs that there is nothing to reload.
func reloadOnHangup(pair *tlscert.Pair, certFile string, logger *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-hup:
				if pair == nil {
					logger.Info("SIGHUP: nothing to reload (no TLS certificate is served)")
					continue
				}
				leaf, err := pair.Reload()
				if err != nil {
					logger.Warn("SIGHUP: the new TLS certificate was refused; the one in use is kept",
						"serial", pair.Leaf().SerialNumber.String(), "err", err)
					continue
				}
				logCert(logger, "SIGHUP: reloaded the TLS certificate", certFile, leaf, time.Now())
			case <-quit:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(quit)
		<-done
	}
}

// logCert logs msg about the certificate leaf of file (describeCert), as
// a warning when it is not valid at now.
func logCert(logger *slog.Logger, msg, file string, leaf *x509.Certificate, now time.Time) {
	level := slog.LevelInfo
	if now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		level = slog.LevelWarn
	}
	logger.Log(context.Background(), level, msg, "cert", describeCert(file, leaf, now))
}

// describeCert says, after what, which certificate from file is served:
// its names, serial number and validity, and whether it is outside its
// validity at now (browsers refuse it then).
func describeCert(file string, leaf *x509.Certificate, now time.Time) string {
	names := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && leaf.Subject.CommonName != "" {
		names = append(names, leaf.Subject.CommonName)
	}
	s := fmt.Sprintf("%s for %s (serial %s), valid until %s", file, strings.Join(names, ", "),
		leaf.SerialNumber, leaf.NotAfter.UTC().Format(certTimeFormat))
	switch {
	case now.After(leaf.NotAfter):
		s += "; it has EXPIRED: browsers refuse it (renew it, then send SIGHUP)"
	case now.Before(leaf.NotBefore):
		s += fmt.Sprintf("; it is NOT VALID YET (from %s): browsers refuse it until then", leaf.NotBefore.UTC().Format(certTimeFormat))
	}
	return s
}
