package node

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
)

// TestMain lets the test binary act as a node process, so crash tests can
// kill -9 a real node without building the outpost binary first.
func TestMain(m *testing.M) {
	if dir := os.Getenv("OUTPOST_TEST_NODE_DATA"); dir != "" {
		os.Exit(runNodeProcess(dir))
	}
	os.Exit(m.Run())
}

func runNodeProcess(dir string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := New(Config{DataDir: dir, Listen: "127.0.0.1:0", Name: "crash-test"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "node:", err)
		return 1
	}
	fmt.Printf("LISTEN %s\n", n.URL())
	if err := n.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "node:", err)
		return 1
	}
	return 0
}
