/*
 * The staff console, browser side. Plain ES2019, no dependencies, no build step, no external resource.
 *
 * - Every text from the server (and above all from the person writing) goes in with textContent, never as
 *   markup: a message may contain "<script>" and must show as exactly that.
 * - The server is the only source of truth: the page refetches what it shows whenever the live stream
 *   (server-sent events) says something changed, after every action, and every 60 s as a fallback.
 * - Nothing is kept in storage: drafts live in memory for this tab only.
 *
 * Server contract: see README, "The console's JSON API". POSTs carry the CSRF token from
 * <meta name="csrf-token"> as X-CSRF-Token; a 401 anywhere means the session ended: back to sign-in.
 */
(() => {
  'use strict';

  const API = '/staff/api';
  const LOGIN_URL = '/staff/login';
  const REQUEST_TIMEOUT_MS = 15000;
  const FALLBACK_REFRESH_MS = 60000;
  const TICK_MS = 30000;
  const RECONNECT_MS = 5000;
  const NEAR_BOTTOM_PX = 64;

  const $ = (id) => document.getElementById(id);
  const has = (obj, key) => obj !== null && typeof obj === 'object' && Object.prototype.hasOwnProperty.call(obj, key);

  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.getAttribute('content') || '' : '';
  const me = document.body.getAttribute('data-staff') || '';
  const pageLang = document.documentElement.lang || 'en';
  const baseTitle = document.title;

  let labels = {};
  try {
    const parsed = JSON.parse(($('labels') || {}).textContent || '{}');
    if (parsed && typeof parsed === 'object') labels = parsed;
  } catch {
    labels = {};
  }
  const t = has(labels, 'text') ? labels.text : {};

  function text(key) {
    return has(t, key) && typeof t[key] === 'string' ? t[key] : key;
  }

  /** The label of a category id (roles, topics, age_groups, genders, kinds, channels), or '' if none. */
  function label(group, id) {
    if (id === null || id === undefined || id === '') return '';
    if (id === 'not_stated') return text('not_stated');
    const g = labels[group];
    return has(g, id) && typeof g[id] === 'string' ? g[id] : String(id);
  }

  function bcp47(lang) {
    return typeof lang === 'string' ? lang.replace(/_/g, '-') : '';
  }

  const els = {
    alert: $('alert'),
    announce: $('announce'),
    queueList: $('queue-list'),
    queueEmpty: $('queue-empty'),
    queueCount: $('queue-count'),
    mineList: $('mine-list'),
    mineCount: $('mine-count'),
    pane: $('pane'),
    placeholder: $('placeholder'),
    conv: $('conv'),
    title: $('conv-title'),
    status: $('conv-status'),
    badges: $('conv-badges'),
    intake: $('conv-intake'),
    earlier: $('earlier'),
    earlierList: $('earlier-list'),
    claim: $('claim'),
    release: $('release'),
    transferBox: $('transfer-box'),
    transferForm: $('transfer-form'),
    transferTo: $('transfer-to'),
    closeBox: $('close-box'),
    closeForm: $('close-form'),
    closeRole: $('close-role'),
    closeKind: $('close-kind'),
    closeAge: $('close-age'),
    closeGender: $('close-gender'),
    closeCountry: $('close-country'),
    closeFollowUp: $('close-follow-up'),
    blockBox: $('safety-box'),
    sound: $('sound'),
    notify: $('notify'),
    blockForm: $('block-form'),
    blockHours: $('block-hours'),
    hostileBox: $('hostile-box'),
    hostile: $('hostile'),
    transcript: $('transcript'),
    replyForm: $('reply-form'),
    reply: $('reply'),
    send: $('send'),
    replyNotice: $('reply-notice'),
    cannedBox: $('canned-box'),
    cannedList: $('canned-list'),
    noteForm: $('note-form'),
    note: $('note'),
    addNote: $('add-note'),
    personTyping: $('person-typing'),
  };

  // ---- State ----

  const state = {
    queue: [],
    mine: [],
    fetchedAt: Date.now(), // when waiting_seconds was measured by the server
    known: null, // ids in the queue at the last fetch; null before the first one
    openId: null, // the conversation shown
    readOnly: false, // opened from "earlier conversations": look, do not touch
    detail: null, // the last answer for openId
    prefilledFor: null, // the conversation the close form was filled for
    unseen: 0, // new arrivals while the tab was hidden
    seen: new Map(), // conversation id -> the newest message id shown while the tab was visible
    unreadBefore: null, // conversation id -> unread count at the last fetch (null before the first)
    drafts: new Map(), // conversation id -> {reply, note}
  };
  let leaving = false;

  // ---- Messages to the staff member ----

  function showError(message) {
    els.alert.textContent = message || text('error');
  }

  function clearError() {
    if (els.alert.textContent) els.alert.textContent = '';
  }

  function announce(message) {
    // Clearing first makes screen readers announce the same text again.
    els.announce.textContent = '';
    window.setTimeout(() => {
      els.announce.textContent = message;
    }, 50);
  }

  function signedOut() {
    if (leaving) return;
    leaving = true;
    if (source) source.close();
    window.location.assign(LOGIN_URL);
  }

  // ---- Network ----

  function HttpError(status, message) {
    const error = new Error(message);
    error.status = status;
    return error;
  }

  // background: a request the page makes by itself (timed or live refresh). The server does not count it
  // as the staff member's activity, so a console left open on an empty desk still times out.
  async function call(method, path, body, background) {
    const ctrl = new AbortController();
    const timer = window.setTimeout(() => ctrl.abort(), REQUEST_TIMEOUT_MS);
    const headers = { Accept: 'application/json' };
    if (background === true) headers['X-Console-Background'] = '1';
    if (method !== 'GET') {
      headers['X-CSRF-Token'] = csrf;
      headers['Content-Type'] = 'application/json';
    }
    let response;
    let data = null;
    try {
      response = await fetch(API + path, {
        method: method,
        headers: headers,
        body: method === 'GET' ? undefined : JSON.stringify(body || {}),
        credentials: 'same-origin',
        cache: 'no-store',
        referrerPolicy: 'no-referrer',
        signal: ctrl.signal,
      });
      try {
        data = await response.json();
      } catch {
        data = null;
      }
    } catch {
      throw HttpError(0, text('error'));
    } finally {
      window.clearTimeout(timer);
    }
    if (response.status === 401) {
      signedOut();
      throw HttpError(401, '');
    }
    if (!response.ok) {
      const message = data && typeof data.error === 'string' && data.error.trim() ? data.error : text('error');
      throw HttpError(response.status, message);
    }
    return data && typeof data === 'object' ? data : {};
  }

  function path(id, action) {
    return '/conversations/' + encodeURIComponent(id) + (action ? '/' + action : '');
  }

  // ---- Small builders (textContent only) ----

  function el(tag, className, content) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (content !== undefined && content !== null) node.textContent = String(content);
    return node;
  }

  function badge(kind, content) {
    return el('span', 'badge badge--' + kind, content);
  }

  function minutes(seconds) {
    return Math.max(0, Math.floor(seconds / 60)) + '\u00a0' + text('minutes');
  }

  function formatTime(iso, withDate) {
    if (typeof iso !== 'string' || !iso) return '';
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return '';
    const sameDay = new Date().toDateString() === date.toDateString();
    const options =
      withDate || !sameDay
        ? { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }
        : { hour: '2-digit', minute: '2-digit' };
    try {
      return new Intl.DateTimeFormat(pageLang, options).format(date);
    } catch {
      return date.toLocaleString();
    }
  }

  function isBlocked(conv) {
    if (typeof conv.blocked_until !== 'string' || !conv.blocked_until) return false;
    const until = new Date(conv.blocked_until);
    return !Number.isNaN(until.getTime()) && until.getTime() > Date.now();
  }

  function summaryBadges(conv) {
    const list = [];
    if (conv.danger === true) list.push(badge('danger', text('danger')));
    if (conv.under18 === true) list.push(badge('minor', text('under18')));
    if (conv.outside_hours === true) list.push(badge('hours', text('outside_hours')));
    if (typeof conv.flood_source === 'string') list.push(badge('flood', text('flood')));
    return list;
  }

  function languageNode(conv) {
    const node = el('span', 'lang-name', conv.language_name || conv.language || '');
    if (conv.language) node.lang = bcp47(conv.language);
    node.dir = 'auto';
    return node;
  }

  // ---- Queue and "my conversations" ----

  function waitNode(conv) {
    const node = el('span', 'wait', '');
    const base = Number(conv.waiting_seconds);
    node.setAttribute('data-seconds', String(Number.isFinite(base) ? base : 0));
    updateWait(node);
    return node;
  }

  function updateWait(node) {
    const base = Number(node.getAttribute('data-seconds')) || 0;
    node.textContent = minutes(base + (Date.now() - state.fetchedAt) / 1000);
  }

  function tick() {
    document.querySelectorAll('.wait[data-seconds]').forEach(updateWait);
  }

  function card(conv, inQueue) {
    const item = el('li', 'card');
    item.setAttribute('data-id', conv.id);
    if (conv.danger === true) item.classList.add('card--danger');
    if (conv.id === state.openId) item.classList.add('is-open');

    const open = el('button', 'card__open');
    open.type = 'button';
    open.setAttribute('data-key', 'open:' + conv.id);
    if (conv.id === state.openId) open.setAttribute('aria-current', 'true');

    const badges = summaryBadges(conv);
    if (badges.length) {
      const row = el('span', 'card__badges');
      badges.forEach((b) => row.appendChild(b));
      open.appendChild(row);
    }

    const where = el('span', 'card__line card__where');
    where.appendChild(el('span', 'channel', label('channels', conv.channel)));
    where.appendChild(document.createTextNode(' \u00b7 '));
    where.appendChild(languageNode(conv));
    open.appendChild(where);

    const who = [label('roles', conv.role), label('age_groups', conv.age_group)].filter(Boolean);
    if (who.length) open.appendChild(el('span', 'card__line', who.join(' \u00b7 ')));
    const topics = Array.isArray(conv.topics) ? conv.topics.map((x) => label('topics', x)).filter(Boolean) : [];
    if (topics.length) open.appendChild(el('span', 'card__line card__topics', topics.join(', ')));
    const unread = unreadCount(conv);
    if (unread > 0) {
      const count = el('span', 'card__unread', String(unread));
      count.appendChild(el('span', 'visually-hidden', ' ' + text('unread')));
      open.insertBefore(count, open.firstChild);
      item.classList.add('has-unread');
    }
    if (typeof conv.preview === 'string' && conv.preview) {
      const preview = el('span', 'card__line card__preview', '');
      if (conv.preview_from_person !== true) preview.appendChild(el('span', 'card__who', text('reply_prefix') + ' '));
      const words = el('span', '', conv.preview);
      words.dir = 'auto';
      if (conv.language) words.lang = bcp47(conv.language);
      preview.appendChild(words);
      open.appendChild(preview);
    }
    const waiting = el('span', 'card__line');
    if (inQueue || !conv.last_at) {
      waiting.appendChild(el('span', 'visually-hidden', text('waiting') + ': '));
      waiting.appendChild(waitNode(conv));
    } else {
      waiting.appendChild(el('span', 'visually-hidden', text('last_message') + ': '));
      const time = el('time', 'card__time', formatTime(conv.last_at, false));
      time.dateTime = conv.last_at;
      waiting.appendChild(time);
    }
    open.appendChild(waiting);
    open.addEventListener('click', () => openConversation(conv.id, { focus: true, readOnly: false }));
    item.appendChild(open);

    if (inQueue) {
      const claim = el('button', 'button button--primary card__claim', text('claim'));
      claim.type = 'button';
      claim.setAttribute('data-key', 'claim:' + conv.id);
      claim.addEventListener('click', () => claimConversation(conv.id, claim));
      item.appendChild(claim);
    }
    return item;
  }

  function renderList(list, items, inQueue) {
    const fragment = document.createDocumentFragment();
    items.forEach((conv) => fragment.appendChild(card(conv, inQueue)));
    list.textContent = '';
    list.appendChild(fragment);
  }

  function renderLists() {
    // Rebuilding the lists must not throw the keyboard focus away.
    const active = document.activeElement;
    const key = active && active.getAttribute ? active.getAttribute('data-key') : null;
    renderList(els.queueList, state.queue, true);
    renderList(els.mineList, state.mine, false);
    els.queueEmpty.hidden = state.queue.length > 0;
    els.queueCount.textContent = state.queue.length ? '(' + state.queue.length + ')' : '';
    els.mineCount.textContent = state.mine.length ? '(' + state.mine.length + ')' : '';
    if (key) {
      const again = document.querySelector('[data-key="' + cssEscape(key) + '"]');
      if (again) again.focus({ preventScroll: true });
    }
  }

  function cssEscape(value) {
    if (window.CSS && typeof CSS.escape === 'function') return CSS.escape(value);
    return value.replace(/[^a-zA-Z0-9_:-]/g, (ch) => '\\' + ch);
  }

  let queueTicket = 0;

  async function loadQueue(background) {
    const ticket = ++queueTicket;
    const data = await call('GET', '/queue', undefined, background);
    if (ticket !== queueTicket) return; // a newer answer is on its way
    state.queue = Array.isArray(data.queue) ? data.queue.filter((x) => x && typeof x.id === 'string') : [];
    state.mine = Array.isArray(data.mine) ? data.mine.filter((x) => x && typeof x.id === 'string') : [];
    renderFloods(Array.isArray(data.floods) ? data.floods : []);
    state.fetchedAt = Date.now();
    const ids = state.queue.map((x) => x.id);
    if (state.known !== null) {
      const fresh = ids.filter((id) => !state.known.has(id));
      const urgent = state.queue.some((x) => fresh.indexOf(x.id) !== -1 && x.danger === true);
      if (fresh.length) arrived(fresh.length, urgent);
    }
    state.known = new Set(ids);
    noticeUnread();
    renderLists();
  }

  // ---- Floods: many conversations from one source, listed last; closed together in one action ----

  function renderFloods(floods) {
    let box = document.getElementById('floods');
    if (!box) {
      box = el('div', 'floods');
      box.id = 'floods';
      els.queueList.parentNode.insertBefore(box, els.queueList);
    }
    box.textContent = '';
    floods
      .filter((f) => f && typeof f.source === 'string' && Number.isFinite(f.count))
      .forEach((f) => {
        const count = String(f.count);
        const row = el('p', 'floods__item', text('flood_count').replace('{count}', count) + ' ');
        const clear = el('button', 'button', text('clear_flood'));
        clear.type = 'button';
        clear.setAttribute('data-key', 'flood:' + f.source);
        clear.addEventListener('click', async () => {
          if (!window.confirm(text('clear_flood_confirm').replace('{count}', count))) return;
          clear.disabled = true;
          try {
            await call('POST', '/floods/' + encodeURIComponent(f.source) + '/clear', {});
          } catch (err) {
            clear.disabled = false;
            if (err.status !== 401) showError(err.message);
            return;
          }
          loadQueue(false);
        });
        row.appendChild(clear);
        box.appendChild(row);
      });
  }

  // ---- Unread: the person's messages after the last staff reply that this tab has not shown ----

  function unreadCount(conv) {
    const ids = Array.isArray(conv.unanswered) ? conv.unanswered : [];
    const seen = state.seen.get(conv.id) || 0;
    return ids.filter((id) => Number(id) > seen).length;
  }

  function markSeen(conv, messages) {
    if (document.hidden || !conv || state.readOnly) return;
    let newest = state.seen.get(conv.id) || 0;
    messages.forEach((m) => {
      if (m && Number(m.id) > newest) newest = Number(m.id);
    });
    state.seen.set(conv.id, newest);
  }

  /** New messages in my conversations since the last fetch: sound and a desktop notification. */
  function noticeUnread() {
    const now = new Map();
    state.mine.forEach((conv) => now.set(conv.id, unreadCount(conv)));
    if (state.unreadBefore !== null) {
      // Not for the conversation on screen: the staff member is reading it.
      const grew = state.mine.some(
        (conv) =>
          (document.hidden || conv.id !== state.openId) && now.get(conv.id) > (state.unreadBefore.get(conv.id) || 0)
      );
      if (grew) {
        announce(text('notify_message'));
        beep();
        desktop(text('notify_message'), 'message');
      }
    }
    state.unreadBefore = now;
    updateTitle();
  }

  function unreadTotal() {
    return state.mine.reduce((sum, conv) => sum + unreadCount(conv), 0);
  }

  // ---- Desktop notifications: asked once, by a button (browsers allow asking only after a click) ----

  const canNotify = typeof window.Notification === 'function';

  function showNotifyButton() {
    els.notify.hidden = !canNotify || Notification.permission !== 'default';
  }

  els.notify.addEventListener('click', () => {
    if (!canNotify) return;
    Promise.resolve(Notification.requestPermission()).then(showNotifyButton, showNotifyButton);
  });

  function desktop(message, tag) {
    // Only while the staff member looks elsewhere; the words are neutral, never the person's.
    if (!canNotify || Notification.permission !== 'granted' || !document.hidden) return;
    try {
      const note = new Notification(baseTitle, { body: message, tag: 'helpline-' + tag, lang: pageLang });
      note.addEventListener('click', () => window.focus());
    } catch {
      // some browsers allow notifications only from a service worker: the title badge still shows it
    }
  }

  // ---- New arrivals: a title badge while the tab is hidden, an announcement, a soft tone ----

  function arrived(count, urgent) {
    announce(text(urgent ? 'notify_urgent' : 'new_arrival'));
    beep();
    if (urgent) desktop(text('notify_urgent'), 'urgent');
    if (document.hidden) {
      state.unseen += count;
      updateTitle();
    }
  }

  function updateTitle() {
    // New arrivals while away, and the unread messages in my conversations.
    const count = state.unseen + unreadTotal();
    document.title = count > 0 ? '(' + count + ') ' + baseTitle : baseTitle;
  }

  document.addEventListener('visibilitychange', () => {
    if (document.hidden) return;
    state.unseen = 0;
    // The open conversation is on screen again: what it shows is seen now.
    if (state.detail) {
      markSeen(state.detail.conversation, Array.isArray(state.detail.messages) ? state.detail.messages : []);
      renderLists();
    }
    updateTitle();
  });

  let audio = null;

  function unlockAudio() {
    // Browsers allow sound only after the user has interacted with the page.
    try {
      if (!audio) {
        const Context = window.AudioContext || window.webkitAudioContext;
        if (!Context) return;
        audio = new Context();
      }
      if (audio.state === 'suspended') audio.resume().catch(() => {});
    } catch {
      audio = null;
    }
  }

  function beep() {
    if (!els.sound.checked || !audio || audio.state !== 'running') return;
    try {
      const now = audio.currentTime;
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = 'sine';
      osc.frequency.setValueAtTime(660, now);
      osc.frequency.setValueAtTime(880, now + 0.16);
      gain.gain.setValueAtTime(0.0001, now);
      gain.gain.exponentialRampToValueAtTime(0.12, now + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.4);
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start(now);
      osc.stop(now + 0.45);
    } catch {
      // no sound: the title badge and the list still show it
    }
  }

  document.addEventListener('pointerdown', unlockAudio, { capture: true, passive: true });
  document.addEventListener('keydown', unlockAudio, { capture: true });

  // ---- One conversation ----

  let convTicket = 0;

  function saveDraft() {
    if (state.openId === null) return;
    state.drafts.set(state.openId, { reply: els.reply.value, note: els.note.value });
  }

  async function openConversation(id, options) {
    const opts = options || {};
    if (id !== state.openId) {
      saveDraft();
      const draft = state.drafts.get(id) || { reply: '', note: '' };
      els.reply.value = draft.reply;
      els.note.value = draft.note;
      els.replyNotice.textContent = '';
      if (els.personTyping) els.personTyping.textContent = '';
      state.detail = null;
      state.prefilledFor = null;
      els.closeBox.open = false;
      els.transferBox.open = false;
      els.blockBox.open = false;
      els.cannedBox.open = false;
    }
    state.openId = id;
    state.readOnly = opts.readOnly === true;
    markOpenCard();
    clearError();
    try {
      await loadConversation({ scrollToEnd: true });
    } catch (error) {
      if (error.status !== 401) showError(error.message);
      return;
    }
    if (opts.focus && state.openId === id) {
      els.title.focus({ preventScroll: true });
      els.conv.scrollIntoView({ block: 'start', behavior: 'auto' });
    }
  }

  function markOpenCard() {
    document.querySelectorAll('.card').forEach((node) => {
      const open = node.getAttribute('data-id') === state.openId;
      node.classList.toggle('is-open', open);
      const button = node.querySelector('.card__open');
      if (button) {
        if (open) button.setAttribute('aria-current', 'true');
        else button.removeAttribute('aria-current');
      }
    });
  }

  function closePane() {
    saveDraft();
    state.openId = null;
    state.detail = null;
    els.conv.hidden = true;
    els.placeholder.hidden = false;
    markOpenCard();
  }

  async function loadConversation(options) {
    const id = state.openId;
    if (id === null) return;
    const ticket = ++convTicket;
    let data;
    try {
      data = await call('GET', path(id), undefined, (options && options.background) === true);
    } catch (error) {
      if (ticket === convTicket && error.status === 404) {
        // Erased by the person, or deleted after the retention period.
        closePane();
      }
      throw error;
    }
    if (ticket !== convTicket || id !== state.openId) return;
    if (!data.conversation || typeof data.conversation !== 'object') throw HttpError(500, text('error'));
    state.detail = data;
    markSeen(data.conversation, Array.isArray(data.messages) ? data.messages : []);
    renderConversation(data, (options && options.scrollToEnd) === true);
    renderLists();
    updateTitle();
  }

  function renderConversation(data, scrollToEnd) {
    const conv = data.conversation;
    const messages = Array.isArray(data.messages) ? data.messages : [];
    const mine = conv.status === 'claimed' && conv.claimed_by === me;
    const readOnly = state.readOnly;
    const erased = conv.erased === true;

    els.placeholder.hidden = true;
    els.conv.hidden = false;

    // Heading: channel and language.
    els.title.textContent = '';
    els.title.appendChild(el('span', 'channel', label('channels', conv.channel)));
    els.title.appendChild(document.createTextNode(' \u00b7 '));
    els.title.appendChild(languageNode(conv));

    // Status line.
    els.status.textContent = '';
    if (conv.status === 'claimed' && conv.claimed_by) {
      els.status.textContent = text('staff') + ': ' + conv.claimed_by;
    } else if (conv.status === 'queued') {
      els.status.appendChild(el('span', '', text('waiting') + ': '));
      els.status.appendChild(waitNode(conv));
    } else if (conv.status === 'closed') {
      els.status.textContent = text('close') + ' \u2713';
    }

    // Badges.
    els.badges.textContent = '';
    const badges = summaryBadges(conv);
    if (Number(conv.returning) > 0) badges.push(badge('returning', text('returning') + ' (' + Number(conv.returning) + ')'));
    if (conv.hostile === true) badges.push(badge('hostile', text('hostile')));
    if (isBlocked(conv)) {
      badges.push(badge('blocked', text('block') + ': ' + formatTime(conv.blocked_until, true)));
    }
    badges.forEach((b) => {
      const li = el('li', 'badges__item');
      li.appendChild(b);
      els.badges.appendChild(li);
    });

    renderIntake(conv);
    renderEarlier(Array.isArray(data.earlier) ? data.earlier : []);

    // Actions: what this staff member may do now.
    const claimable = !readOnly && (conv.status === 'queued' || conv.status === 'intake') && !conv.claimed_by;
    els.claim.hidden = !claimable;
    els.release.hidden = readOnly || !mine;
    els.transferBox.hidden = readOnly || !mine;
    els.closeBox.hidden = readOnly || !mine;
    els.blockBox.hidden = readOnly || erased;
    els.hostile.checked = conv.hostile === true;
    if (els.closeBox.hidden) els.closeBox.open = false;
    if (els.transferBox.hidden) els.transferBox.open = false;
    if (els.blockBox.hidden) els.blockBox.open = false;
    if (state.prefilledFor !== conv.id) prefillClose(conv);

    // Transcript, in the person's language and direction.
    const lang = bcp47(conv.language);
    const dir = conv.rtl === true ? 'rtl' : 'ltr';
    // Rebuilt only when something in it changed, so a refetch does not undo a text selection.
    const signature = JSON.stringify([conv.id, lang, dir, messages.map((m) => m && [m.id, m.delivery, m.text])]);
    if (signature !== transcriptSignature) {
      transcriptSignature = signature;
      const wasAtEnd = nearBottom(els.transcript);
      els.transcript.lang = lang;
      els.transcript.dir = dir;
      const fragment = document.createDocumentFragment();
      messages.forEach((m) => {
        if (m && typeof m === 'object') fragment.appendChild(messageNode(m, lang, dir));
      });
      els.transcript.textContent = '';
      els.transcript.appendChild(fragment);
      if (scrollToEnd || wasAtEnd) els.transcript.scrollTop = els.transcript.scrollHeight;
    } else if (scrollToEnd) {
      els.transcript.scrollTop = els.transcript.scrollHeight;
    }

    // Writing.
    const canReply = data.can_reply === true && !readOnly;
    els.replyForm.hidden = !canReply;
    els.reply.lang = lang;
    renderCanned(Array.isArray(data.canned) ? data.canned : [], lang, dir);
    els.noteForm.hidden = readOnly || conv.status === 'closed';
  }

  let transcriptSignature = '';

  function nearBottom(node) {
    return node.scrollHeight - node.scrollTop - node.clientHeight < NEAR_BOTTOM_PX;
  }

  function renderIntake(conv) {
    els.intake.textContent = '';
    const rows = [
      ['role', label('roles', conv.role)],
      ['kind', label('kinds', conv.kind)],
      [
        'topics',
        Array.isArray(conv.topics)
          ? conv.topics
              .map((x) => label('topics', x))
              .filter(Boolean)
              .join(', ')
          : '',
      ],
      ['age_group', label('age_groups', conv.age_group)],
      ['gender', label('genders', conv.gender)],
    ];
    rows.forEach((row) => {
      if (row[0] === 'kind' && !row[1]) return; // only asked of professionals
      const group = el('div', 'intake__row');
      group.appendChild(el('dt', 'intake__key', text(row[0])));
      const value = el('dd', 'intake__value', row[1] || text('not_stated'));
      if (!row[1]) value.classList.add('is-empty');
      group.appendChild(value);
      els.intake.appendChild(group);
    });
  }

  function renderEarlier(earlier) {
    els.earlierList.textContent = '';
    els.earlier.hidden = earlier.length === 0;
    earlier.forEach((x) => {
      if (!x || typeof x.id !== 'string') return;
      const item = el('li', 'earlier__item');
      const button = el('button', 'link', formatTime(x.created_at, true));
      button.type = 'button';
      if (x.status === 'closed') button.appendChild(el('span', 'earlier__status', ' \u00b7 ' + text('close') + ' \u2713'));
      button.addEventListener('click', () => openConversation(x.id, { focus: true, readOnly: true }));
      item.appendChild(button);
      els.earlierList.appendChild(item);
    });
  }

  function senderLabel(m) {
    if (m.direction === 'in') return text('person');
    if (m.direction === 'note') return text('note') + (m.sender ? ' \u00b7 ' + m.sender : '');
    if (m.direction === 'system') return text('system');
    return m.sender === 'staff' ? text('staff') : text('bot');
  }

  const DELIVERY = ['pending', 'sent', 'delivered', 'failed', 'held'];

  function messageNode(m, lang, dir) {
    const direction = ['in', 'out', 'note', 'system'].indexOf(m.direction) !== -1 ? m.direction : 'system';
    const item = el('li', 'msg msg--' + direction);
    if (direction === 'out') item.classList.add(m.sender === 'staff' ? 'msg--staff' : 'msg--bot');

    if (direction === 'note') {
      // Written by staff in the console's language: never shown to the person.
      item.lang = pageLang;
      item.dir = 'auto';
    } else if (direction === 'system') {
      // Lines the server writes ("picked up by …"), in the console's language.
      item.lang = pageLang;
      item.dir = 'auto';
    } else {
      item.lang = lang;
      item.dir = dir;
    }

    const meta = el('p', 'msg__meta');
    meta.lang = pageLang;
    meta.dir = document.documentElement.dir || 'ltr'; // the console's own words, in its direction
    meta.appendChild(el('span', 'msg__who', senderLabel(m)));
    if (typeof m.at === 'string' && m.at) {
      const time = el('time', 'msg__time', formatTime(m.at, false));
      time.dateTime = m.at;
      meta.appendChild(time);
    }
    if (direction === 'out' && DELIVERY.indexOf(m.delivery) !== -1) {
      const delivery = el('span', 'delivery delivery--' + m.delivery, '');
      if (m.delivery === 'failed' || m.delivery === 'held') {
        delivery.textContent = '\u26a0\u00a0' + text(m.delivery);
        item.classList.add('is-' + m.delivery);
      } else {
        delivery.textContent = text(m.delivery);
      }
      meta.appendChild(delivery);
    }
    item.appendChild(meta);

    const body = el('p', 'msg__body', typeof m.text === 'string' ? m.text : '');
    body.dir = 'auto';
    item.appendChild(body);

    const attachments = Number(m.attachments);
    if (Number.isFinite(attachments) && attachments > 0) {
      item.appendChild(el('p', 'msg__attachments', '\ud83d\udcce\u00a0' + attachments));
    }
    return item;
  }

  function renderCanned(canned, lang, dir) {
    els.cannedList.textContent = '';
    els.cannedBox.hidden = canned.length === 0;
    canned.forEach((c) => {
      if (!c || typeof c.text !== 'string') return;
      const item = el('li', 'canned__item');
      const button = el('button', 'canned__button', c.text);
      button.type = 'button';
      button.lang = lang;
      button.dir = dir;
      button.addEventListener('click', () => insertCanned(c.text));
      item.appendChild(button);
      els.cannedList.appendChild(item);
    });
  }

  function insertCanned(value) {
    const input = els.reply;
    const start = typeof input.selectionStart === 'number' ? input.selectionStart : input.value.length;
    const end = typeof input.selectionEnd === 'number' ? input.selectionEnd : input.value.length;
    const before = input.value.slice(0, start);
    const after = input.value.slice(end);
    const glue = before && !/\s$/.test(before) ? ' ' : '';
    input.value = before + glue + value + after;
    const caret = (before + glue + value).length;
    els.cannedBox.open = false;
    input.focus();
    input.setSelectionRange(caret, caret);
  }

  // ---- The close form, prefilled from the intake ----

  function prefillClose(conv) {
    state.prefilledFor = conv.id;
    els.closeRole.value = has(labels.roles, conv.role) ? conv.role : '';
    els.closeKind.value = has(labels.kinds, conv.kind) ? conv.kind : '';
    els.closeAge.value = has(labels.age_groups, conv.age_group) ? conv.age_group : 'not_stated';
    els.closeGender.value = has(labels.genders, conv.gender) ? conv.gender : 'not_stated';
    const topics = Array.isArray(conv.topics) ? conv.topics : [];
    els.closeForm.querySelectorAll('input[name="topics"]').forEach((box) => {
      box.checked = topics.indexOf(box.value) !== -1;
    });
    els.closeCountry.value = typeof conv.country === 'string' ? conv.country : '';
    els.closeFollowUp.checked = false;
  }

  function closeBody() {
    const topics = [];
    els.closeForm.querySelectorAll('input[name="topics"]').forEach((box) => {
      if (box.checked) topics.push(box.value);
    });
    return {
      role: els.closeRole.value || null,
      topics: topics,
      age_group: els.closeAge.value || null,
      gender: els.closeGender.value || null,
      kind: els.closeKind.value || null,
      country: els.closeCountry.value.trim() || null,
      follow_up: els.closeFollowUp.checked,
    };
  }

  // ---- Actions ----

  let busy = false;

  /** Runs one POST for the open conversation, shows its error, and refetches what the page shows. */
  async function act(action, body, button) {
    const id = state.openId;
    if (id === null || busy) return null;
    busy = true;
    if (button) button.disabled = true;
    let result = null;
    try {
      result = await call('POST', path(id, action), body);
      clearError();
    } catch (error) {
      if (error.status !== 401) showError(error.message);
      if (error.status === 409) refresh(true);
      return null;
    } finally {
      busy = false;
      if (button) button.disabled = false;
    }
    await refresh(true);
    return result;
  }

  async function claimConversation(id, button) {
    if (busy) return;
    busy = true;
    if (button) button.disabled = true;
    try {
      await call('POST', path(id, 'claim'), {});
      clearError();
    } catch (error) {
      if (error.status !== 401) showError(error.message);
      // 409: someone else took it meanwhile; show the queue as it is now.
      refresh(error.status === 409 && state.openId === id);
      return;
    } finally {
      busy = false;
      if (button) button.disabled = false;
    }
    await openConversation(id, { focus: false, readOnly: false });
    refresh(false);
    if (!els.replyForm.hidden) els.reply.focus();
  }

  els.claim.addEventListener('click', () => {
    if (state.openId !== null) claimConversation(state.openId, els.claim);
  });

  els.release.addEventListener('click', () => act('release', {}, els.release));

  async function sendReply() {
    const value = els.reply.value.trim();
    if (!value || busy || els.replyForm.hidden) return;
    const id = state.openId;
    const result = await act('messages', { text: value }, els.send);
    if (result === null) return; // kept in the box for another try
    staffTyping(false);
    if (state.openId === id) {
      els.reply.value = '';
      els.replyNotice.textContent = result.held === true ? text('held') : '';
      els.replyNotice.classList.toggle('is-held', result.held === true);
    }
    state.drafts.delete(id);
  }

  els.replyForm.addEventListener('submit', (event) => {
    event.preventDefault();
    sendReply();
  });

  async function addNote() {
    const value = els.note.value.trim();
    if (!value || busy) return;
    const id = state.openId;
    const result = await act('notes', { text: value }, els.addNote);
    if (result !== null && state.openId === id) els.note.value = '';
  }

  els.noteForm.addEventListener('submit', (event) => {
    event.preventDefault();
    addNote();
  });

  function ctrlEnter(handler) {
    return (event) => {
      if (event.key !== 'Enter' || !(event.ctrlKey || event.metaKey) || event.isComposing) return;
      event.preventDefault();
      handler();
    };
  }

  els.reply.addEventListener('keydown', ctrlEnter(sendReply));

  // ---- Typing on the web chat, both ways (never stored; the person never learns who is writing) ----

  const TYPING_SHOWN_MS = 6000; // the person's signal comes every 3 s while they type
  const TYPING_EVERY_MS = 3000;
  let personTypingTimer = 0;
  let typingSent = { id: null, at: 0 };

  function personTyping(id, on) {
    if (id !== state.openId || !els.personTyping) return;
    window.clearTimeout(personTypingTimer);
    els.personTyping.textContent = on ? text('person_typing') : '';
    if (on) personTypingTimer = window.setTimeout(() => personTyping(id, false), TYPING_SHOWN_MS);
  }

  function staffTyping(on) {
    const id = state.openId;
    const conv = state.detail && state.detail.conversation;
    if (id === null || !conv || conv.channel !== 'webchat' || els.replyForm.hidden) return;
    const now = Date.now();
    if (on && typingSent.id === id && now - typingSent.at < TYPING_EVERY_MS) return;
    if (!on && typingSent.id !== id) return;
    typingSent = on ? { id: id, at: now } : { id: null, at: 0 };
    call('POST', path(id, 'typing'), { typing: on }).catch(() => {});
  }

  els.reply.addEventListener('input', () => staffTyping(els.reply.value.trim() !== ''));
  els.note.addEventListener('keydown', ctrlEnter(addNote));

  els.transferBox.addEventListener('toggle', () => {
    if (els.transferBox.open) loadStaffNames();
  });

  async function loadStaffNames() {
    let names = [];
    try {
      const data = await call('GET', '/staff');
      names = Array.isArray(data.staff) ? data.staff.filter((x) => typeof x === 'string' && x !== me) : [];
    } catch (error) {
      if (error.status !== 401) showError(error.message);
      return;
    }
    const keep = els.transferTo.value;
    els.transferTo.textContent = '';
    names.forEach((name) => {
      const option = el('option', '', name);
      option.value = name;
      els.transferTo.appendChild(option);
    });
    if (names.indexOf(keep) !== -1) els.transferTo.value = keep;
    els.transferForm.querySelector('button[type="submit"]').disabled = names.length === 0;
  }

  els.transferForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const to = els.transferTo.value;
    if (!to) return;
    const result = await act('transfer', { to: to }, event.submitter || null);
    if (result !== null) els.transferBox.open = false;
  });

  els.closeBox.addEventListener('toggle', () => {
    // Opening the form shows the intake's answers again, unless the staff member was already editing.
    if (els.closeBox.open && state.detail && state.prefilledFor !== state.detail.conversation.id) {
      prefillClose(state.detail.conversation);
    }
  });

  els.closeForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const conv = state.detail ? state.detail.conversation : null;
    const mineNow = conv ? state.mine.filter((x) => x.id === conv.id)[0] : null;
    const unread = mineNow ? unreadCount(mineNow) : 0;
    if (!window.confirm(text(unread > 0 ? 'confirm_close_unread' : 'confirm_close'))) return;
    const result = await act('close', closeBody(), event.submitter || null);
    if (result !== null) els.closeBox.open = false;
  });

  els.blockForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const hours = Number.parseInt(els.blockHours.value, 10);
    if (!Number.isFinite(hours) || hours < 1) {
      els.blockHours.focus();
      return;
    }
    if (!window.confirm(text('confirm_block').replace('{hours}', String(hours)))) return;
    const result = await act('block', { hours: hours }, event.submitter || null);
    if (result !== null) els.blockBox.open = false;
  });

  els.hostile.addEventListener('change', async () => {
    const wanted = els.hostile.checked;
    if (wanted && !window.confirm(text('confirm_hostile'))) {
      els.hostile.checked = false;
      return;
    }
    const result = await act('flag', { hostile: wanted }, els.hostile);
    if (result === null) els.hostile.checked = !wanted;
  });

  // ---- Keeping current: refetch on every nudge, coalesced ----

  let refreshing = false;
  let again = false;
  let againConversation = false;

  async function refresh(includeConversation) {
    if (leaving) return;
    if (refreshing) {
      again = true;
      againConversation = againConversation || includeConversation;
      return;
    }
    refreshing = true;
    try {
      await loadQueue(true);
      if (includeConversation && state.openId !== null) {
        await loadConversation({ scrollToEnd: false, background: true });
      }
    } catch (error) {
      if (error.status !== 401 && error.status !== 404) showError(error.message);
    } finally {
      refreshing = false;
      if (again) {
        const withConversation = againConversation;
        again = false;
        againConversation = false;
        refresh(withConversation);
      }
    }
  }

  function eventData(event) {
    try {
      return JSON.parse(event.data);
    } catch {
      return null;
    }
  }

  let source = null;
  let reconnectTimer = 0;
  let connectedBefore = false;

  function connect() {
    if (leaving || typeof window.EventSource !== 'function') return;
    if (source) source.close();
    const stream = new EventSource(API + '/stream');
    source = stream;
    stream.addEventListener('hello', () => {
      // After a reconnect, changes may have been missed.
      if (connectedBefore) refresh(true);
      connectedBefore = true;
    });
    stream.addEventListener('change', (event) => {
      const data = eventData(event);
      const id = data && typeof data.conversation === 'string' ? data.conversation : null;
      // A change without an id (an erased conversation) may concern the open one as well.
      refresh(state.openId !== null && (id === null || id === state.openId));
    });
    stream.addEventListener('typing', (event) => {
      const data = eventData(event);
      if (data && typeof data.conversation === 'string') personTyping(data.conversation, data.typing === true);
    });
    stream.addEventListener('signed_out', signedOut);
    stream.addEventListener('error', () => {
      if (stream.readyState !== EventSource.CLOSED || source !== stream) return;
      // The browser gives up on a refused stream (401, 5xx): find out why, then try again later.
      source = null;
      refresh(true);
      window.clearTimeout(reconnectTimer);
      reconnectTimer = window.setTimeout(connect, RECONNECT_MS);
    });
  }

  window.addEventListener('pagehide', () => {
    if (source) source.close();
  });

  window.addEventListener('pageshow', (event) => {
    if (event.persisted) {
      leaving = false;
      connect();
      refresh(true);
    }
  });

  window.addEventListener('online', () => refresh(true));

  // ---- Search over open and recent transcripts (the server audits every conversation it shows) ----

  const searchForm = $('search-form');
  const searchInput = $('search');
  const searchResults = $('search-results');
  const searchNone = $('search-none');

  searchForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const query = searchInput.value.trim();
    searchResults.textContent = '';
    searchNone.hidden = true;
    if (query.length < 2) return;
    let results = [];
    try {
      const data = await call('GET', '/search?q=' + encodeURIComponent(query));
      results = Array.isArray(data.results) ? data.results : [];
    } catch (error) {
      if (error.status !== 401) showError(error.message);
      return;
    }
    searchNone.hidden = results.length > 0;
    results.forEach((r) => {
      if (!r || typeof r.conversation !== 'string') return;
      const item = el('li', 'search__item');
      const button = el('button', 'link search__open');
      button.type = 'button';
      const time = el('time', 'card__time', formatTime(r.at, false));
      if (typeof r.at === 'string') time.dateTime = r.at;
      button.appendChild(time);
      const words = el('span', 'search__snippet', typeof r.snippet === 'string' ? r.snippet : '');
      words.dir = 'auto';
      button.appendChild(words);
      button.addEventListener('click', () => openConversation(r.conversation, { focus: true, readOnly: false }));
      item.appendChild(button);
      searchResults.appendChild(item);
    });
  });

  // ---- The audit log (administrators only: the server refuses anyone else) ----

  const auditBox = $('audit-box');

  async function loadAudit() {
    let rows = [];
    try {
      const data = await call('GET', '/audit');
      rows = Array.isArray(data.audit) ? data.audit : [];
    } catch (error) {
      if (error.status !== 401) showError(error.message);
      return;
    }
    const body = $('audit-rows');
    body.textContent = '';
    rows.forEach((r) => {
      if (!r || typeof r !== 'object') return;
      const tr = el('tr', '');
      const when = el('td', '');
      const time = el('time', '', formatTime(r.at, true));
      if (typeof r.at === 'string') time.dateTime = r.at;
      when.appendChild(time);
      tr.appendChild(when);
      tr.appendChild(el('td', '', typeof r.staff === 'string' ? r.staff : ''));
      tr.appendChild(el('td', '', label('audit_actions', r.action)));
      const conv = typeof r.conversation === 'string' ? r.conversation : '';
      const cell = el('td', 'audit__conversation', conv.slice(0, 8));
      if (conv) cell.title = conv;
      tr.appendChild(cell);
      body.appendChild(tr);
    });
  }

  if (auditBox) {
    auditBox.addEventListener('toggle', () => {
      if (auditBox.open) loadAudit();
    });
  }

  // ---- Keyboard shortcuts (never while typing; "?" lists them) ----

  const shortcuts = $('shortcuts');
  const shortcutsButton = $('shortcuts-button');

  function showShortcuts() {
    if (shortcuts && typeof shortcuts.showModal === 'function' && !shortcuts.open) shortcuts.showModal();
  }

  if (shortcutsButton) shortcutsButton.addEventListener('click', showShortcuts);

  document.addEventListener('keydown', (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    const target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName || ''))) return;
    if (shortcuts && shortcuts.open) return;
    if (event.key === 'n') {
      if (state.queue.length) openConversation(state.queue[0].id, { focus: true, readOnly: false });
    } else if (event.key === 'c') {
      if (!els.claim.hidden && state.openId !== null) claimConversation(state.openId, els.claim);
    } else if (event.key === 'r') {
      if (els.replyForm.hidden) return;
      els.reply.focus();
    } else if (event.key === 'x') {
      if (els.closeBox.hidden) return;
      els.closeBox.open = true;
      els.closeBox.querySelector('summary').focus();
    } else if (event.key === '?') {
      showShortcuts();
    } else {
      return;
    }
    event.preventDefault();
  });

  // ---- Start ----

  showNotifyButton();
  window.setInterval(tick, TICK_MS);
  window.setInterval(() => refresh(true), FALLBACK_REFRESH_MS);
  refresh(false);
  connect();
})();
