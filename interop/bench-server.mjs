// automerge-repo's own sync server, as its automerge-repo-sync-server
// example runs it (WebSocketServerAdapter, sharePolicy false), for the
// baseline of `outpost bench sync`. It holds the corpus in memory without
// a storage adapter: importing 10,000 documents into NodeFSStorageAdapter
// takes minutes, and serving documents already in memory is what a warm
// sync server does anyway (this favours the baseline).
//
//   node bench-server.mjs CORPUS.jsonl
//
// CORPUS.jsonl has one {"id": documentId, "doc": base64 Automerge save} per
// line: the same documents the Outpost server serves. Prints "ready PORT"
// once they are loaded; then, for each "stats" line on stdin, one JSON
// line of what crossed the WebSocket (message payload bytes and counts).
import { Repo } from "@automerge/automerge-repo"
import { WebSocketServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { WebSocketServer } from "ws"
import fs from "node:fs"
import readline from "node:readline"

const [corpus] = process.argv.slice(2)
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 })
const stats = { bytes_in: 0, bytes_out: 0, messages_in: 0, messages_out: 0 }
wss.on("connection", ws => {
  ws.on("message", m => { stats.bytes_in += m.length; stats.messages_in++ })
  const send = ws.send.bind(ws)
  ws.send = (data, ...rest) => {
    stats.bytes_out += data.byteLength
    stats.messages_out++
    return send(data, ...rest)
  }
})
const repo = new Repo({
  network: [new WebSocketServerAdapter(wss)],
  peerId: "automerge-repo-sync-server",
  // The sync server example shares everything with everyone.
  sharePolicy: async () => false,
})

const rl = readline.createInterface({ input: fs.createReadStream(corpus) })
for await (const line of rl) {
  if (!line) continue
  const { id, doc } = JSON.parse(line)
  repo.import(Buffer.from(doc, "base64"), { docId: id })
}
await new Promise(r => (wss.address() ? r() : wss.on("listening", r)))
console.log("ready " + wss.address().port)

const cmds = readline.createInterface({ input: process.stdin })
for await (const line of cmds) {
  if (line === "stats") console.log(JSON.stringify(stats))
  if (line === "exit") break
}
process.exit(0)
