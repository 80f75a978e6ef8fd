package llm

import (
	"strings"

	"github.com/outposthq/outpost/inference/llamaext"
)

// formatChat renders messages with the model's chat template. llama.cpp
// recognises the common template families (ChatML, Llama 2/3, Mistral, Phi,
// Gemma, ...) from the template's markers without running Jinja; a model
// whose template it does not know, or that has none, gets ChatML.
func (r *runner) formatChat(msgs []Message) string {
	if r.meta.chatTemplate != "" {
		turns := make([]llamaext.Message, len(msgs))
		for i, m := range msgs {
			turns[i] = llamaext.Message{Role: m.Role, Content: m.Content}
		}
		if s, ok := llamaext.ApplyChatTemplate(r.meta.chatTemplate, turns, true); ok {
			return s
		}
		r.log.Debug("chat template not recognised, using ChatML", "model", r.name)
	}
	return chatML(msgs)
}

func chatML(msgs []Message) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString("<|im_start|>" + m.Role + "\n" + m.Content + "<|im_end|>\n")
	}
	b.WriteString("<|im_start|>assistant\n")
	return b.String()
}
