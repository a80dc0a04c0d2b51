/*
 * The anonymous web chat, browser side. Plain ES2019, no dependencies, no build step.
 *
 * The person writing may share a phone with the people they need help against, so:
 * - the quick exit (button, or Esc once) works before anything else is set up, wipes this tab's copy of the
 *   chat and replaces the history entry, so Back does not return here;
 * - the conversation is kept only in sessionStorage (this tab, until it is closed), never in localStorage or
 *   cookies; the token travels in a header, never in a URL;
 * - every text from the server or the person is inserted with textContent, never as markup.
 *
 * Server contract (all JSON, same origin): POST {api}/session, POST {api}/send, GET {api}/poll?after=<id>.
 */
(() => {
  'use strict';

  const STORAGE_KEY = 'helpline-chat';
  const SEND_RETRIES = 3; // retries after the first attempt, on network failure, with the same client_id
  const REQUEST_TIMEOUT_MS = 15000;
  const POLL_TIMEOUT_MS = 40000; // the server holds a poll up to ~25 s
  const POLL_BACKOFF_MAX_MS = 15000;

  const body = document.body;
  const $ = (id) => document.getElementById(id);

  // ---- Quick exit: wired first, so it works even if something below fails. ----

  const exitUrl = safeExitUrl(body.getAttribute('data-exit-url'));
  let leaving = false;

  function safeExitUrl(raw) {
    try {
      const url = new URL(raw || '', window.location.href);
      if (url.protocol === 'https:' || url.protocol === 'http:') return url.href;
    } catch {
      // fall through
    }
    return 'about:blank';
  }

  function forget() {
    try {
      window.sessionStorage.removeItem(STORAGE_KEY);
    } catch {
      // storage disabled: nothing was kept
    }
  }

  function quickExit(event) {
    if (event) event.preventDefault();
    leaving = true;
    forget();
    try {
      stopAll();
      const log = $('log');
      const input = $('input');
      if (log) log.textContent = '';
      if (input) input.value = '';
    } catch {
      // leave anyway
    }
    window.location.replace(exitUrl);
  }

  const exitLink = $('exit');
  if (exitLink) exitLink.addEventListener('click', quickExit);
  window.addEventListener(
    'keydown',
    (event) => {
      // Also while an input method is composing: leaving fast matters more than cancelling a composition.
      if (event.key === 'Escape' || event.key === 'Esc') quickExit(event);
    },
    true
  );

  // ---- Configuration and elements ----

  const api = (body.getAttribute('data-api') || '/chat/api').replace(/\/+$/, '');
  // The page's own words follow the language the person picks (applyTexts).
  let offlineText = body.getAttribute('data-offline-text') || '';
  let errorText = body.getAttribute('data-error-text') || '';

  const els = {
    scroller: $('scroller'),
    log: $('log'),
    offline: $('offline'),
    notice: $('notice'),
    form: $('composer'),
    input: $('input'),
    send: $('send'),
    typing: $('typing'),
  };

  // ---- State, mirrored to sessionStorage ----
  //
  // items: what the transcript shows, in order.
  //   from the server: {k: 'bot'|'staff', id, text, lang, rtl, choices: [{id, label}], multi, chosen: [ids], closed}
  //   from the person: {k: 'me', text, cid, choice, ref, pending}  (ref: id of the menu a choice belongs to)

  const state = { token: null, after: 0, items: [], lang: '' }; // lang: the language the person picked
  let epoch = 0; // bumped when the conversation is erased; async work from an older epoch is dropped
  let retryDraft = null; // {text, cid}: a message that failed and was put back into the input
  const nodes = new WeakMap(); // item -> its element

  function load() {
    let raw = null;
    try {
      raw = window.sessionStorage.getItem(STORAGE_KEY);
    } catch {
      return;
    }
    if (!raw) return;
    try {
      const data = JSON.parse(raw);
      if (!data || typeof data !== 'object') throw new Error('bad state');
      state.token = typeof data.token === 'string' && data.token ? data.token : null;
      state.after = Number.isFinite(data.after) ? data.after : 0;
      state.items = Array.isArray(data.items) ? data.items.map(restoreItem).filter(Boolean) : [];
      state.lang = typeof data.lang === 'string' ? data.lang : '';
    } catch {
      forget();
    }
  }

  function save() {
    if (leaving) return;
    try {
      if (!state.token && state.items.length === 0) {
        window.sessionStorage.removeItem(STORAGE_KEY);
      } else {
        const data = { v: 1, token: state.token, after: state.after, items: state.items, lang: state.lang };
        window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(data));
      }
    } catch {
      // storage disabled or full: the chat still works, only a reload of the tab loses it
    }
  }

  function restoreItem(it) {
    if (!it || typeof it !== 'object' || typeof it.text !== 'string') return null;
    if (it.k === 'me') {
      return {
        k: 'me',
        text: it.text,
        cid: typeof it.cid === 'string' ? it.cid : uuid(),
        choice: typeof it.choice === 'string' ? it.choice : null,
        ref: Number.isFinite(it.ref) ? it.ref : null,
        pending: it.pending === true,
      };
    }
    if (it.k !== 'bot' && it.k !== 'staff') return null;
    const item = serverItem(it, it.k);
    if (!item) return null;
    item.chosen = Array.isArray(it.chosen) ? it.chosen.filter((c) => typeof c === 'string') : [];
    item.closed = it.closed === true;
    return item;
  }

  /** A message from the server (or a stored copy), checked field by field. */
  function serverItem(m, sender) {
    const id = Number(m.id);
    if (!Number.isFinite(id)) return null;
    const choices = Array.isArray(m.choices)
      ? m.choices
          .filter((c) => c && typeof c.label === 'string' && (typeof c.id === 'string' || typeof c.id === 'number'))
          .map((c) => ({ id: String(c.id), label: c.label }))
      : [];
    return {
      k: sender === 'staff' ? 'staff' : 'bot',
      id: id,
      text: typeof m.text === 'string' ? m.text : '',
      lang: typeof m.lang === 'string' ? m.lang.replace(/_/g, '-') : '',
      rtl: m.rtl === true,
      choices: choices,
      multi: m.multi === true && choices.length > 0,
      chosen: [],
      closed: false,
    };
  }

  // ---- Rendering ----

  function renderItem(item) {
    const el = document.createElement('div');
    el.className = 'msg msg--' + item.k;
    const text = document.createElement('p');
    text.className = 'msg__text';
    text.textContent = item.text;
    el.appendChild(text);

    if (item.k === 'me') {
      el.dir = 'auto';
      if (item.pending) el.classList.add('is-pending');
    } else {
      el.dir = item.rtl ? 'rtl' : 'ltr';
      if (item.lang) el.lang = item.lang;
    }

    if (item.k !== 'me' && item.choices.length) {
      text.id = 'msg-' + item.id;
      const group = document.createElement('div');
      group.className = 'choices';
      group.setAttribute('role', 'group');
      group.setAttribute('aria-labelledby', text.id);
      item.choices.forEach((choice) => {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'choice';
        button.textContent = choice.label;
        button.addEventListener('click', (event) => onChoice(item, choice, event));
        group.appendChild(button);
      });
      el.appendChild(group);
    }

    nodes.set(item, el);
    updateMenu(item);
    return el;
  }

  function append(item) {
    els.log.appendChild(renderItem(item));
    scrollToEnd();
  }

  function remove(item) {
    const el = nodes.get(item);
    if (el && el.parentNode) el.parentNode.removeChild(el);
    nodes.delete(item);
  }

  function updateMenu(item) {
    const el = nodes.get(item);
    if (!el || item.k === 'me' || !item.choices.length) return;
    const buttons = el.querySelectorAll('button.choice');
    item.choices.forEach((choice, i) => {
      const button = buttons[i];
      if (!button) return;
      const chosen = item.chosen.indexOf(choice.id) !== -1;
      button.disabled = item.closed;
      button.classList.toggle('is-chosen', chosen);
      if (item.multi && choice.id !== 'done') button.setAttribute('aria-pressed', chosen ? 'true' : 'false');
    });
    el.classList.toggle('is-closed', item.closed);
  }

  function markSent(item) {
    const el = nodes.get(item);
    if (el) el.classList.remove('is-pending');
  }

  let stick = true; // the view follows new messages while the person is at the bottom

  function scrollToEnd() {
    const s = els.scroller;
    s.scrollTop = s.scrollHeight;
    stick = true;
  }

  function nearBottom() {
    const s = els.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 48;
  }

  function showOffline(on) {
    // The live region stays in the page; only its text changes, so screen readers announce it.
    const text = on ? offlineText : '';
    if (els.offline.textContent !== text) els.offline.textContent = text;
  }

  function showNotice(text) {
    els.notice.textContent = text || '';
  }

  // ---- Menus ----

  function latestMenu() {
    for (let i = state.items.length - 1; i >= 0; i--) {
      const it = state.items[i];
      if (it.k !== 'me' && it.choices.length) return it;
    }
    return null;
  }

  function findMenu(id) {
    for (let i = state.items.length - 1; i >= 0; i--) {
      const it = state.items[i];
      if (it.k !== 'me' && it.id === id) return it;
    }
    return null;
  }

  function onChoice(item, choice, event) {
    if (item.closed || leaving) return;
    // In a multi menu a picked topic stays shown as picked; picking it again would only send it twice.
    if (item.multi && choice.id !== 'done' && item.chosen.indexOf(choice.id) !== -1) return;
    item.chosen.push(choice.id);
    if (!item.multi || choice.id === 'done') item.closed = true;
    updateMenu(item);
    showNotice('');
    enqueue({ k: 'me', text: choice.label, cid: uuid(), choice: choice.id, ref: item.id, pending: true });
    // The pressed button is now disabled and has lost focus: a keyboard user continues in the input.
    // (detail is 0 for a click made with Enter or Space.) On touch, leave the on-screen keyboard closed.
    if (item.closed && event && event.detail === 0) els.input.focus();
  }

  function undoChoice(me) {
    const menu = me.ref === null ? null : findMenu(me.ref);
    if (!menu) return;
    const i = menu.chosen.lastIndexOf(me.choice);
    if (i !== -1) menu.chosen.splice(i, 1);
    if (menu.closed && menu === latestMenu()) menu.closed = false;
    updateMenu(menu);
  }

  // ---- Receiving ----

  /** Every text a batch of messages will show: the menus name each language in its own script. */
  function messageStrings(items) {
    const strings = [];
    items.forEach((m) => {
      if (!m || typeof m !== 'object') return;
      strings.push(m.text);
      if (Array.isArray(m.choices)) m.choices.forEach((c) => strings.push(c && c.label));
    });
    return strings;
  }

  function receive(messages) {
    const fresh = messages
      .filter((m) => m && typeof m === 'object' && Number.isFinite(Number(m.id)))
      .sort((a, b) => Number(a.id) - Number(b.id));
    let changed = false;
    for (const m of fresh) {
      const id = Number(m.id);
      if (id <= state.after) continue;
      state.after = id;
      changed = true;
      if (m.erase === true) {
        erase(m);
        return;
      }
      const item = serverItem(m, m.sender);
      if (!item) continue;
      if (item.choices.length) {
        // Only the newest menu is active.
        state.items.forEach((it) => {
          if (it.k !== 'me' && it.choices.length && !it.closed) {
            it.closed = true;
            updateMenu(it);
          }
        });
      }
      state.items.push(item);
      append(item);
      if (item.lang) followLanguage(item.lang);
    }
    if (changed) save();
  }

  /** The person asked to delete the conversation: keep nothing but the confirmation. */
  function erase(m) {
    epoch += 1;
    queue.length = 0;
    retryDraft = null;
    state.token = null;
    state.after = 0;
    state.items = [];
    abortAll();
    restartPoll();
    forget();
    els.log.textContent = '';
    showNotice('');
    showOffline(false);
    showTyping(false);
    const item = serverItem(m, m.sender);
    if (item) {
      item.closed = true; // a confirmation, not a question
      append(item); // shown, but not stored: a reload shows an empty chat
    }
  }

  // ---- Network ----

  const controllers = new Set();

  class NetworkError extends Error {}
  class RefusedError extends Error {}

  /**
   * One request, its JSON answer read within the same time limit. Resolves to {status, ok, data}; rejects on a
   * network failure, a timeout or an abort. `controller` lets the caller abort it (the poll does).
   */
  function request(method, path, payload, token, timeoutMs, controller) {
    const ctrl = controller || new AbortController();
    controllers.add(ctrl);
    const timer = setTimeout(() => ctrl.abort(), timeoutMs);
    const headers = { Accept: 'application/json' };
    if (payload !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers['X-Chat-Token'] = token;
    return fetch(api + path, {
      method: method,
      headers: headers,
      body: payload === undefined ? undefined : JSON.stringify(payload),
      cache: 'no-store',
      credentials: 'same-origin',
      referrerPolicy: 'no-referrer',
      signal: ctrl.signal,
    })
      .then((response) =>
        response.json().then(
          (data) => ({ status: response.status, ok: response.ok, data: data }),
          () => ({ status: response.status, ok: response.ok, data: null })
        )
      )
      .finally(() => {
        clearTimeout(timer);
        controllers.delete(ctrl);
      });
  }

  function abortAll() {
    controllers.forEach((c) => c.abort());
    controllers.clear();
  }

  function stopAll() {
    abortAll();
    restartPoll();
  }

  function errorFrom(data) {
    return data && typeof data.error === 'string' && data.error.trim() ? data.error : '';
  }

  function retryable(status) {
    return status >= 500 || status === 408;
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  function setSession(token) {
    state.token = token;
    state.after = 0;
    save();
    restartPoll();
    startPolling();
  }

  function dropSession() {
    state.token = null;
    state.after = 0;
    save();
    restartPoll();
  }

  async function createSession() {
    let response;
    try {
      // The page's language in the query: a refusal (the chat is very busy) comes back in it.
      const lang = encodeURIComponent(document.documentElement.lang.replace('-', '_'));
      response = await request('POST', '/session?lang=' + lang, { lang: navigator.language || '' }, null, REQUEST_TIMEOUT_MS);
    } catch {
      throw new NetworkError('network');
    }
    if (retryable(response.status)) throw new NetworkError('server');
    const data = response.data;
    if (!response.ok || !data || typeof data.token !== 'string' || !data.token) {
      throw new RefusedError(errorFrom(data) || errorText);
    }
    return data.token;
  }

  // ---- Sending: one message at a time, in order ----

  const queue = [];
  let sending = false;

  function enqueue(me) {
    state.items.push(me);
    append(me);
    save();
    queue.push(me);
    pump();
  }

  async function pump() {
    if (sending) return;
    sending = true;
    try {
      while (queue.length && !leaving) {
        const me = queue[0];
        const myEpoch = epoch;
        const result = await deliver(me, myEpoch);
        if (leaving) return;
        if (myEpoch !== epoch) continue; // erased meanwhile; the queue was emptied
        if (result.ok) {
          queue.shift();
          me.pending = false;
          markSent(me);
          save();
          showNotice('');
          wakePoll(); // the server answered: no reason to wait out a poll backoff
        } else {
          failQueue(result.message);
        }
      }
    } finally {
      sending = false;
    }
  }

  async function deliver(me, myEpoch) {
    let failures = 0;
    let renewed = false;
    // The page language (from the browser's Accept-Language) is the first-language hint for the bot.
    const payload = { text: me.text, choice: me.choice, client_id: me.cid, lang: document.documentElement.lang.replace("-", "_") };
    for (;;) {
      if (leaving || myEpoch !== epoch) return { ok: false, message: '' };
      let response;
      try {
        if (!state.token) {
          const token = await createSession();
          if (leaving || myEpoch !== epoch) return { ok: false, message: '' };
          setSession(token);
        }
        response = await request('POST', '/send', payload, state.token, REQUEST_TIMEOUT_MS);
        if (retryable(response.status)) throw new NetworkError('server');
      } catch (err) {
        if (err instanceof RefusedError) return { ok: false, message: err.message };
        if (leaving || myEpoch !== epoch) return { ok: false, message: '' };
        if (failures >= SEND_RETRIES) return { ok: false, message: errorText };
        await sleep(1000 * 2 ** failures); // 1 s, 2 s, 4 s
        failures += 1;
        continue;
      }
      if (response.ok) return { ok: true };
      if (response.status === 401 && !renewed) {
        // The server no longer knows this token: start a new session and try once more.
        renewed = true;
        if (myEpoch === epoch) dropSession();
        continue;
      }
      return { ok: false, message: errorFrom(response.data) || errorText };
    }
  }

  /** Sending failed for good: take the unsent messages back out of the transcript, nothing is lost. */
  function failQueue(message) {
    const typed = [];
    let last = null;
    queue.splice(0).forEach((me) => {
      const i = state.items.indexOf(me);
      if (i !== -1) state.items.splice(i, 1);
      remove(me);
      if (me.choice !== null) {
        undoChoice(me);
      } else {
        typed.push(me.text);
        last = me;
      }
    });
    if (typed.length) {
      const current = els.input.value;
      const restored = typed.join('\n');
      els.input.value = current.trim() ? restored + '\n' + current : restored;
      // Sent again unchanged, it keeps its client_id, so the server can drop a copy it already has.
      retryDraft = typed.length === 1 && !current.trim() ? { text: last.text, cid: last.cid } : null;
      autosize();
    }
    save();
    showNotice(message || errorText);
  }

  // ---- Polling: one long poll at a time, forever while there is a session ----

  let polling = false;
  let wake = null; // ends the current backoff pause early
  let pollController = null; // aborts the poll in flight

  function wakePoll() {
    if (wake) wake();
  }

  /** The session changed: drop the poll in flight (it asks for the old one) and poll again at once. */
  function restartPoll() {
    if (pollController) pollController.abort();
    wakePoll();
  }

  function pause(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        if (wake === done) wake = null;
        resolve();
      }
      wake = done;
    });
  }

  function startPolling() {
    if (polling || !state.token || leaving) return;
    polling = true;
    pollLoop().then(
      () => {
        polling = false;
      },
      () => {
        polling = false;
      }
    );
  }

  async function pollLoop() {
    let delay = 1000;
    while (state.token && !leaving) {
      const token = state.token;
      const myEpoch = epoch;
      let response = null;
      const controller = new AbortController();
      pollController = controller;
      try {
        const query = '/poll?after=' + encodeURIComponent(String(state.after)) + (staffTyping ? '&typing=1' : '');
        response = await request('GET', query, undefined, token, POLL_TIMEOUT_MS, controller);
      } catch {
        response = null;
      }
      if (pollController === controller) pollController = null;
      if (leaving) return;
      if (token !== state.token || myEpoch !== epoch) continue; // the session changed meanwhile

      if (response && response.status === 401) {
        // The server no longer knows this token; the next message sent starts a new session.
        showOffline(false);
        dropSession();
        return;
      }
      const data = response && response.ok ? response.data : null;
      if (!data || !Array.isArray(data.messages)) {
        // Unreachable or failing server: say so. A refusal (4xx) only slows down.
        if (!response || retryable(response.status) || response.ok) showOffline(true);
        await pause(delay);
        delay = Math.min(delay * 2, POLL_BACKOFF_MAX_MS);
        continue;
      }
      showOffline(false);
      delay = 1000;
      await fontsFor(messageStrings(data.messages));
      if (leaving || token !== state.token || myEpoch !== epoch) continue;
      receive(data.messages);
      showTyping(data.typing === true);
    }
  }

  // ---- Typing: "Writing…" while staff write a reply; the person's own typing signalled (throttled) ----

  const TYPING_EVERY_MS = 3000; // at most one signal this often; the console shows it ~6 s
  let typingText = els.typing ? els.typing.getAttribute('data-text') || '' : '';
  let staffTyping = false;
  let typingSentAt = 0;

  function showTyping(on) {
    staffTyping = on;
    if (!els.typing) return;
    const text = on ? typingText : '';
    if (els.typing.textContent !== text) els.typing.textContent = text;
    if (on) keepBottom();
  }

  function signalTyping(typing) {
    // Only within a session (staff can see nothing before), never retried, failures ignored.
    if (!state.token || leaving) return;
    const now = Date.now();
    if (typing && now - typingSentAt < TYPING_EVERY_MS) return;
    if (!typing && !typingSentAt) return;
    typingSentAt = typing ? now : 0;
    request('POST', '/typing', { typing: typing }, state.token, 10000).catch(() => {});
  }

  // ---- The line's state (open or closed, when it opens, 112): asked again while the page is open ----

  const lineState = $('line-state');
  const lineEmergency = $('line-emergency');
  let statusSeconds = Number(body.getAttribute('data-poll-seconds')) || 30;
  let statusTimer = 0;

  function setText(node, value) {
    if (node && typeof value === 'string' && node.textContent !== value) node.textContent = value;
  }

  function applyTexts(data) {
    const root = document.documentElement;
    if (typeof data.lang === 'string' && data.lang) root.lang = data.lang;
    if (data.dir === 'rtl' || data.dir === 'ltr') root.dir = data.dir;
    const texts = data.texts && typeof data.texts === 'object' ? data.texts : {};
    const word = (key) => (typeof texts[key] === 'string' ? texts[key] : null);
    if (word('title')) document.title = word('title');
    setText($('page-title'), word('title'));
    setText($('exit'), word('exit'));
    setText($('exit-hint'), word('exit_hint'));
    setText($('intro'), word('intro'));
    setText(els.send, word('send'));
    if (word('placeholder')) {
      els.input.placeholder = word('placeholder');
      els.input.setAttribute('aria-label', word('placeholder'));
    }
    if (word('offline')) {
      if (els.offline.textContent && els.offline.textContent === offlineText) els.offline.textContent = word('offline');
      offlineText = word('offline');
    }
    if (word('error')) errorText = word('error');
    if (word('typing')) {
      typingText = word('typing');
      if (staffTyping) els.typing.textContent = typingText;
    }
  }

  /** A reply came in this language: the page's own words, lang and dir follow (once the texts are here). */
  function followLanguage(lang) {
    if (lang === state.lang || lang === document.documentElement.lang) {
      state.lang = lang;
      return;
    }
    state.lang = lang;
    refreshStatus();
  }

  /**
   * Loads the shipped fonts these words need before they go on screen. Chromium keeps the fallback it
   * chose for text laid out while a font was still loading (boxes, where the device has no Ethiopic), so
   * the words wait for their font (at most a request's time).
   */
  function fontsFor(strings) {
    const fonts = document.fonts;
    if (!fonts || typeof fonts.load !== 'function') return Promise.resolve();
    const sample = strings.filter((value) => typeof value === 'string').join(' ');
    if (!sample) return Promise.resolve();
    const loads = ['"Helpline Ethiopic"', '"Helpline Arabic"'].map((family) =>
      fonts.load('1em ' + family, sample).catch(() => [])
    );
    return Promise.race([Promise.all(loads), sleep(REQUEST_TIMEOUT_MS)]);
  }

  async function applyStatus(data) {
    if (!data || typeof data !== 'object') return;
    const texts = data.texts && typeof data.texts === 'object' ? data.texts : {};
    await fontsFor([data.status, data.emergency].concat(Object.keys(texts).map((key) => texts[key])));
    applyTexts(data);
    setText(lineState, data.status);
    if (lineState && typeof data.open === 'boolean') {
      lineState.classList.toggle('is-open', data.open);
      lineState.classList.toggle('is-closed', !data.open);
    }
    setText(lineEmergency, data.emergency);
    if (Number.isFinite(data.poll_seconds) && data.poll_seconds >= 1) statusSeconds = data.poll_seconds;
  }

  let statusTicket = 0;

  async function refreshStatus() {
    window.clearTimeout(statusTimer);
    if (leaving) return;
    const ticket = ++statusTicket;
    try {
      const lang = state.lang || document.documentElement.lang || '';
      const response = await request('GET', '/status?lang=' + encodeURIComponent(lang), undefined, null, REQUEST_TIMEOUT_MS);
      // Only the newest answer counts: an older one may be in the language the person just left.
      if (ticket !== statusTicket) return;
      if (response.ok) await applyStatus(response.data);
    } catch {
      // unreachable: the last known state stays; the chat's own poll shows the connection problem
    }
    if (!leaving) statusTimer = window.setTimeout(refreshStatus, statusSeconds * 1000);
  }

  document.addEventListener('visibilitychange', () => {
    // A phone wakes a background tab late: say what is true now, not what was true an hour ago.
    if (!document.hidden) refreshStatus();
  });

  // ---- Input ----

  const autosizeByScript = !(window.CSS && CSS.supports && CSS.supports('field-sizing', 'content'));

  function autosize() {
    if (!autosizeByScript) return;
    // CSSOM style changes are allowed under the CSP (only style attributes in markup are not).
    const input = els.input;
    input.style.height = 'auto';
    input.style.height = input.scrollHeight + (input.offsetHeight - input.clientHeight) + 'px';
  }

  function submit() {
    const text = els.input.value.trim();
    if (!text || leaving) return;
    const cid = retryDraft && retryDraft.text === text ? retryDraft.cid : uuid();
    retryDraft = null;
    els.input.value = '';
    autosize();
    showNotice('');
    signalTyping(false);
    enqueue({ k: 'me', text: text, cid: cid, choice: null, ref: null, pending: true });
  }

  function uuid() {
    const c = window.crypto;
    if (c && typeof c.randomUUID === 'function') return c.randomUUID();
    const b = new Uint8Array(16);
    c.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join('-');
  }

  els.form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
    els.input.focus();
  });

  els.input.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    submit();
  });

  els.input.addEventListener('input', autosize);
  els.input.addEventListener('input', () => signalTyping(els.input.value.trim() !== ''));

  // Keep the on-screen keyboard open when the send button is tapped.
  els.send.addEventListener('mousedown', (event) => event.preventDefault());

  els.scroller.addEventListener(
    'scroll',
    () => {
      stick = nearBottom();
    },
    { passive: true }
  );

  function keepBottom() {
    if (stick) scrollToEnd();
  }
  window.addEventListener('resize', keepBottom);
  if (window.visualViewport) window.visualViewport.addEventListener('resize', keepBottom);

  window.addEventListener('online', wakePoll);

  window.addEventListener('pageshow', (event) => {
    if (!event.persisted) return;
    // Back from the page cache: if the chat was erased or left meanwhile, show nothing of it.
    let kept = null;
    try {
      kept = window.sessionStorage.getItem(STORAGE_KEY);
    } catch {
      kept = null;
    }
    if (!kept) {
      state.token = null;
      state.after = 0;
      state.items = [];
      queue.length = 0;
      els.log.textContent = '';
      els.input.value = '';
    }
    leaving = false;
    if (state.token) startPolling();
  });

  // ---- Start: show what this tab already had, resend what was not yet confirmed, listen ----

  load();
  const shown = state.items.slice();
  fontsFor(messageStrings(shown)).then(() => {
    // A reload: the tab's copy of the chat, once its fonts are here (unless it was erased or left meanwhile).
    if (leaving) return;
    const restored = document.createDocumentFragment();
    shown.forEach((item) => {
      if (state.items.indexOf(item) !== -1) restored.appendChild(renderItem(item));
    });
    // Before anything that arrived or was sent while the fonts loaded.
    els.log.insertBefore(restored, els.log.firstChild);
    scrollToEnd();
  });
  state.items.forEach((item) => {
    if (item.k === 'me' && item.pending) queue.push(item);
  });
  autosize();
  scrollToEnd();
  els.input.focus();
  if (state.token) startPolling();
  if (queue.length) pump();
  if (state.lang && state.lang !== document.documentElement.lang) {
    refreshStatus(); // a reload: the page came in the browser's language, the person had picked another
  } else {
    statusTimer = window.setTimeout(refreshStatus, statusSeconds * 1000);
  }
})();
