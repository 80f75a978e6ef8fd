package whisper

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	fsggml "github.com/ollama/ollama/fs/ggml"
	"github.com/ollama/ollama/ml"
	_ "github.com/ollama/ollama/ml/backend/ggml" // registers the "ggml" backend

	"github.com/outposthq/outpost/inference/cpuslot"
	"github.com/outposthq/outpost/inference/llamaext"
)

// LoadOptions configure Load.
type LoadOptions struct {
	// Threads is the number of CPU threads ggml uses (default: all).
	Threads int
	// TempDir receives the transient GGUF copy of the weights that ggml's
	// loader reads (default: beside the model file, else os.TempDir()).
	TempDir string
	// CacheDir, if set, keeps the GGUF copy for later loads of the same
	// file (keyed by its path, size and modification time).
	CacheDir string
	// Progress, if set, is called with the fraction of weights loaded.
	Progress func(float32)
}

// Model is a loaded Whisper model: its dimensions, tokenizer and mel
// filterbank in Go, its weights in ggml. It is safe for concurrent use;
// graph computations are serialized (each uses every thread).
type Model struct {
	Hparams   Hparams
	Tokenizer *Tokenizer
	Filters   []float32
	Encoder   *Encoder
	Decoder   *Decoder

	backend ml.Backend
	// kvType is the element type of the attention caches.
	kvType ml.DType
	// static owns tensors computed once at load (see Encoder.prepare).
	static ml.Context
	// computeMu serializes Compute and the reading of its outputs: ggml's
	// scheduler reuses one compute buffer for every graph of the backend.
	computeMu sync.Mutex
	closeOnce sync.Once
	random    bool
}

// Load reads the whisper.cpp model file at path, validates it completely,
// and loads its weights into ggml.
//
// ggml's loader (ollama's ml backend) reads GGUF, so the tensors are first
// copied into a GGUF file with the same names, shapes and types (no
// conversion of the data): a temporary one removed once loaded, or one kept
// in LoadOptions.CacheDir for the next load.
func Load(ctx context.Context, path string, opts LoadOptions) (m *Model, err error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	gguf, cleanup, err := ggufFor(path, f, opts)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	threads := cpuslot.Threads(opts.Threads)
	if opts.Threads > threads {
		slog.Warn("whisper: more threads than CPUs would stall every graph; using fewer", "threads", opts.Threads, "cpus", threads)
	}
	// ggml panics (ErrNoMem) when it cannot allocate; report it as an error.
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("whisper: loading %s: %v", filepath.Base(path), r)
		}
	}()
	b, err := ml.NewBackend(gguf, ml.BackendParams{
		AllocMemory:    true,
		NumThreads:     threads,
		FlashAttention: ml.FlashAttentionDisabled,
	})
	if err != nil {
		return nil, fmt.Errorf("whisper: ggml backend: %w", err)
	}
	if err := b.Load(ctx, opts.Progress); err != nil {
		b.Close()
		return nil, fmt.Errorf("whisper: loading weights: %w", err)
	}
	m = &Model{
		Hparams:   f.Hparams,
		Tokenizer: newTokenizer(f.Tokens, f.Hparams.NVocab),
		Filters:   f.Filters,
		backend:   b,
		kvType:    ml.DTypeF16,
		random:    f.RandomWeights(),
	}
	w := weightGetter{b: b}
	m.Encoder = newEncoder(&w, f.Hparams)
	m.Decoder = newDecoder(&w, f.Hparams)
	if w.err != nil {
		b.Close()
		return nil, w.err
	}
	// Without a pool ggml starts and joins threads for every graph: a
	// large share of a decoding step on the small models.
	if err := llamaext.ShareBackendPool(b, threads); err != nil {
		slog.Warn("whisper: computing without a thread pool: every graph starts its own threads", "err", err)
	}
	m.static = b.NewContextSize(8)
	if err := m.Encoder.prepare(ctx, m, m.static); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// Close frees the weights. The model must not be used afterwards.
func (m *Model) Close() {
	m.closeOnce.Do(func() {
		m.computeMu.Lock()
		defer m.computeMu.Unlock()
		if m.static != nil {
			m.static.Close()
		}
		m.backend.Close()
	})
}

// Multilingual reports whether the model has the multilingual vocabulary.
func (m *Model) Multilingual() bool { return m.Hparams.Multilingual() }

// RandomWeights reports whether the file was written with random weights.
func (m *Model) RandomWeights() bool { return m.random }

// ggufFor returns a GGUF copy of the model at path and a function to call
// once it has been loaded.
func ggufFor(path string, f *File, opts LoadOptions) (string, func(), error) {
	src, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer src.Close()
	noop := func() {}

	if opts.CacheDir != "" {
		st, err := src.Stat()
		if err != nil {
			return "", nil, err
		}
		abs, _ := filepath.Abs(path)
		who := sha256.Sum256([]byte(abs))
		ver := sha256.Sum256(fmt.Appendf(nil, "%d %d %d", ggufLayoutVersion, st.Size(), st.ModTime().UnixNano()))
		prefix := "whisper-" + hex.EncodeToString(who[:8]) + "-"
		cached := filepath.Join(opts.CacheDir, prefix+hex.EncodeToString(ver[:8])+".gguf")
		if _, err := os.Stat(cached); err == nil {
			return cached, noop, nil
		}
		if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
			return "", nil, err
		}
		tmp, err := os.CreateTemp(opts.CacheDir, ".whisper-*.tmp")
		if err != nil {
			return "", nil, err
		}
		if err := writeGGUFFile(tmp, f, src, true); err != nil {
			os.Remove(tmp.Name())
			return "", nil, err
		}
		// Complete or absent: a crash never leaves a partial cache entry.
		if err := os.Rename(tmp.Name(), cached); err != nil {
			os.Remove(tmp.Name())
			return "", nil, err
		}
		// Older copies of this path (the file has changed) are stale.
		old, _ := filepath.Glob(filepath.Join(opts.CacheDir, prefix+"*.gguf"))
		for _, o := range old {
			if o != cached {
				os.Remove(o)
			}
		}
		return cached, noop, nil
	}

	tmp, err := createTemp(opts.TempDir, filepath.Dir(path))
	if err != nil {
		return "", nil, fmt.Errorf("whisper: temporary GGUF: %w", err)
	}
	if err := writeGGUFFile(tmp, f, src, false); err != nil {
		os.Remove(tmp.Name())
		return "", nil, err
	}
	return tmp.Name(), func() { os.Remove(tmp.Name()) }, nil
}

// ggufLayoutVersion changes whenever writeGGUF writes differently, so that
// cached copies from an older version are not used.
const ggufLayoutVersion = 1

// writeGGUFFile writes and closes dst, syncing it first if it is to
// outlive this process.
func writeGGUFFile(dst *os.File, f *File, src io.ReaderAt, durable bool) error {
	if err := writeGGUF(dst, f, src); err != nil {
		dst.Close()
		return fmt.Errorf("whisper: writing GGUF copy: %w", err)
	}
	if durable {
		if err := dst.Sync(); err != nil {
			dst.Close()
			return err
		}
	}
	return dst.Close()
}

func createTemp(dir, modelDir string) (*os.File, error) {
	if dir != "" {
		return os.CreateTemp(dir, ".whisper-*.gguf")
	}
	// Beside the model the disk is likely large enough for a copy; /tmp
	// may be a small tmpfs. Read-only model directories fall back.
	if f, err := os.CreateTemp(modelDir, ".whisper-*.gguf"); err == nil {
		return f, nil
	}
	return os.CreateTemp("", "whisper-*.gguf")
}

// writeGGUF copies f's tensors from src into a GGUF file for ggml's loader.
func writeGGUF(dst *os.File, f *File, src io.ReaderAt) error {
	h := f.Hparams
	kv := fsggml.KV{
		"general.architecture": "whisper",
		// ollama's loader assigns tensors to layers by the first number in
		// their name ("encoder.conv2.weight" counts as layer 2), so the
		// block count must exceed every such number.
		"whisper.block_count": uint32(max(h.NAudioLayer, h.NTextLayer, 3)),
	}
	specs := h.tensorSpecs()
	shapes := make(map[string][]int64, len(specs))
	for _, s := range specs {
		shapes[s.name] = s.shape
	}
	ts := make([]*fsggml.Tensor, 0, len(f.Tensors))
	for _, t := range f.Tensors {
		shape := make([]uint64, len(shapes[t.Name]))
		for i, d := range shapes[t.Name] {
			shape[i] = uint64(d)
		}
		ts = append(ts, &fsggml.Tensor{
			Name:     t.Name,
			Kind:     uint32(t.Type),
			Shape:    shape,
			WriterTo: sectionWriterTo{io.NewSectionReader(src, t.Offset, t.Size)},
		})
	}
	return fsggml.WriteGGUF(dst, kv, ts)
}

type sectionWriterTo struct{ r *io.SectionReader }

func (s sectionWriterTo) WriteTo(w io.Writer) (int64, error) {
	return io.Copy(w, s.r)
}

// weightGetter looks tensors up by name and remembers the first miss.
type weightGetter struct {
	b   ml.Backend
	err error
}

func (w *weightGetter) get(name string) ml.Tensor {
	t := w.b.Get(name)
	if t == nil && w.err == nil {
		w.err = errors.New("whisper: ggml has no tensor " + name)
	}
	return t
}
