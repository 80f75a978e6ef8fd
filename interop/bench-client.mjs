// An automerge-repo client (WebSocketClientAdapter + NodeFSStorageAdapter)
// that opens every document of the benchmark corpus by id, for the
// baseline of `outpost bench sync`.
//
//   node bench-client.mjs ws://127.0.0.1:PORT IDS.txt STORAGE_DIR
//
// It opens at most 64 documents at a time (automerge-repo reports some
// documents unavailable when 10,000 finds are in flight at once) and
// retries a document reported unavailable up to 5 times.
//
// Prints one JSON line: {"seconds": time from start until every document
// is ready and stored, "docs": n, "retries": r}.
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
let retries = 0
async function open(id) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await repo.find("automerge:" + id)
    } catch (e) {
      if (attempt >= 5) throw e
      retries++
    }
  }
}
const handles = []
let next = 0
await Promise.all(Array.from({ length: 64 }, async () => {
  while (next < ids.length) {
    const id = ids[next++]
    handles.push(await open(id))
  }
}))
for (const h of handles) {
  if (!h.isReady()) throw new Error("not ready: " + h.url)
}
await repo.flush()
const seconds = (performance.now() - start) / 1000
console.log(JSON.stringify({ seconds, docs: handles.length, retries }))
process.exit(0)
