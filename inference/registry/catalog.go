package registry

import "strings"

// CatalogEntry is a well-known model file `outpost models pull NAME` can
// fetch. A pull is verified against SHA256 when known, else against SHA1
// (whisper.cpp publishes SHA-1 sums for its files); an entry with neither is
// refused unless the caller supplies a SHA-256.
type CatalogEntry struct {
	Name        string
	Format      Format
	URL         string
	SHA256      string
	SHA1        string
	Size        int64 // bytes, 0 if not recorded
	Description string
}

// Verified reports whether the entry carries a checksum.
func (c CatalogEntry) Verified() bool { return c.SHA256 != "" || c.SHA1 != "" }

const (
	hf      = "https://huggingface.co/"
	whisper = hf + "ggerganov/whisper.cpp/resolve/main/"
)

// Catalog returns the built-in catalog. Checksums were taken from published
// sources (Hugging Face LFS object ids as recorded by several independent
// projects, and the SHA-1 table in whisper.cpp's models/README.md); entries
// whose hash could not be confirmed have none, so pull refuses them unless
// the operator passes --sha256.
func Catalog() []CatalogEntry {
	return []CatalogEntry{
		{Name: "qwen2.5:0.5b", Format: FormatGGUF,
			URL:    hf + "Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/9217f5db79a29953eb74d5343926648285ec7e67/qwen2.5-0.5b-instruct-q4_k_m.gguf",
			SHA256: "74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9db", Size: 491400032,
			Description: "Qwen2.5 0.5B Instruct, Q4_K_M (Apache-2.0)"},
		{Name: "qwen2.5:1.5b", Format: FormatGGUF,
			URL:         hf + "Qwen/Qwen2.5-1.5B-Instruct-GGUF/resolve/91cad51170dc346986eccefdc2dd33a9da36ead9/qwen2.5-1.5b-instruct-q4_k_m.gguf",
			SHA256:      "6a1a2eb6d15622bf3c96857206351ba97e1af16c30d7a74ee38970e434e9407e",
			Description: "Qwen2.5 1.5B Instruct, Q4_K_M (Apache-2.0)"},
		{Name: "llama3.2:1b", Format: FormatGGUF,
			URL:    hf + "bartowski/Llama-3.2-1B-Instruct-GGUF/resolve/067b946cf014b7c697f3654f621d577a3e3afd1c/Llama-3.2-1B-Instruct-Q4_K_M.gguf",
			SHA256: "6f85a640a97cf2bf5b8e764087b1e83da0fdb51d7c9fab7d0fece9385611df83", Size: 807694464,
			Description: "Llama 3.2 1B Instruct, Q4_K_M (Llama 3.2 Community License)"},
		{Name: "llama3.2:3b", Format: FormatGGUF,
			URL:    hf + "bartowski/Llama-3.2-3B-Instruct-GGUF/resolve/main/Llama-3.2-3B-Instruct-Q4_K_M.gguf",
			SHA256: "6c1a2b41161032677be168d354123594c0e6e67d2b9227c84f296ad037c728ff", Size: 2019377696,
			Description: "Llama 3.2 3B Instruct, Q4_K_M (Llama 3.2 Community License)"},
		{Name: "phi3.5:mini", Format: FormatGGUF,
			URL:         hf + "bartowski/Phi-3.5-mini-instruct-GGUF/resolve/main/Phi-3.5-mini-instruct-Q4_K_M.gguf",
			Description: "Phi-3.5 mini Instruct, Q4_K_M (MIT); no published checksum recorded: pass --sha256"},

		{Name: "whisper:tiny", Format: FormatWhisper, URL: whisper + "ggml-tiny.bin",
			SHA256: "be07e048e1e599ad46341c8d2a135645097a538221678b7acdd1b1919c6e1b21",
			SHA1:   "bd577a113a864445d4c299885e0cb97d4ba92b5f", Description: "Whisper tiny, multilingual (75 MiB)"},
		{Name: "whisper:tiny.en", Format: FormatWhisper, URL: whisper + "ggml-tiny.en.bin",
			SHA256: "921e4cf8686fdd993dcd081a5da5b6c365bfde1162e72b08d75ac75289920b1f",
			SHA1:   "c78c86eb1a8faa21b369bcd33207cc90d64ae9df", Description: "Whisper tiny, English (75 MiB)"},
		{Name: "whisper:base", Format: FormatWhisper, URL: whisper + "ggml-base.bin",
			SHA256: "60ed5bc3dd14eea856493d334349b405782ddcaf0028d4b5df4088345fba2efe",
			SHA1:   "465707469ff3a37a2b9b8d8f89f2f99de7299dac", Description: "Whisper base, multilingual (142 MiB)"},
		{Name: "whisper:base.en", Format: FormatWhisper, URL: whisper + "ggml-base.en.bin",
			SHA256: "a03779c86df3323075f5e796cb2ce5029f00ec8869eee3fdfb897afe36c6d002",
			SHA1:   "137c40403d78fd54d454da0f9bd998f78703390c", Description: "Whisper base, English (142 MiB)"},
		{Name: "whisper:small", Format: FormatWhisper, URL: whisper + "ggml-small.bin",
			SHA256: "1be3a9b2063867b937e64e2ec7483364a79917e157fa98c5d94b5c1fffea987b",
			SHA1:   "55356645c2b361a969dfd0ef2c5a50d530afd8d5", Description: "Whisper small, multilingual (466 MiB)"},
		{Name: "whisper:small.en", Format: FormatWhisper, URL: whisper + "ggml-small.en.bin",
			SHA256: "c6138d6d58ecc8322097e0f987c32f1be8bb0a18532a3f88f734d1bbf9c41e5d",
			SHA1:   "db8a495a91d927739e50b3fc1cc4c6b8f6c2d022", Description: "Whisper small, English (466 MiB)"},
		{Name: "whisper:medium", Format: FormatWhisper, URL: whisper + "ggml-medium.bin",
			SHA256: "6c14d5adee5f86394037b4e4e8b59f1673b6cee10e3cf0b11bbdbee79c156208",
			SHA1:   "fd9727b6e1217c2f614f9b698455c4ffd82463b4", Description: "Whisper medium, multilingual (1.5 GiB)"},
		{Name: "whisper:medium.en", Format: FormatWhisper, URL: whisper + "ggml-medium.en.bin",
			SHA1: "8c30f0e44ce9560643ebd10bbe50cd20eafd3723", Description: "Whisper medium, English (1.5 GiB)"},
		{Name: "whisper:large-v3", Format: FormatWhisper, URL: whisper + "ggml-large-v3.bin",
			SHA1: "ad82bf6a9043ceed055076d0fd39f5f186ff8062", Description: "Whisper large-v3 (2.9 GiB)"},
		{Name: "whisper:large-v3-turbo", Format: FormatWhisper, URL: whisper + "ggml-large-v3-turbo.bin",
			SHA256: "1fc70f774d38eb169993ac391eea357ef47c88757ef72ee5943879b7e8e2bc69", Size: 1624555275,
			Description: "Whisper large-v3-turbo (1.5 GiB)"},
	}
}

// lookupCatalog finds an entry by name, case-insensitively and with ':'
// and '-' interchangeable after the family ("whisper-base.en" finds
// "whisper:base.en", as the file it is stored in is named).
func (r *Registry) lookupCatalog(name string) (CatalogEntry, bool) {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, ":", "-")) }
	for _, c := range r.catalog {
		if norm(c.Name) == norm(name) {
			return c, true
		}
	}
	return CatalogEntry{}, false
}

// CatalogEntries returns the registry's catalog (the built-in one unless
// Options.Catalog replaced it).
func (r *Registry) CatalogEntries() []CatalogEntry { return r.catalog }
