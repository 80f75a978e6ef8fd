package interop

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// RepoClient is an unmodified automerge-repo client with the WebSocket
// adapter (client.mjs) in a Node.js process, driven one command line at a
// time; client.mjs lists the commands.
type RepoClient struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	lines  chan string
	stderr lockedBuffer
}

// StartRepoClient starts a client of the sync endpoint at url (a token
// goes in its query, as browsers must send it). dir is Dir's result.
func StartRepoClient(dir, url string) (*RepoClient, error) {
	cmd := exec.Command("node", "client.mjs", url)
	cmd.Dir = dir
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c := &RepoClient{cmd: cmd, in: in, lines: make(chan string, 16)}
	cmd.Stderr = &c.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("interop: start client.mjs: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	return c, nil
}

// Do sends one command and returns the client's one-line reply.
func (c *RepoClient) Do(command string, timeout time.Duration) (string, error) {
	if _, err := fmt.Fprintln(c.in, command); err != nil {
		return "", fmt.Errorf("js %q: %v\nstderr: %s", command, err, c.stderr.String())
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case l, ok := <-c.lines:
		if !ok {
			return "", fmt.Errorf("js %q: the client exited\nstderr: %s", command, c.stderr.String())
		}
		return l, nil
	case <-t.C:
		return "", fmt.Errorf("js %q: no answer within %v\nstderr: %s", command, timeout, c.stderr.String())
	}
}

// Create has the client create a document with content (a JSON object)
// and returns its automerge: URL.
func (c *RepoClient) Create(content string, timeout time.Duration) (string, error) {
	reply, err := c.Do("create "+content, timeout)
	if err != nil {
		return "", err
	}
	url, ok := strings.CutPrefix(reply, "url ")
	if !ok {
		return "", fmt.Errorf("js create: %s", reply)
	}
	return url, nil
}

// Close stops the client's process.
func (c *RepoClient) Close() error {
	c.in.Close()
	c.cmd.Process.Kill()
	err := c.cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return nil // killed, as asked
	}
	return err
}

// lockedBuffer collects a process's stderr while errors read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
