package main

import (
	"context"
	"errors"
	"io"
)

func runBenchStore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not yet")
}
