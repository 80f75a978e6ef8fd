package registry

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const partialDir = ".partial"

// Progress reports a pull's download.
type Progress struct {
	Name    string
	Done    int64 // bytes present, including resumed ones
	Total   int64 // -1 if the server did not say
	Resumed int64 // bytes that were already downloaded before this pull
	Elapsed time.Duration
}

// PullOptions adjust a pull.
type PullOptions struct {
	Name   string // registry name [the catalog name, or the URL's file name]
	SHA256 string // expected hash; required for URLs and unverified catalog entries
	// AllowUnverified accepts a download with no expected hash (its hash is
	// still recorded).
	AllowUnverified bool
	Replace         bool           // replace an existing model of the same name
	Progress        func(Progress) // called at most every 100ms, and at the end
}

var hexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Pull downloads ref, a catalog name or an http(s) URL, verifies it and adds
// it. An interrupted pull leaves a .partial file that the next Pull of the
// same URL resumes with an HTTP range request. A file that fails its
// checksum or header validation is deleted: nothing corrupt is kept, and
// nothing ever appears under the final name before it is verified.
func (r *Registry) Pull(ctx context.Context, ref string, opts PullOptions) (Entry, error) {
	var src CatalogEntry
	if c, ok := r.lookupCatalog(ref); ok {
		src = c
	} else if u, err := url.Parse(ref); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		base := path.Base(u.Path)
		src = CatalogEntry{Name: strings.TrimSuffix(strings.TrimSuffix(base, ".gguf"), ".bin"), URL: ref}
	} else {
		return Entry{}, fmt.Errorf("%w: %q is neither a catalog model nor an http(s) URL (see `outpost models pull --catalog`)", ErrNotFound, ref)
	}
	want := strings.ToLower(opts.SHA256)
	if want != "" && !hexRE.MatchString(want) {
		return Entry{}, fmt.Errorf("expected SHA-256 %q is not 64 hex digits", opts.SHA256)
	}
	if want != "" && src.SHA256 != "" && want != src.SHA256 {
		return Entry{}, fmt.Errorf("%w: --sha256 %s contradicts the catalog's %s for %s", ErrHashMismatch, want, src.SHA256, src.Name)
	}
	if want == "" {
		want = src.SHA256
	}
	if want == "" && src.SHA1 == "" && !opts.AllowUnverified {
		return Entry{}, fmt.Errorf("%w: %s has no known checksum; pass its SHA-256 (or accept an unverified download explicitly)", ErrUnverified, src.Name)
	}
	name := opts.Name
	if name == "" {
		name = src.Name
	}
	if err := ValidName(name); err != nil {
		return Entry{}, err
	}
	if _, err := r.Get(name); err == nil && !opts.Replace {
		return Entry{}, fmt.Errorf("%w: %q", ErrExists, name)
	}

	key := sha256.Sum256([]byte(src.URL))
	partial := filepath.Join(r.dir, partialDir, hex.EncodeToString(key[:8])+".partial")
	sum256, sum1, size, err := r.download(ctx, name, src.URL, partial, opts.Progress)
	if err != nil {
		return Entry{}, fmt.Errorf("pull %s: %w", src.Name, err)
	}
	if want != "" && sum256 != want {
		os.Remove(partial)
		return Entry{}, fmt.Errorf("pull %s: %w: got %s, want %s (download deleted)", src.Name, ErrHashMismatch, sum256, want)
	}
	if want == "" && src.SHA1 != "" && sum1 != src.SHA1 {
		os.Remove(partial)
		return Entry{}, fmt.Errorf("pull %s: %w: SHA-1 %s, want %s (download deleted)", src.Name, ErrHashMismatch, sum1, src.SHA1)
	}
	format, details, err := r.inspectFile(partial)
	if err != nil {
		os.Remove(partial)
		return Entry{}, fmt.Errorf("pull %s: %w (download deleted)", src.Name, err)
	}
	if src.Format != "" && format != src.Format {
		os.Remove(partial)
		return Entry{}, fmt.Errorf("pull %s: %w: expected a %s file, got %s (download deleted)", src.Name, ErrInvalidModel, src.Format, format)
	}
	source := src.URL
	if _, ok := r.lookupCatalog(ref); ok {
		source = "catalog:" + src.Name + " " + src.URL
	}
	e := Entry{
		Name: name, File: fileFor(name, format), Format: format, Kind: kindOf(format),
		Size: size, SHA256: sum256, Source: source, Added: time.Now().UTC(), Details: details,
	}
	if err := r.install(partial, e, opts.Replace); err != nil {
		return Entry{}, err
	}
	e.Path = filepath.Join(r.dir, e.File)
	return e, nil
}

// install moves a verified file to its final name and records it. The
// manifest is written only after the rename, so it never names a missing or
// partial file.
func (r *Registry) install(tmp string, e Entry, replace bool) error {
	dst := filepath.Join(r.dir, e.File)
	if _, err := os.Stat(dst); err == nil && !replace {
		return fmt.Errorf("%w: file %s already exists", ErrExists, dst)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	if err := syncDir(r.dir); err != nil {
		return err
	}
	if err := r.add(e, replace); err != nil {
		os.Remove(dst)
		return err
	}
	return nil
}

// download fetches rawURL into partial, resuming from its current length,
// and returns the SHA-256 and SHA-1 of the whole file and its size.
func (r *Registry) download(ctx context.Context, name, rawURL, partial string, progress func(Progress)) (string, string, int64, error) {
	f, err := os.OpenFile(partial, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", "", 0, err
	}
	defer f.Close()
	h256, h1 := sha256.New(), sha1.New()
	hashes := io.MultiWriter(h256, h1)
	have, err := io.Copy(hashes, f) // hash what an earlier pull left
	if err != nil {
		return "", "", 0, err
	}
	resumed := have
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", "", 0, err
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return "", "", 0, err
	}
	defer resp.Body.Close()
	total := int64(-1)
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		start, end, size, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != have {
			return "", "", 0, fmt.Errorf("server sent range %q for a resume from byte %d", resp.Header.Get("Content-Range"), have)
		}
		total = size
		if size < 0 && end >= 0 {
			total = -1
		}
	case resp.StatusCode == http.StatusOK:
		// No range support (or nothing to resume): start over.
		if have > 0 {
			if err := f.Truncate(0); err != nil {
				return "", "", 0, err
			}
			h256.Reset()
			h1.Reset()
			have, resumed = 0, 0
		}
		total = resp.ContentLength
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		// The partial file is as long as (or longer than) the resource:
		// drop it and let the caller retry from scratch.
		f.Truncate(0)
		return "", "", 0, fmt.Errorf("server refused resuming at byte %d; partial download discarded, retry the pull", have)
	default:
		return "", "", 0, fmt.Errorf("GET %s: %s", rawURL, resp.Status)
	}
	if _, err := f.Seek(have, io.SeekStart); err != nil {
		return "", "", 0, err
	}
	start := time.Now()
	var last time.Time
	report := func(force bool) {
		if progress == nil || (!force && time.Since(last) < 100*time.Millisecond) {
			return
		}
		last = time.Now()
		progress(Progress{Name: name, Done: have, Total: total, Resumed: resumed, Elapsed: time.Since(start)})
	}
	report(true)
	buf := make([]byte, 256<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				return "", "", 0, err
			}
			hashes.Write(buf[:n])
			have += int64(n)
			report(false)
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			f.Sync()
			return "", "", 0, fmt.Errorf("download interrupted at %d bytes (run the pull again to resume): %w", have, rerr)
		}
	}
	report(true)
	if total >= 0 && have != total {
		return "", "", 0, fmt.Errorf("download ended at %d of %d bytes (run the pull again to resume)", have, total)
	}
	if err := f.Sync(); err != nil {
		return "", "", 0, err
	}
	return hex.EncodeToString(h256.Sum(nil)), hex.EncodeToString(h1.Sum(nil)), have, nil
}

// parseContentRange parses "bytes START-END/SIZE" (SIZE may be "*").
func parseContentRange(s string) (start, end, size int64, ok bool) {
	s, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, sz, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	start, err1 = strconv.ParseInt(a, 10, 64)
	end, err2 = strconv.ParseInt(b, 10, 64)
	size = -1
	if sz != "*" {
		size, err3 = strconv.ParseInt(sz, 10, 64)
	}
	return start, end, size, err1 == nil && err2 == nil && err3 == nil
}
