package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/outposthq/outpost/access"
	"github.com/outposthq/outpost/crdt"
)

// runToken manages sync tokens: outpost token create|list|revoke.
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	usage := func() {
		fmt.Fprintln(stderr, "usage: outpost token create --data DIR --name NAME --collections C1,C2")
		fmt.Fprintln(stderr, "       outpost token list --data DIR")
		fmt.Fprintln(stderr, "       outpost token revoke --data DIR ID|NAME")
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		usage()
		return flag.ErrHelp
	}
	sub := args[0]
	fs := flag.NewFlagSet("token "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "data directory of the node or sync server")
	name := fs.String("name", "", "name of the token (create)")
	colls := fs.String("collections", "", "comma-separated collections the token grants, * for all (create)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *data == "" {
		return errors.New("token: --data is required")
	}
	tm, closeFn, err := openTokens(*data)
	if err != nil {
		return err
	}
	defer closeFn()
	switch sub {
	case "create":
		secret, t, err := tm.Create(ctx, *name, strings.Split(*colls, ","))
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "created token %s (%s) granting %s\n", t.ID, t.Name, strings.Join(t.Collections, ","))
		fmt.Fprintln(stdout, secret)
		return nil
	case "list":
		ts, err := tm.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tCOLLECTIONS\tCREATED\tSTATE")
		for _, t := range ts {
			state := "active"
			if !t.Active() {
				state = "revoked " + t.Revoked.Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, strings.Join(t.Collections, ","), t.Created.Format("2006-01-02 15:04"), state)
		}
		return tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			usage()
			return errors.New("token revoke: give one token ID or name")
		}
		ts, err := tm.Revoke(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		for _, t := range ts {
			fmt.Fprintf(stdout, "revoked %s (%s)\n", t.ID, t.Name)
		}
		return nil
	}
	usage()
	return fmt.Errorf("token: unknown subcommand %q", sub)
}

// tokenManager is what the token command needs; the store and the running
// server's admin socket both provide it.
type tokenManager interface {
	Create(ctx context.Context, name string, collections []string) (string, access.Token, error)
	List(ctx context.Context) ([]access.Token, error)
	Revoke(ctx context.Context, idOrName string) ([]access.Token, error)
}

// openTokens opens the data directory's store, or, when a running node or
// server holds it, that process's admin socket.
func openTokens(dir string) (tokenManager, func(), error) {
	// Nodes and sync servers keep their store in DIR/store. Creating it
	// here is what lets a token be made before the first start.
	if _, err := os.Stat(dir); err != nil {
		return nil, nil, fmt.Errorf("no data directory at %s (check --data): %w", dir, err)
	}
	storeDir := filepath.Join(dir, "store")
	st, err := crdt.Open(storeDir, crdt.Options{})
	if errors.Is(err, crdt.ErrLocked) {
		return access.Dial(dir), func() {}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return access.New(st.DB(), crdt.PrefixTokens), func() { st.Close() }, nil
}
