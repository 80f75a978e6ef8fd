package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ImportOptions adjust an import.
type ImportOptions struct {
	Name    string // registry name [the file's base name without extension]
	Replace bool   // replace an existing model of the same name
}

// Import validates a local model file and adds it: hard-linked into the
// models directory when it is on the same file system (no second copy of a
// multi-gigabyte file), copied otherwise.
func (r *Registry) Import(ctx context.Context, src string, opts ImportOptions) (Entry, error) {
	format, details, err := r.inspectFile(src)
	if err != nil {
		return Entry{}, err
	}
	name := opts.Name
	if name == "" {
		base := filepath.Base(src)
		name = strings.TrimSuffix(base, filepath.Ext(base))
	}
	if err := ValidName(name); err != nil {
		return Entry{}, err
	}
	if _, err := r.Get(name); err == nil && !opts.Replace {
		return Entry{}, fmt.Errorf("%w: %q", ErrExists, name)
	}
	tmp := filepath.Join(r.dir, partialDir, fmt.Sprintf("import-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if err := os.Link(src, tmp); err != nil {
		if err := copyFile(ctx, src, tmp); err != nil {
			os.Remove(tmp)
			return Entry{}, fmt.Errorf("import %s: %w", src, err)
		}
	}
	defer os.Remove(tmp) // a no-op once installed
	// Validate what was actually linked or copied, not what was inspected.
	if _, details, err = r.inspectFile(tmp); err != nil {
		return Entry{}, err
	}
	sum, size, err := hashFile(ctx, tmp)
	if err != nil {
		return Entry{}, err
	}
	abs, _ := filepath.Abs(src)
	e := Entry{
		Name: name, File: fileFor(name, format), Format: format, Kind: kindOf(format),
		Size: size, SHA256: sum, Source: "import:" + abs, Added: time.Now().UTC(), Details: details,
	}
	if err := r.install(tmp, e, opts.Replace); err != nil {
		return Entry{}, err
	}
	e.Path = filepath.Join(r.dir, e.File)
	return e, nil
}

func copyFile(ctx context.Context, src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, ctxReader{ctx, in}); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func hashFile(ctx context.Context, path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, ctxReader{ctx, f})
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// ctxReader stops a long copy or hash when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
