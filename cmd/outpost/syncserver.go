package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/outposthq/outpost/syncserver"
)

// runSyncServer runs the hub: outpost syncserver --data DIR --listen ADDR.
func runSyncServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("syncserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "data directory (documents and tokens)")
	listen := fs.String("listen", "127.0.0.1:7430", "address to listen on")
	cert := fs.String("tls-cert", "", "TLS certificate (PEM); with --tls-key the server speaks wss://")
	key := fs.String("tls-key", "", "TLS private key (PEM)")
	name := fs.String("name", "syncserver", "name announced to nodes")
	logLevel := fs.String("log-level", "warn", "debug, info (connection events), warn or error")
	verbose := fs.Bool("v", false, "log connection events (--log-level info)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" {
		return errors.New("syncserver: --data is required")
	}
	if *verbose {
		*logLevel = "info"
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	srv, err := syncserver.Open(syncserver.Config{
		Data: *data, Listen: *listen, TLSCert: *cert, TLSKey: *key, Name: *name, Logger: log,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "outpost syncserver: %s (tokens: outpost token create --data %s --name NAME --collections C)\n", srv.URL(), *data)
	if err := srv.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
