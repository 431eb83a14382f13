/**
 * For engine-ipc.bench.ts: sends `n` messages shaped like the engine child's 'chunks' message
 * (ipc.ts), `perMessage` tokens each, as fast as the IPC channel takes them, then 'done'.
 */
process.on('message', (m: { n: number, perMessage: number }) => {
  let i = 0
  const items = Array.from({ length: m.perMessage }, (_, k) => [` tok${k}`, 1] as [string, number])
  const pump = (): void => {
    while (i < m.n) {
      i++
      // back-pressure: wait for the channel when send reports it is full
      if (!process.send!({ t: 'chunks', id: 1, items })) { setImmediate(pump); return }
    }
    process.send!({ t: 'done', id: 1 })
  }
  pump()
})
