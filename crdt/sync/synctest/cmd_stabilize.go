package synctest

import "fmt"

// stabilize [quiet]
//
// Processes every node's Ready and delivers every frame until nothing is
// left. Prints everything, or with quiet only how much happened.
func (env *Env) cmdStabilize(c *Cmd) (string, error) {
	log, err := env.Stabilize()
	if c.Has("quiet") {
		msgs := 0
		for _, l := range log {
			if len(l) > 0 && containsArrow(l) {
				msgs++
			}
		}
		return fmt.Sprintf("%d messages delivered", msgs), err
	}
	return lines(log), err
}

func containsArrow(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '-' && s[i+1] == '>' {
			return true
		}
	}
	return false
}
