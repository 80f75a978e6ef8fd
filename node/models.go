package node

import "github.com/outposthq/outpost/inference/registry"

// defaultModel is the model a request of a kind gets when it names none:
// the node's configured default, else the one model of that kind in its
// registry, so that a node with a single pulled Whisper or LLM model works
// without flags. "" if neither decides.
func (n *Node) defaultModel(kind registry.Kind) string {
	configured := n.cfg.DefaultModel
	if kind == registry.KindWhisper {
		configured = n.cfg.DefaultSpeechModel
	}
	if configured != "" || n.cfg.Models == nil {
		return configured
	}
	names, err := n.cfg.Models.Names(kind)
	if err != nil || len(names) != 1 {
		return "" // none, or several: the request must choose
	}
	return names[0]
}
