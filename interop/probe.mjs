// Opens one WebSocket to a sync URL and prints how the server answered the
// upgrade: "open" or "refused <status>". Used by the Go interop test to
// check that a wrong token is refused before any automerge-repo traffic.
import WebSocket from "ws"

const ws = new WebSocket(process.argv[2])
ws.on("open", () => { console.log("open"); ws.close(); process.exit(0) })
ws.on("unexpected-response", (req, res) => { console.log("refused " + res.statusCode); process.exit(0) })
ws.on("error", e => { console.log("error " + e.message); process.exit(0) })
