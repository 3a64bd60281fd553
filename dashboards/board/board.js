// Live stock board: a snapshot, then `totals` events over SSE (/board/events). No build step and
// no framework, so the cloud can serve it as is. Rows are keyed by site + SKU + uom: the cloud
// sends one total per unit of measure, and units are never added (issue 9, C2).
(() => {
  'use strict';
  const params = new URLSearchParams(location.search);
  const site = params.get('site');
  // With authentication on, EventSource cannot send an Authorization header: the page's
  // ?token= is passed on to /board/events (use a read-only token, e.g. role operator, one site).
  const token = params.get('token');
  const rows = new Map();
  const trs = new Map();
  const tbody = document.querySelector('#stock tbody');
  const conn = document.getElementById('conn');
  const fmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 3 });

  function key(r) { return r.site + '\u0000' + r.sku + '\u0000' + r.uom; }

  // Item names from the item master (GET /api/v1/items/:sku, issue 9), fetched once per SKU; a
  // SKU the master does not know (404), or a token without read access, just shows no name.
  const names = new Map();
  function nameOf(sku) {
    if (names.has(sku)) return names.get(sku);
    names.set(sku, '');
    fetch('/api/v1/items/' + encodeURIComponent(sku), token ? { headers: { authorization: 'Bearer ' + token } } : {})
      .then((res) => (res.ok ? res.json() : undefined))
      .then((item) => {
        if (!item || typeof item.name !== 'string' || !item.name) return;
        names.set(sku, item.name);
        for (const r of rows.values()) if (r.sku === sku) renderRow(r, false);
      })
      .catch(() => undefined);
    return '';
  }

  function cell(text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function renderRow(r, flash) {
    let tr = trs.get(key(r));
    if (!tr) {
      tr = document.createElement('tr');
      trs.set(key(r), tr);
      tr.dataset.site = r.site;
      tr.dataset.sku = r.sku;
      tr.dataset.uom = r.uom;
    }
    tr.replaceChildren(
      cell(r.site),
      cell(r.sku),
      cell(nameOf(r.sku), 'name'),
      cell(fmt.format(r.onHand), 'num onhand' + (r.onHand < 0 ? ' neg' : '')),
      cell(r.uom),
      cell(String(r.locations), 'num'),
      cell(new Date(r.updatedAt).toLocaleTimeString()),
    );
    tr.dataset.onhand = String(r.onHand);
    if (flash) { tr.classList.remove('flash'); void tr.offsetWidth; tr.classList.add('flash'); }
    return tr;
  }

  function renderAll() {
    const sorted = [...rows.values()].sort((a, b) => a.site.localeCompare(b.site) || a.sku.localeCompare(b.sku) || a.uom.localeCompare(b.uom));
    tbody.replaceChildren(...sorted.map((r) => renderRow(r, false)));
    summary();
  }

  function summary() {
    const sites = new Set();
    const skus = new Set();
    // On hand per unit of measure: 11 ea and 20 kg are never one number.
    const units = new Map();
    for (const r of rows.values()) {
      sites.add(r.site);
      skus.add(r.site + '\u0000' + r.sku);
      units.set(r.uom, Math.round(((units.get(r.uom) || 0) + r.onHand) * 1000) / 1000);
    }
    document.getElementById('kpi-sites').textContent = String(sites.size);
    document.getElementById('kpi-skus').textContent = String(skus.size);
    document.getElementById('kpi-units').textContent = units.size === 0 ? '0' : [...units.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([u, q]) => fmt.format(q) + ' ' + u).join(' · ');
    document.getElementById('empty').hidden = rows.size > 0;
    document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  }

  function connect() {
    const q = new URLSearchParams();
    if (site) q.set('site', site);
    if (token) q.set('token', token);
    const qs = q.toString();
    const es = new EventSource('/board/events' + (qs ? '?' + qs : ''));
    es.addEventListener('open', () => { conn.textContent = 'live'; conn.className = 'conn on'; });
    es.addEventListener('error', () => { conn.textContent = 'reconnecting…'; conn.className = 'conn off'; });
    // Balances per (site, location, sku, batch, project), latest value per key (issue 12 stream);
    // the table shows their totals per (site, sku, uom).
    const balances = new Map();
    const bkey = (b) => [b.site, b.location, b.sku, b.batch, b.project].join('\u0000');
    function totals() {
      const out = new Map();
      for (const b of balances.values()) {
        const k = key(b);
        const t = out.get(k) || { site: b.site, sku: b.sku, uom: b.uom, onHand: 0, locs: new Set(), updatedAt: b.updatedAt };
        t.onHand = Math.round((t.onHand + b.onHand) * 1000) / 1000;
        if (b.onHand !== 0) t.locs.add(b.location);
        if (b.updatedAt > t.updatedAt) t.updatedAt = b.updatedAt;
        out.set(k, t);
      }
      rows.clear();
      for (const [k, t] of out) rows.set(k, { ...t, locations: t.locs.size });
      renderAll();
    }
    es.addEventListener('snapshot', (e) => {
      const s = JSON.parse(e.data);
      balances.clear();
      for (const i of s.items) if (i.name) names.set(i.sku, i.name);
      for (const b of s.stock) balances.set(bkey(b), b);
      totals();
    });
    es.addEventListener('frame', (e) => {
      const f = JSON.parse(e.data);
      for (const i of f.items || []) if (i.name) names.set(i.sku, i.name);
      for (const b of f.stock) balances.set(bkey(b), b);
      totals();
    });
  }
  connect();
})();
