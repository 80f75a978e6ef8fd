// An automerge-repo client (WebSocketClientAdapter + NodeFSStorageAdapter)
// that opens every document of the benchmark corpus by id, for the
// baseline of `outpost bench sync`.
//
//   node bench-client.mjs ws://127.0.0.1:PORT IDS.txt STORAGE_DIR
//
// Prints one JSON line: {"seconds": time from start until every document
// is ready, "docs": n}.
import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import fs from "node:fs"

const [url, idsFile, dir] = process.argv.slice(2)
const ids = fs.readFileSync(idsFile, "utf8").split("\n").filter(Boolean)
const start = performance.now()
const adapter = new WebSocketClientAdapter(url)
const repo = new Repo({ network: [adapter], storage: new NodeFSStorageAdapter(dir) })
await adapter.whenReady()
const handles = await Promise.all(ids.map(id => repo.find("automerge:" + id)))
for (const h of handles) {
  if (!h.isReady()) throw new Error("not ready: " + h.url)
}
await repo.flush()
const seconds = (performance.now() - start) / 1000
console.log(JSON.stringify({ seconds, docs: handles.length }))
process.exit(0)
