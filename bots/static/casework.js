// The register, case and statistics pages: each form with data-api is sent as JSON to that address with
// the page's CSRF token. Answers are shown with textContent only.
'use strict';

(function () {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const result = document.getElementById('result');
  const genericError = document.body.dataset.error;

  function body(form) {
    const data = {};
    for (const el of form.elements) {
      if (!el.name) continue;
      if (el.type === 'checkbox' && el.dataset.bool) {
        data[el.name] = el.checked;
      } else if (el.type === 'checkbox') {
        if (!Array.isArray(data[el.name])) data[el.name] = [];
        if (el.checked) data[el.name].push(el.value);
      } else if (el.value !== '') {
        data[el.name] = el.value;
      }
    }
    return data;
  }

  async function send(form, event) {
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    try {
      const response = await fetch(form.dataset.api, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': token },
        body: JSON.stringify(body(form)),
        credentials: 'same-origin',
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) {
        result.textContent = answer.error || genericError;
        result.classList.add('alert');
        return;
      }
      result.classList.remove('alert');
      if (form.dataset.go && answer.id) {
        window.location.assign(form.dataset.go.replace('{id}', String(answer.id)));
      } else if (form.dataset.reload) {
        window.location.reload();
      } else {
        result.textContent = form.dataset.done || '';
        if (form.dataset.reset) form.reset();
      }
    } catch (err) {
      result.textContent = genericError;
      result.classList.add('alert');
    } finally {
      if (button) button.disabled = false;
    }
  }

  for (const form of document.querySelectorAll('form[data-api]')) {
    form.addEventListener('submit', (event) => send(form, event));
  }
})();
