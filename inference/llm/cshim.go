package llm

/*
#include <stdlib.h>
#include <stdint.h>
#include <stdbool.h>

// Declarations of llama.cpp functions that github.com/ollama/ollama/llama
// compiles into the binary but does not wrap. Only the prototypes are
// repeated here; the definitions are linked from that package.
typedef struct outpost_chat_message {
	const char * role;
	const char * content;
} outpost_chat_message;

int32_t llama_chat_apply_template(const char * tmpl, const outpost_chat_message * chat, size_t n_msg, bool add_ass, char * buf, int32_t length);
void llama_free(void * ctx);
float * llama_get_logits_ith(void * ctx, int32_t i);

typedef void (*outpost_log_callback)(int level, const char * text, void * user_data);
void llama_log_set(outpost_log_callback cb, void * user_data);
extern void outpostLlamaLog(int level, char * text, void * user_data);
static void outpost_route_logs(void) { llama_log_set((outpost_log_callback)outpostLlamaLog, NULL); }
*/
import "C"

import (
	"context"
	"log/slog"
	"strings"
	"unsafe"
)

func routeLogs() { C.outpost_route_logs() }

//export outpostLlamaLog
func outpostLlamaLog(level C.int, text *C.char, _ unsafe.Pointer) {
	// ggml levels: 0 none, 1 debug, 2 info, 3 warn, 4 error, 5 cont.
	// Everything but errors goes to debug: a model load prints ~100 lines.
	lvl := slog.LevelDebug
	if level == 4 {
		lvl = slog.LevelWarn
	}
	ctx := context.Background()
	if !slog.Default().Enabled(ctx, lvl) {
		return
	}
	msg := strings.TrimRight(C.GoString(text), "\n")
	if strings.Trim(msg, ". ") == "" {
		return
	}
	slog.Default().Log(ctx, lvl, msg, "source", "llama.cpp")
}

// applyChatTemplate formats messages with llama.cpp's built-in template
// detection (no Jinja: it recognises the common families by their markers).
// It returns false if llama.cpp does not know the template.
func applyChatTemplate(tmpl string, msgs []Message, addAssistant bool) (string, bool) {
	ctmpl := C.CString(tmpl)
	defer C.free(unsafe.Pointer(ctmpl))
	cmsgs := (*C.outpost_chat_message)(C.malloc(C.size_t(len(msgs)+1) * C.size_t(unsafe.Sizeof(C.outpost_chat_message{}))))
	defer C.free(unsafe.Pointer(cmsgs))
	arr := unsafe.Slice(cmsgs, len(msgs)+1)
	total := 0
	for i, m := range msgs {
		arr[i].role = C.CString(m.Role)
		arr[i].content = C.CString(m.Content)
		defer C.free(unsafe.Pointer(arr[i].role))
		defer C.free(unsafe.Pointer(arr[i].content))
		total += len(m.Role) + len(m.Content)
	}
	size := 2*total + 1024
	for range 2 {
		buf := (*C.char)(C.malloc(C.size_t(size)))
		n := C.llama_chat_apply_template(ctmpl, cmsgs, C.size_t(len(msgs)), C.bool(addAssistant), buf, C.int32_t(size))
		if n < 0 {
			C.free(unsafe.Pointer(buf))
			return "", false
		}
		if int(n) <= size {
			s := C.GoStringN(buf, n)
			C.free(unsafe.Pointer(buf))
			return s, true
		}
		C.free(unsafe.Pointer(buf))
		size = int(n) + 1
	}
	return "", false
}

// freeContext releases a llama context, which the llama package cannot do
// (it has no Context.Free). ctxPtr is the C pointer taken from the context.
func freeContext(ctxPtr unsafe.Pointer) {
	if ctxPtr != nil {
		C.llama_free(ctxPtr)
	}
}

// logitsAt returns the logits row of batch entry i, writable in place: the
// sampler reads it from the same buffer.
func logitsAt(ctxPtr unsafe.Pointer, i, nVocab int) []float32 {
	p := C.llama_get_logits_ith(ctxPtr, C.int32_t(i))
	if p == nil {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(p)), nVocab)
}
