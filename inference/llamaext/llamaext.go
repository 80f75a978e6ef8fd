package llamaext

/*
#include <stdlib.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

typedef struct outpost_chat_message {
	const char * role;
	const char * content;
} outpost_chat_message;

int32_t llama_chat_apply_template(const char * tmpl, const outpost_chat_message * chat, size_t n_msg, bool add_ass, char * buf, int32_t length);
void llama_free(void * ctx);
float * llama_get_logits_ith(void * ctx, int32_t i);
*/
import "C"

import (
	"log/slog"
	"reflect"
	"unsafe"

	"github.com/ollama/ollama/llama"
)

// Ptr returns c's C pointer (a llama_context *). The llama package keeps it
// in the unexported first field of Context. The layout is checked against
// the pinned module version; if it ever changes the result is nil, and the
// callers go without what needs it (freeing, logits) rather than corrupt
// memory.
func Ptr(c *llama.Context) unsafe.Pointer {
	t := reflect.TypeOf(llama.Context{})
	f, ok := t.FieldByName("c")
	if !ok || f.Offset != 0 || f.Type.Kind() != reflect.Pointer {
		slog.Warn("llama.Context layout changed: contexts will leak and logits are out of reach")
		return nil
	}
	return *(*unsafe.Pointer)(unsafe.Pointer(c))
}

// Free releases a llama context: its KV cache and compute buffers. It does
// nothing if Ptr cannot reach the context.
func Free(c *llama.Context) {
	if p := Ptr(c); p != nil {
		C.llama_free(p)
	}
}

// Logits returns the logits row of batch entry i of the context at ctxPtr
// (from Ptr), writable in place: llama.cpp's samplers read the same buffer.
// It returns nil if entry i has no logits.
func Logits(ctxPtr unsafe.Pointer, i, nVocab int) []float32 {
	p := C.llama_get_logits_ith(ctxPtr, C.int32_t(i))
	if p == nil {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(p)), nVocab)
}

// Message is one chat turn for ApplyChatTemplate.
type Message struct{ Role, Content string }

// ApplyChatTemplate formats msgs with llama.cpp's built-in template
// detection (no Jinja: it recognises the common families by their markers).
// It returns false if llama.cpp does not know the template.
func ApplyChatTemplate(tmpl string, msgs []Message, addAssistant bool) (string, bool) {
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
