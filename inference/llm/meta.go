package llm

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/outposthq/outpost/inference/gguf"
)

// modelMeta is what the engine needs from a model file before loading it.
type modelMeta struct {
	arch          string
	fileSize      int64
	layers        uint64
	embed         uint64
	heads         uint64
	ffn           uint64
	kvDim         uint64 // key+value width per token and layer
	vocab         uint64
	ctxTrain      uint64
	chatTemplate  string
	bos           int
	hasBOS        bool
	randomWeights bool
}

// readMeta validates the file's header with Outpost's own bounded reader, so
// a corrupt file is refused here rather than inside llama.cpp.
func readMeta(path string) (modelMeta, error) {
	st, err := os.Stat(path)
	if err != nil {
		return modelMeta{}, fmt.Errorf("model file: %w", err)
	}
	f, err := gguf.ReadFile(path)
	if err != nil {
		return modelMeta{}, fmt.Errorf("%w: %w", ErrBadModel, err)
	}
	m := modelMeta{arch: f.Architecture(), fileSize: st.Size()}
	if m.arch == "" {
		return m, fmt.Errorf("%w: %s: no general.architecture", ErrBadModel, path)
	}
	if len(f.Tensors) == 0 {
		return m, fmt.Errorf("%w: %s: no tensors (a vocabulary-only file?)", ErrBadModel, path)
	}
	m.layers, _ = f.ArchUint("block_count")
	m.embed, _ = f.ArchUint("embedding_length")
	m.heads, _ = f.ArchUint("attention.head_count")
	if m.ffn, _ = f.ArchUint("feed_forward_length"); m.ffn == 0 {
		m.ffn = 4 * m.embed
	}
	kvHeads, ok := f.ArchUint("attention.head_count_kv")
	if !ok {
		kvHeads = m.heads
	}
	if m.layers == 0 || m.embed == 0 {
		return m, fmt.Errorf("%w: %s: missing %s.block_count or %s.embedding_length", ErrBadModel, path, m.arch, m.arch)
	}
	keyLen, okK := f.ArchUint("attention.key_length")
	valLen, okV := f.ArchUint("attention.value_length")
	if m.heads > 0 {
		if !okK {
			keyLen = m.embed / m.heads
		}
		if !okV {
			valLen = m.embed / m.heads
		}
		m.kvDim = (keyLen + valLen) * kvHeads
	} else {
		m.kvDim = 2 * m.embed
	}
	m.vocab, _ = f.ArrayLen("tokenizer.ggml.tokens")
	if m.vocab == 0 {
		return m, fmt.Errorf("%w: %s: no tokenizer vocabulary", ErrBadModel, path)
	}
	m.ctxTrain, _ = f.ArchUint("context_length")
	m.chatTemplate, _ = f.String("tokenizer.chat_template")
	if b, ok := f.Uint("tokenizer.ggml.bos_token_id"); ok && b < m.vocab {
		m.bos, m.hasBOS = int(b), true
	}
	m.randomWeights, _ = f.Bool("outpost.random_weights")
	return m, nil
}

// memoryEstimate is the resident memory a loaded model needs: its weights
// (the file, mmapped and all touched), the KV cache (F16) for every
// sequence, and llama.cpp's compute buffers. The compute term is an upper
// bound of the largest buffers for one micro-batch: logits, activations and
// attention scores.
func (m modelMeta) memoryEstimate(ctxPerSeq, parallel, batch int) int64 {
	ctxTotal := uint64(ctxPerSeq * parallel)
	kv := 2 * m.layers * ctxTotal * m.kvDim
	ff := m.ffn
	compute := 4 * uint64(batch) * (m.vocab + 4*m.embed + 2*ff + m.heads*uint64(ctxPerSeq))
	logits := 4 * m.vocab * uint64(parallel)
	return m.fileSize + int64(kv+compute+logits) + 32<<20
}

// defaultBudget is three quarters of physical memory, or 0 (no limit) where
// it cannot be read.
func defaultBudget() int64 {
	if runtime.GOOS != "linux" {
		return 0
	}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024 / 4 * 3
		}
	}
	return 0
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
