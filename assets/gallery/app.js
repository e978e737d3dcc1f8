// sdgate gallery: plain JavaScript, no build step. Talks to the server's JSON API only:
// /v1/gallery/* (images), /v1/jobs (+ /events server-sent events) and /sdapi/v1/samplers|schedulers.
'use strict';

(() => {
  const boot = JSON.parse(document.getElementById('boot').textContent || '{}');
  const LANG_KEY = 'sdgate.lang';
  const PAGE = 40;
  let strings = boot.strings || {};
  let lang = boot.lang || 'en';

  // ---- small helpers -------------------------------------------------------------------------
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  function h(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function t(key, vars) {
    let s = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
    if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
    return s;
  }

  function applyI18n(root = document) {
    for (const e of $$('[data-i18n]', root)) e.textContent = t(e.dataset.i18n);
    for (const e of $$('[data-i18n-placeholder]', root)) e.placeholder = t(e.dataset.i18nPlaceholder);
    for (const e of $$('[data-i18n-title]', root)) e.title = t(e.dataset.i18nTitle);
    for (const e of $$('[data-i18n-aria-label]', root)) e.setAttribute('aria-label', t(e.dataset.i18nAriaLabel));
  }

  async function api(path, opts = {}) {
    const res = await fetch(path, { credentials: 'same-origin', ...opts });
    if (!res.ok) {
      let detail = `${res.status} ${res.statusText}`;
      try {
        const body = await res.json();
        if (body && body.detail) detail = body.detail;
      } catch (_) { /* not JSON */ }
      const err = new Error(detail);
      err.status = res.status;
      throw err;
    }
    const type = res.headers.get('content-type') || '';
    return type.includes('json') ? res.json() : res.text();
  }

  let toastTimer = 0;
  function toast(msg, kind = 'info') {
    const e = $('#toast');
    e.textContent = msg;
    e.dataset.kind = kind;
    e.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { e.hidden = true; }, 3500);
  }

  const fmtTime = (iso) => {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(lang);
  };
  const fmtSize = (n) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${Math.max(1, Math.round(n / 1024))} KiB`);
  const shortId = (id) => String(id).slice(0, 8);

  // ---- language ------------------------------------------------------------------------------
  async function setLang(code, remember) {
    if (code !== lang || !Object.keys(strings).length) {
      strings = await api(`/gallery/locales/${encodeURIComponent(code)}.json`);
      lang = code;
    }
    document.documentElement.lang = code;
    $('#lang').value = code;
    if (remember) localStorage.setItem(LANG_KEY, code);
    applyI18n();
    renderDynamic();
  }

  function initLang() {
    const sel = $('#lang');
    for (const l of boot.languages || []) sel.append(h('option', { value: l.code, text: l.name }));
    sel.value = lang;
    sel.addEventListener('change', () => setLang(sel.value, true).catch((e) => toast(t('error.generic', { error: e.message }), 'error')));
    const saved = localStorage.getItem(LANG_KEY);
    applyI18n();
    if (saved && saved !== lang && (boot.languages || []).some((l) => l.code === saved)) {
      setLang(saved, false).catch(() => {});
    }
  }

  // Everything whose text is built in code, redrawn after a language switch.
  function renderDynamic() {
    updateCount();
    updateSelection();
    for (const job of jobs.values()) renderJob(job);
    if (detail.open) renderDetail();
    if (compare.open) renderCompare();
  }

  // ---- gallery -------------------------------------------------------------------------------
  const gal = {
    items: [], // newest first
    byId: new Map(),
    total: 0,
    done: false,
    loading: false,
    generation: 0,
    selected: new Set(),
    filtered: false,
  };

  function filterParams() {
    const f = new FormData($('#filters'));
    const p = {};
    for (const k of ['q', 'model', 'sampler', 'from', 'to']) {
      const v = String(f.get(k) || '').trim();
      if (v) p[k] = v;
    }
    return p;
  }

  function card(img) {
    const selected = gal.selected.has(img.id);
    const meta = [img.sampler, img.seed != null ? `#${img.seed}` : null, `${img.width}×${img.height}`].filter(Boolean).join(' · ');
    return h('figure', { class: 'card' + (selected ? ' selected' : ''), dataset: { id: img.id }, 'data-testid': 'card' },
      h('button', { type: 'button', class: 'thumb', title: img.prompt, onclick: () => openDetail(img.id) },
        h('img', { src: img.thumb_url, alt: img.prompt || `#${img.id}`, loading: 'lazy', width: img.width, height: img.height })),
      h('figcaption', {},
        h('span', { class: 'prompt', text: img.prompt || '—' }),
        h('span', { class: 'meta', text: meta })),
      h('label', { class: 'pick', title: t('select.label') },
        h('input', {
          type: 'checkbox', checked: selected, 'aria-label': t('select.label'),
          onchange: (e) => toggleSelect(img.id, e.target.checked),
        })));
  }

  function updateCount() {
    const count = $('#count');
    const empty = $('#empty');
    if (boot.gallery === false) {
      count.textContent = '';
      empty.textContent = t('gallery.off');
      empty.hidden = false;
      return;
    }
    count.textContent = gal.total ? t('gallery.count', { shown: gal.items.length, total: gal.total }) : '';
    empty.textContent = gal.filtered ? t('gallery.nomatch') : t('gallery.empty');
    empty.hidden = gal.loading || gal.items.length > 0;
    $('#more').hidden = gal.done || gal.items.length === 0;
  }

  async function loadPage(reset) {
    if (boot.gallery === false) return updateCount();
    if (reset) {
      gal.generation += 1;
      gal.items = [];
      gal.byId.clear();
      gal.done = false;
      gal.loading = false;
      $('#grid').replaceChildren();
    }
    if (gal.loading || gal.done) return;
    const gen = gal.generation;
    const filters = filterParams();
    gal.filtered = Object.keys(filters).length > 0;
    gal.loading = true;
    try {
      const q = new URLSearchParams({ ...filters, offset: gal.items.length, limit: PAGE });
      const page = await api(`/v1/gallery/images?${q}`);
      if (gen !== gal.generation) return;
      gal.total = page.total;
      const frag = document.createDocumentFragment();
      for (const img of page.images) {
        if (gal.byId.has(img.id)) continue;
        gal.items.push(img);
        gal.byId.set(img.id, img);
        frag.append(card(img));
      }
      $('#grid').append(frag);
      gal.done = page.images.length === 0 || gal.items.length >= page.total;
    } catch (e) {
      if (e.status === 404 && !gal.items.length) boot.gallery = false;
      else toast(t('error.generic', { error: e.message }), 'error');
      gal.done = true;
    } finally {
      if (gen === gal.generation) gal.loading = false;
      updateCount();
    }
    // Keep filling while the sentinel is still on screen.
    if (!gal.done && sentinelVisible) loadPage(false);
  }

  // New images (after a job ends): fetch the first page and put the unseen ones in front.
  async function refreshNewest() {
    if (boot.gallery === false) return;
    try {
      const q = new URLSearchParams({ ...filterParams(), offset: 0, limit: PAGE });
      const page = await api(`/v1/gallery/images?${q}`);
      const fresh = page.images.filter((i) => !gal.byId.has(i.id));
      const grid = $('#grid');
      for (const img of fresh.reverse()) {
        gal.items.unshift(img);
        gal.byId.set(img.id, img);
        grid.prepend(card(img));
      }
      gal.total = page.total;
      updateCount();
    } catch (e) {
      toast(t('error.generic', { error: e.message }), 'error');
    }
  }

  async function loadFacets() {
    if (boot.gallery === false) return;
    try {
      const f = await api('/v1/gallery/facets');
      fillFacet($('#filter-model'), f.models);
      fillFacet($('#filter-sampler'), f.samplers);
      if (f.days.length) {
        for (const id of ['#filter-from', '#filter-to']) {
          $(id).min = f.days[f.days.length - 1].value;
          $(id).max = f.days[0].value;
        }
      }
    } catch (_) { /* the grid reports errors */ }
  }

  function fillFacet(select, values) {
    const keep = select.value;
    const first = select.options[0];
    select.replaceChildren(first);
    for (const v of values) select.append(h('option', { value: v.value, text: `${v.value} (${v.count})` }));
    select.value = values.some((v) => v.value === keep) ? keep : '';
  }

  function removeImage(id) {
    const i = gal.items.findIndex((x) => x.id === id);
    if (i >= 0) gal.items.splice(i, 1);
    gal.byId.delete(id);
    gal.selected.delete(id);
    gal.total = Math.max(0, gal.total - 1);
    const c = $(`.card[data-id="${id}"]`);
    if (c) c.remove();
    updateCount();
    updateSelection();
  }

  // ---- selection and comparison ----------------------------------------------------------------
  function toggleSelect(id, on) {
    if (on) gal.selected.add(id);
    else gal.selected.delete(id);
    const c = $(`.card[data-id="${id}"]`);
    if (c) {
      c.classList.toggle('selected', on);
      const box = $('input[type=checkbox]', c);
      if (box) box.checked = on;
    }
    updateSelection();
  }

  function updateSelection() {
    const n = gal.selected.size;
    const btn = $('#compare-btn');
    btn.textContent = t('select.compare', { n });
    btn.disabled = n < 2;
    $('#select-clear').hidden = n === 0;
  }

  const compare = $('#compare');
  let compareItems = [];

  async function openCompare() {
    const ids = [...gal.selected];
    if (ids.length < 2) return;
    try {
      compareItems = await Promise.all(ids.map((id) => api(`/v1/gallery/images/${id}`)));
    } catch (e) {
      return toast(t('error.generic', { error: e.message }), 'error');
    }
    renderCompare();
    if (!compare.open) compare.showModal();
  }

  function renderCompare() {
    const items = compareItems;
    $('#compare-title').textContent = t('compare.title', { n: items.length });
    const imgs = $('#compare-images');
    imgs.style.setProperty('--cols', String(items.length));
    imgs.replaceChildren(...items.map((d) => h('figure', { 'data-testid': 'compare-item' },
      h('img', { src: d.url, alt: d.prompt }),
      h('figcaption', { text: `#${d.id} · ${d.seed ?? ''}` }))));
    const keys = [];
    const values = items.map((d) => {
      const m = new Map([[t('field.prompt'), d.prompt], [t('field.negative'), d.negative_prompt]]);
      const params = new Map(d.parameters.map((p) => [p.key, p.value]));
      for (const [k, v] of params) {
        // The parser splits "Size: 64x64" into Size-1 and Size-2: show them joined again.
        const pair = /^(.*)-([12])$/.exec(k);
        if (pair && params.has(`${pair[1]}-1`) && params.has(`${pair[1]}-2`)) {
          if (pair[2] === '1') m.set(pair[1], `${v}x${params.get(`${pair[1]}-2`)}`);
        } else m.set(k, v);
      }
      for (const k of m.keys()) if (!keys.includes(k)) keys.push(k);
      return m;
    });
    const onlyDiff = $('#compare-only-diff').checked;
    const table = $('#compare-table');
    table.style.setProperty('--cols', String(items.length));
    const head = h('tr', {}, h('th', { text: t('compare.param') }), items.map((d) => h('th', { text: `#${d.id}` })));
    const rows = [];
    for (const k of keys) {
      const vals = values.map((m) => (m.has(k) ? m.get(k) : ''));
      const differs = vals.some((v) => v !== vals[0]);
      if (onlyDiff && !differs) continue;
      rows.push(h('tr', { class: differs ? 'diff' : '' }, h('th', { text: k }), vals.map((v) => h('td', { text: v }))));
    }
    table.replaceChildren(h('thead', {}, head), h('tbody', {}, rows));
  }

  // ---- detail view -----------------------------------------------------------------------------
  const detail = $('#detail');
  let current = null; // the detail JSON shown

  async function openDetail(id) {
    try {
      current = await api(`/v1/gallery/images/${id}`);
    } catch (e) {
      if (e.status === 404) removeImage(id);
      return toast(t('error.generic', { error: e.message }), 'error');
    }
    renderDetail();
    if (!detail.open) detail.showModal();
  }

  function renderDetail() {
    const d = current;
    if (!d) return;
    $('#detail-title').textContent = t('detail.title', { id: d.id });
    const img = $('#detail-img');
    img.src = d.url;
    img.alt = d.prompt;
    const rows = [
      ['field.prompt', d.prompt],
      ['field.negative', d.negative_prompt],
      ['field.model', [d.model, d.model_hash && `[${d.model_hash}]`].filter(Boolean).join(' ')],
      ['field.sampler', d.sampler],
      ['field.schedule', d.schedule],
      ['field.steps', d.steps],
      ['field.cfg', d.cfg_scale],
      ['field.seed', d.seed],
      ['field.size', `${d.width}×${d.height}`],
      ['field.created', fmtTime(d.created_at)],
      ['field.kind', d.kind],
      ['field.file', `${d.path} (${fmtSize(d.file_size)})`],
    ];
    $('#detail-meta').replaceChildren(...rows
      .filter(([, v]) => v !== null && v !== undefined && v !== '')
      .map(([k, v]) => h('tr', {}, h('th', { text: t(k) }), h('td', { text: String(v) }))));
    $('#detail-infotext').textContent = d.infotext || t('detail.none');
    const dl = $('#detail-download');
    dl.href = `${d.url}?download=1`;
    dl.setAttribute('download', d.path.split('/').pop());
    const i = gal.items.findIndex((x) => x.id === d.id);
    $('#detail-prev').disabled = i <= 0;
    $('#detail-next').disabled = i < 0 || (i >= gal.items.length - 1 && gal.done);
  }

  async function step(delta) {
    if (!current) return;
    const i = gal.items.findIndex((x) => x.id === current.id);
    if (i < 0) return;
    if (delta > 0 && i + 1 >= gal.items.length && !gal.done) await loadPage(false);
    const next = gal.items[i + delta];
    if (next) openDetail(next.id);
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    const area = h('textarea', { class: 'offscreen' });
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    if (!ok) throw new Error('copy refused');
  }

  async function deleteCurrent() {
    if (!current || !window.confirm(t('detail.confirm_delete'))) return;
    const id = current.id;
    const i = gal.items.findIndex((x) => x.id === id);
    try {
      await api(`/v1/gallery/images/${id}`, { method: 'DELETE' });
    } catch (e) {
      if (e.status !== 404) return toast(t('error.generic', { error: e.message }), 'error');
    }
    removeImage(id);
    toast(t('detail.deleted'));
    loadFacets();
    const next = gal.items[Math.min(i, gal.items.length - 1)];
    if (next) openDetail(next.id);
    else detail.close();
  }

  function useInForm() {
    const d = current;
    if (!d) return;
    const form = $('#gen-form');
    const set = (name, v) => {
      if (v === null || v === undefined || v === '') return;
      const f = form.elements.namedItem(name);
      if (!f) return;
      if (f.tagName === 'SELECT' && ![...f.options].some((o) => o.value === String(v) || o.text === String(v))) return;
      if (f.tagName === 'SELECT') {
        const o = [...f.options].find((x) => x.value === String(v) || x.text === String(v));
        f.value = o.value;
      } else f.value = v;
    };
    set('prompt', d.prompt);
    set('negative_prompt', d.negative_prompt);
    set('sampler_name', d.sampler);
    set('scheduler', d.schedule);
    set('steps', d.steps);
    set('cfg_scale', d.cfg_scale);
    set('seed', d.seed);
    set('width', d.width);
    set('height', d.height);
    detail.close();
    toast(t('detail.used'));
    form.elements.namedItem('prompt').focus();
  }

  // ---- queue -----------------------------------------------------------------------------------
  const jobs = new Map(); // id → {view, prompt, preview, es, el}
  const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'interrupted']);

  function renderJob(job) {
    const v = job.view;
    const p = v.progress || {};
    const frac = FINAL.has(v.state) && v.state === 'succeeded' ? 1 : Math.max(0, Math.min(1, p.fraction || 0));
    const lines = [];
    if (v.state === 'running' && p.sampling_steps) lines.push(t('queue.step', { step: p.sampling_step, steps: p.sampling_steps }));
    if (v.state === 'running' && p.eta_seconds != null) lines.push(t('queue.eta', { s: Math.ceil(p.eta_seconds) }));
    if (FINAL.has(v.state) && v.images) lines.push(t('queue.images', { n: v.images.length }));
    if (v.error) lines.push(v.error.detail);
    const bar = h('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': Math.round(frac * 100) },
      h('span'));
    bar.firstChild.style.width = `${(frac * 100).toFixed(1)}%`;
    const el = h('li', { class: `job state-${v.state}`, dataset: { id: v.id, state: v.state }, 'data-testid': 'job' },
      h('div', { class: 'job-head' },
        h('span', { class: 'badge', text: t(`state.${v.state}`) }),
        h('code', { class: 'job-id', text: shortId(v.id) }),
        h('span', { class: 'spacer' }),
        !FINAL.has(v.state) && h('button', { type: 'button', class: 'small', text: t('queue.cancel'), onclick: () => cancelJob(v.id) })),
      job.prompt && h('div', { class: 'job-prompt', text: job.prompt }),
      bar,
      lines.length > 0 && h('div', { class: 'job-lines muted', text: lines.join(' · ') }),
      job.preview && !FINAL.has(v.state) && h('img', { class: 'preview', src: job.preview, alt: '' }));
    if (job.el) job.el.replaceWith(el);
    job.el = el;
    return el;
  }

  function upsertJob(view, prompt) {
    let job = jobs.get(view.id);
    if (!prompt && view.info && typeof view.info.prompt === 'string') prompt = view.info.prompt;
    if (!job) {
      job = { view, prompt: prompt || '', preview: null, es: null, el: null };
      jobs.set(view.id, job);
      $('#queue-list').prepend(renderJob(job));
      // Keep the last few.
      const items = $$('#queue-list > li');
      for (const old of items.slice(8)) {
        const j = jobs.get(old.dataset.id);
        if (j && FINAL.has(j.view.state)) {
          jobs.delete(old.dataset.id);
          old.remove();
        }
      }
    } else {
      // Never step back from a final state (events may arrive after a poll).
      if (FINAL.has(job.view.state) && !FINAL.has(view.state)) return job;
      job.view = { ...job.view, ...view };
      if (prompt) job.prompt = prompt;
      renderJob(job);
    }
    $('#queue-empty').hidden = jobs.size > 0;
    return job;
  }

  function follow(id) {
    const job = jobs.get(id);
    if (!job || job.es || FINAL.has(job.view.state)) return;
    const es = new EventSource(`/v1/jobs/${encodeURIComponent(id)}/events`);
    job.es = es;
    es.addEventListener('progress', (e) => {
      const d = JSON.parse(e.data);
      upsertJob({ id: d.id, state: d.state, progress: d.progress });
    });
    es.addEventListener('preview', (e) => {
      const d = JSON.parse(e.data);
      job.preview = `data:image/png;base64,${d.image}`;
      renderJob(job);
    });
    const end = (e) => {
      es.close();
      job.es = null;
      try {
        const view = JSON.parse(e.data);
        if (view && view.state) upsertJob(view);
        else upsertJob({ id, state: 'failed' });
      } catch (_) { /* keep the last state */ }
      if (job.view.images && job.view.images.length) {
        refreshNewest();
        loadFacets();
      }
    };
    es.addEventListener('done', end);
    es.addEventListener('failed', end);
    es.onerror = () => {
      // The stream ended or broke: close it and ask once more.
      es.close();
      job.es = null;
      setTimeout(() => refreshJob(id), 1000);
    };
  }

  async function refreshJob(id) {
    try {
      const view = await api(`/v1/jobs/${encodeURIComponent(id)}`);
      const job = upsertJob(view);
      if (FINAL.has(view.state)) {
        if (view.images && view.images.length) refreshNewest();
      } else if (job) follow(id);
    } catch (_) { /* gone */ }
  }

  async function cancelJob(id) {
    try {
      upsertJob(await api(`/v1/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' }));
    } catch (e) {
      toast(t('error.generic', { error: e.message }), 'error');
    }
  }

  async function pollJobs() {
    try {
      const list = await api('/v1/jobs?limit=8');
      for (const v of list.jobs.slice().reverse()) {
        const known = jobs.get(v.id);
        if (!known && FINAL.has(v.state) && jobs.size >= 8) continue;
        const wasLive = known && !FINAL.has(known.view.state);
        upsertJob(v);
        if (!FINAL.has(v.state)) follow(v.id);
        else if (wasLive && v.images && v.images.length) refreshNewest();
      }
    } catch (_) { /* try again later */ }
  }

  // ---- generate form -------------------------------------------------------------------------
  async function loadChoices() {
    const form = $('#gen-form');
    const fill = (select, items, value, text) => {
      select.replaceChildren(...items.map((i) => h('option', { value: value(i), text: text(i) })));
    };
    try {
      const [samplers, schedulers] = await Promise.all([api('/sdapi/v1/samplers'), api('/sdapi/v1/schedulers')]);
      fill(form.elements.namedItem('sampler_name'), samplers, (s) => s.name, (s) => s.name);
      const preferred = samplers.find((s) => s.name === 'DPM++ 2M') || samplers[0];
      if (preferred) form.elements.namedItem('sampler_name').value = preferred.name;
      fill(form.elements.namedItem('scheduler'), schedulers, (s) => s.label || s.name, (s) => s.label || s.name);
    } catch (e) {
      toast(t('error.generic', { error: e.message }), 'error');
    }
  }

  async function submitJob(ev) {
    ev.preventDefault();
    const form = ev.target;
    const f = new FormData(form);
    const num = (k) => Number(f.get(k));
    const body = {
      type: 'txt2img',
      prompt: String(f.get('prompt') || ''),
      negative_prompt: String(f.get('negative_prompt') || ''),
      sampler_name: String(f.get('sampler_name') || '') || undefined,
      scheduler: String(f.get('scheduler') || '') || undefined,
      steps: num('steps'),
      cfg_scale: num('cfg_scale'),
      width: num('width'),
      height: num('height'),
      seed: num('seed'),
      batch_size: num('batch_size'),
    };
    const err = $('#gen-error');
    err.hidden = true;
    const btn = $('#gen-submit');
    btn.disabled = true;
    try {
      const view = await api('/v1/jobs', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      upsertJob(view, body.prompt);
      follow(view.id);
      toast(t('gen.submitted'));
    } catch (e) {
      err.textContent = t('gen.error', { error: e.message });
      err.hidden = false;
    } finally {
      btn.disabled = false;
    }
  }

  // ---- wiring --------------------------------------------------------------------------------
  let sentinelVisible = false;

  function init() {
    initLang();
    if (boot.model) $('#model-name').textContent = boot.model;
    updateSelection();

    let debounce = 0;
    const filters = $('#filters');
    filters.addEventListener('input', (e) => {
      clearTimeout(debounce);
      debounce = setTimeout(() => loadPage(true), e.target.name === 'q' ? 300 : 0);
    });
    filters.addEventListener('submit', (e) => { e.preventDefault(); loadPage(true); });
    filters.addEventListener('reset', () => setTimeout(() => loadPage(true), 0));
    $('#more').addEventListener('click', () => loadPage(false));
    $('#compare-btn').addEventListener('click', openCompare);
    $('#select-clear').addEventListener('click', () => { for (const id of [...gal.selected]) toggleSelect(id, false); });
    $('#rescan').addEventListener('click', async () => {
      try {
        const r = await api('/v1/gallery/reconcile', { method: 'POST' });
        toast(t('gallery.rescanned', r));
        loadFacets();
        loadPage(true);
      } catch (e) {
        toast(t('error.generic', { error: e.message }), 'error');
      }
    });

    $('#detail-close').addEventListener('click', () => detail.close());
    $('#detail-prev').addEventListener('click', () => step(-1));
    $('#detail-next').addEventListener('click', () => step(1));
    $('#detail-delete').addEventListener('click', deleteCurrent);
    $('#detail-use').addEventListener('click', useInForm);
    $('#detail-copy').addEventListener('click', async () => {
      try {
        await copyText(current ? current.infotext : '');
        toast(t('detail.copied'));
      } catch (e) {
        toast(t('error.generic', { error: e.message }), 'error');
      }
    });
    detail.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowLeft') step(-1);
      if (e.key === 'ArrowRight') step(1);
    });
    detail.addEventListener('click', (e) => { if (e.target === detail) detail.close(); });
    $('#compare-close').addEventListener('click', () => compare.close());
    $('#compare-only-diff').addEventListener('change', renderCompare);
    compare.addEventListener('click', (e) => { if (e.target === compare) compare.close(); });

    $('#gen-form').addEventListener('submit', submitJob);

    new IntersectionObserver((entries) => {
      sentinelVisible = entries.some((e) => e.isIntersecting);
      if (sentinelVisible) loadPage(false);
    }, { rootMargin: '400px' }).observe($('#sentinel'));

    loadChoices();
    loadFacets();
    loadPage(true);
    pollJobs();
    setInterval(pollJobs, 5000);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
