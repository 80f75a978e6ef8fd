package main

import (
	"context"
	"errors"
	"io"
)

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not yet")
}
func runDoc(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not yet")
}
func runBenchStore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not yet")
}
