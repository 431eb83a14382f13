/** The dashboard: one self-contained page that reads the gateway's own /tally/* JSON. */

function escapeHtml (s: string): string {
  return s.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string)
}

export function dashboardHtml (account: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tally node</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}th{background:#f4f4f4}code{font-size:12px}</style></head>
<body><h1>Tally node</h1><p>account <code id="account">${escapeHtml(account)}</code></p>
<h2>Balance</h2><pre id="balance">loading…</pre>
<h2>Market</h2><table id="offers"><thead><tr><th>model</th><th>seller</th><th>µc / 1M in</th><th>µc / 1M out</th><th>params</th></tr></thead><tbody></tbody></table>
<h2>Spending by tag</h2><pre id="report">loading…</pre>
<script>
async function j (u) { const r = await fetch(u); return r.json() }
async function refresh () {
  document.getElementById('balance').textContent = JSON.stringify(await j('/tally/balance'), null, 2)
  document.getElementById('report').textContent = JSON.stringify(await j('/tally/report?by=tag'), null, 2)
  const offers = await j('/tally/offers')
  const tbody = document.querySelector('#offers tbody'); tbody.textContent = ''
  for (const o of (offers.offers || [])) {
    const tr = document.createElement('tr')
    for (const v of [o.model, o.seller, o.priceInPerMTokUc, o.priceOutPerMTokUc, o.params]) { const td = document.createElement('td'); td.textContent = String(v); tr.appendChild(td) }
    tbody.appendChild(tr)
  }
}
refresh(); setInterval(refresh, 5000)
</script></body></html>`
}
