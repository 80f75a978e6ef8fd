package llamaext

/*
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

// RouteLogs sends llama.cpp's and ggml's log lines to slog's default
// logger: errors as warnings, everything else as debug (a model load
// prints about a hundred lines).
func RouteLogs() { C.outpost_route_logs() }

//export outpostLlamaLog
func outpostLlamaLog(level C.int, text *C.char, _ unsafe.Pointer) {
	// ggml levels: 0 none, 1 debug, 2 info, 3 warn, 4 error, 5 cont.
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
